"""`distilleval export RUN --format jsonl|parquet --out FILE`: every item's result, streamed from the item store;
and the commands that read per-item rows print the same whether a run keeps them in summary.json (version 1)
or in SQLite beside it (version 2)."""

from __future__ import annotations

import json
import sys

import pytest

from distilleval.cli.main import main
from distilleval.results.summary_json import ItemResult, read_summary
from tests.ticket_routing_fixture import SUMMARY_PATH, load_fixture, set_scores, write_variant


def test_jsonl_export_round_trips_to_the_items_the_old_summary_held(tmp_path, capsys):
    run = write_variant(tmp_path)
    assert "items" not in json.loads((run / "summary.json").read_text())
    out = tmp_path / "items.jsonl"
    assert main(["export", str(run), "--format", "jsonl", "--out", str(out)]) == 0
    exported = [ItemResult.model_validate_json(line) for line in out.read_text().splitlines()]
    assert exported == load_fixture().items
    assert capsys.readouterr().out.strip() == f"300 items of {read_summary(run).run_id} -> {out} (jsonl)"


def test_a_version_1_summary_exports_the_same(tmp_path):
    out = tmp_path / "old.jsonl"
    assert main(["export", str(SUMMARY_PATH), "--out", str(out)]) == 0
    assert [ItemResult.model_validate_json(line) for line in out.read_text().splitlines()] == load_fixture().items


def test_parquet_export_is_readable_by_pyarrow(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    run = write_variant(tmp_path)
    out = tmp_path / "items.parquet"
    assert main(["export", str(run), "--format", "parquet", "--out", str(out)]) == 0
    table = pq.read_table(out)
    rows = table.to_pylist()
    items = load_fixture().items
    assert table.num_rows == len(items) == 300
    for row, item in zip(rows, items):
        assert row["id"] == item.id and row["gold"] == item.gold and row["input_preview"] == item.input_preview
        assert dict(row["scores"]) == item.scores and dict(row["outputs"]) == item.outputs
        assert dict(row["errors"]) == item.errors and dict(row["latency_ms"]) == item.latency_ms
        assert dict(row["reasons"]) == item.reasons and row["reached_max_tokens"] == item.reached_max_tokens


def test_export_of_a_missing_run_is_one_line_and_exit_2(tmp_path, capsys):
    out = tmp_path / "x.jsonl"
    assert main(["export", str(tmp_path / "nowhere"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "summary not found" in err and "\n" not in err
    assert not out.exists()


def test_parquet_without_pyarrow_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    out = tmp_path / "x.parquet"
    assert main(["export", str(write_variant(tmp_path)), "--format", "parquet", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "pip install 'distilleval[parquet]'" in err and "\n" not in err
    assert not out.exists()


def _outputs(argv: list[str], capsys) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().out


@pytest.mark.parametrize("command", [
    ["report", "{run}", "--format", "md"],
    ["report", "{run}", "--format", "html"],
    ["gate", "{run}"],
    ["gate", "{run}", "--baseline", "{other}"],
    ["compare", "{other}", "{run}"],
    ["failures", "{run}", "--out", "-"],
])
def test_commands_print_the_same_from_a_version_1_summary_and_from_the_item_store(tmp_path, capsys, command):
    # Both summaries name the fixture's spec and pricing by absolute path; only where the rows are differs.
    stored = write_variant(tmp_path, lambda s: set_scores(s, "student", {"t0001", "t0002", "t0003"}), name="v2")
    other = write_variant(tmp_path, name="other")
    old = tmp_path / "v1"
    old.mkdir()
    summary = read_summary(stored)
    items = load_fixture().items
    for item in items:
        item.scores["student"] = 0.0 if item.id in {"t0001", "t0002", "t0003"} else 1.0
    raw = json.loads((stored / "summary.json").read_text())
    raw.update(schema_version=1, item_store=None, items=[item.model_dump() for item in items])
    (old / "summary.json").write_text(json.dumps(raw))
    assert read_summary(old).items and not read_summary(stored).items and summary.item_store is not None
    runs = {}
    for name, run in (("v1", old), ("v2", stored)):
        argv = [part.format(run=run, other=other) for part in command]
        code, text = _outputs(argv, capsys)
        runs[name] = (code, text.replace(str(run), "RUN"))
    assert runs["v1"] == runs["v2"]
    assert runs["v2"][1]

