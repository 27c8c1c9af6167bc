"""SVG charts: the cost chart's legend says only what the cost tables say."""

from __future__ import annotations

import dataclasses

from distilleval.report import compute_figures, load_run
from distilleval.report.charts import cost_chart
from tests.ticket_routing_fixture import SUMMARY_PATH


def test_cost_legend_names_the_one_time_cost_when_it_was_computed():
    figures = compute_figures(load_run(SUMMARY_PATH))
    assert figures.one_time is not None
    assert "+ $6.66 one-time" in cost_chart(figures)  # training priced on the 1,800 rows left after the held-out 10%


def test_cost_legend_never_claims_a_zero_one_time_cost_it_did_not_compute():
    # The break-even table says "not computed"; the chart used to add "+ $0 one-time".
    figures = dataclasses.replace(compute_figures(load_run(SUMMARY_PATH)), one_time=None)
    svg = cost_chart(figures)
    assert "one-time" in svg and "+ $0 one-time" not in svg
    assert "(one-time cost not computed)" in svg and "incl. one-time cost" not in svg


def test_a_cheaper_teacher_configuration_is_drawn_and_break_even_marked_against_it(tmp_path):
    from tests.ticket_routing_fixture import write_variant

    def cached_teacher(summary):
        teacher = summary.models["teacher"]
        teacher.cached_input_tokens_total = 0.9 * teacher.input_tokens.mean * teacher.input_tokens.n

    figures = compute_figures(load_run(write_variant(tmp_path, cached_teacher)))
    svg = cost_chart(figures)
    assert 'data-role="teacher-cheapest"' in svg and "teacher, cheapest: prompt caching (90% of input cached" in svg
    # The marker sits where the student's first month meets the cheapest teacher's.
    cheapest = figures.cheapest_teacher
    crossing = figures.one_time.total_usd / (figures.option_saving_per_request_usd(cheapest) * figures.days_per_month)
    assert f"at {crossing:,.0f}/day vs the cheapest teacher" in svg
    assert 'data-role="teacher-cheapest"' not in cost_chart(compute_figures(load_run(SUMMARY_PATH)))
