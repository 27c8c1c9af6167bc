"""Report figures: prices that were already old when a run used them are flagged in the notes."""

from __future__ import annotations

from distilleval.report.figures import compute_figures
from distilleval.report.sources import load_run
from tests.ticket_routing_fixture import SUMMARY_PATH


def _notes(created_at: str, **options) -> list[str]:
    inputs = load_run(SUMMARY_PATH)
    inputs.summary.created_at = created_at
    return compute_figures(inputs, **options).notes


def test_prices_read_long_before_the_run_are_flagged():
    # The fixture's table is as of 2026-02-01: 303 days before 2026-12-01.
    (note,) = [n for n in _notes("2026-12-01T09:00:00Z") if n.startswith("stale prices")]
    assert note == (
        "stale prices, read over 180 days before this run on 2026-12-01: Claude Opus 4.6 (as of 2026-02-01), "
        "Qwen3-8B LoRA (Tinker) (as of 2026-02-01); check current prices"
    )
    assert not [n for n in _notes("2026-12-01T09:00:00Z", max_price_age_days=303) if n.startswith("stale")]


def test_fresh_prices_are_not_flagged():
    assert not [n for n in _notes("2026-07-31T23:59:00Z") if n.startswith("stale")]  # 180 days: not over


def test_estimated_input_tokens_stand_beside_the_measured_ones():
    # Issue 26 item 2: the report shows what `estimate` counts from the spec's prompts (the run's eval
    # items, each role with its own offline counter) beside what the provider measured.
    from distilleval.backends.tinker.token_counts import spec_token_counters
    from distilleval.costs.estimates import input_token_counts
    from distilleval.spec.data import load_items, split_items

    inputs = load_run(SUMMARY_PATH)
    figures = compute_figures(inputs)
    spec = inputs.spec
    eval_items = split_items(load_items(spec), "eval")
    by_label = {e.label: e for e in figures.token_estimates}
    assert set(by_label) == {figures.teacher.label, figures.student.label}
    for row in (figures.teacher, figures.student):
        role = row.result.role
        counts = input_token_counts(spec, role, eval_items[:row.result.n], counter=spec_token_counters(spec).get(role))
        estimate = by_label[row.label]
        assert estimate.items == row.result.n == len(counts)
        assert estimate.estimated_input_mean == sum(counts) / len(counts)
        assert estimate.measured_input_mean == row.result.input_tokens.mean
        assert estimate.error == (estimate.estimated_input_mean - estimate.measured_input_mean) / estimate.measured_input_mean
