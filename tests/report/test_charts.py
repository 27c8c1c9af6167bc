"""SVG charts: the cost chart's legend says only what the cost tables say."""

from __future__ import annotations

import dataclasses

from distilleval.report import compute_figures, load_run
from distilleval.report.charts import cost_chart
from tests.ticket_routing_fixture import SUMMARY_PATH


def test_cost_legend_names_the_one_time_cost_when_it_was_computed():
    figures = compute_figures(load_run(SUMMARY_PATH))
    assert figures.one_time is not None
    assert "+ $6.67 one-time" in cost_chart(figures)


def test_cost_legend_never_claims_a_zero_one_time_cost_it_did_not_compute():
    # The break-even table says "not computed"; the chart used to add "+ $0 one-time".
    figures = dataclasses.replace(compute_figures(load_run(SUMMARY_PATH)), one_time=None)
    svg = cost_chart(figures)
    assert "one-time" in svg and "+ $0 one-time" not in svg
    assert "(one-time cost not computed)" in svg and "incl. one-time cost" not in svg
