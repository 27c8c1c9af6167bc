"""The ticket-routing run fixture (tests/fixtures/ticket_routing) and variants of it for tests.

Variants are written to a temporary folder with absolute paths to the fixture's spec and
pricing table, so they load exactly like the original run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from distilleval.results.summary_json import Summary, read_summary, write_summary

FIXTURE_DIR = Path(__file__).resolve().parent / "fixtures" / "ticket_routing"
SUMMARY_PATH = FIXTURE_DIR / "summary.json"


def load_fixture() -> Summary:
    """The fixture summary, with spec and pricing paths made absolute."""
    summary = read_summary(SUMMARY_PATH)
    summary.spec.path = str(FIXTURE_DIR / summary.spec.path)
    summary.pricing.path = str(FIXTURE_DIR / summary.pricing.path)
    return summary


def write_variant(folder: Path, change: Callable[[Summary], None] | None = None, *, name: str = "run") -> Path:
    """Write the fixture (changed in place by ``change``) as ``folder/name/summary.json``; return the run folder."""
    summary = load_fixture()
    if change is not None:
        change(summary)
    run_dir = folder / name
    write_summary(summary, run_dir / "summary.json")
    return run_dir


def set_scores(summary: Summary, model: str, wrong_ids: set[str]) -> None:
    """Make ``model`` wrong on ``wrong_ids`` and right elsewhere; drop stale stored comparisons."""
    for item in summary.items:
        item.scores[model] = 0.0 if item.id in wrong_ids else 1.0
    right = sum(item.scores[model] for item in summary.items)
    metric = summary.models[model].metric
    metric.value = right / len(summary.items)
    metric.ci_low = metric.ci_high = None
    summary.comparisons = []
