"""``write_summary`` hands back the summary as ``read_summary`` reads the file it wrote."""

from __future__ import annotations

from distilleval.results.item_results import item_scores
from distilleval.results.summary_json import read_summary, write_summary
from tests.ticket_routing_fixture import load_fixture


def test_written_summary_equals_the_one_read_back(tmp_path):
    summary = load_fixture()
    first = write_summary(summary, tmp_path / "a" / "summary.json")
    assert first == read_summary(tmp_path / "a")
    assert first.items == [] and first.item_store is not None
    # Written again elsewhere from the handed-back copy (rows in the store), it still reads back the same.
    second = write_summary(first, tmp_path / "b" / "summary.json")
    assert second == read_summary(tmp_path / "b")
    model = next(iter(summary.models))
    assert item_scores(second, model) == item_scores(summary, model)
