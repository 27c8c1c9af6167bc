"""`distilleval failures RUN`: JSONL of the items to relabel, in the data file's columns, and a line per class."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from distilleval.cli.main import main
from distilleval.results.item_results import iter_items
from distilleval.results.summary_json import read_summary
from distilleval.spec.data import load_items
from distilleval.spec.task_spec import load_spec
from tests.ticket_routing_fixture import FIXTURE_DIR, SUMMARY_PATH, write_variant

REPO = Path(__file__).resolve().parents[2]


def test_failures_are_written_in_the_data_files_columns(tmp_path, capsys):
    run = write_variant(tmp_path)
    assert main(["failures", str(run)]) == 0
    lines = (run / "failures.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 24
    first = records[0]
    # The spec's columns (id, message, label) so the file can be checked and added to a data set.
    assert list(first)[:3] == ["id", "message", "label"]
    data = {item.id: item for item in load_items(load_spec(FIXTURE_DIR / "spec.yaml"))}
    assert first["message"] == data[first["id"]].inputs["text"]  # the full input, not the 200-character preview
    assert first["label"] == data[first["id"]].gold and first["distilleval"]["expected_from"] == "gold"
    assert first["distilleval"]["answer"] != first["label"] and "teacher" in first["distilleval"]
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"24 failures of 300 items checked (student against gold) -> {run / 'failures.jsonl'}"
    assert out[1] == "  account: 6 failures of 54 (11%); most often answered other (2)"
    assert len(out) == 1 + 6  # one line per class with failures


def test_failures_keep_every_column_of_the_data_row(tmp_path, capsys):
    # A data file with columns the spec does not name (split, source, a JSON note): relabelling
    # works on the whole row, so none of them may be dropped.
    folder = tmp_path / "spec"
    shutil.copytree(FIXTURE_DIR, folder)
    rows = [json.loads(line) for line in (FIXTURE_DIR / "data.jsonl").read_text().splitlines()]
    for number, row in enumerate(rows):
        row.update(source=f"crm-{number % 3}", note={"reviewed": number % 2 == 0})
    (folder / "data.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    run = write_variant(tmp_path)
    assert main(["failures", str(run), "--spec", str(folder / "spec.yaml"), "--out", "-"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_id = {row["id"]: row for row in rows}
    assert len(records) == 24
    for record in records:
        assert list(record) == ["id", "message", "label", "split", "source", "note", "distilleval"]
        row = by_id[record["id"]]
        assert {k: v for k, v in record.items() if k != "distilleval"} == row  # gold failures: label is the gold
        assert record["split"] == "eval"


def test_stdout_output_keeps_the_summary_on_stderr(capsys):
    assert main(["failures", str(SUMMARY_PATH), "--against", "teacher", "--out", "-"]) == 0
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.out.splitlines()]
    assert len(records) == 3 and {r["distilleval"]["expected_from"] for r in records} == {"teacher"}
    assert captured.err.startswith("3 failures of 299 items checked (student against teacher)")


def test_offline_run_lists_the_best_baselines_failures(tmp_path, capsys):
    runs = tmp_path / "runs"
    spec = REPO / "specs" / "ticket_routing" / "spec.yaml"
    assert main(["run", str(spec), "--offline", "--runs-dir", str(runs), "--limit", "40"]) == 0
    (run_dir,) = list(runs.iterdir())
    capsys.readouterr()
    assert main(["failures", str(run_dir), "--out", str(tmp_path / "f.jsonl")]) == 0
    captured = capsys.readouterr()
    summary = json.loads((run_dir / "summary.json").read_text())
    best = max((m["metric"]["value"], k) for k, m in summary["models"].items() if m["role"] == "baseline")
    wrong = sum(1 for item in iter_items(read_summary(run_dir)) if item.scores[best[1]] < 1.0)
    assert f"listing the failures of {best[1]}, the best baseline" in captured.err
    assert captured.out.startswith(f"{wrong} failures of 40 items checked ({best[1]} against gold)")
    assert len((tmp_path / "f.jsonl").read_text().splitlines()) == wrong


def test_unknown_model_exits_2_with_one_line(capsys):
    assert main(["failures", str(SUMMARY_PATH), "--model", "bert", "--out", "-"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "model 'bert' is not in this run" in err


def test_an_unwritable_out_is_one_line_with_exit_2(tmp_path, capsys):
    run = write_variant(tmp_path)
    (tmp_path / "taken").write_text("a file where a folder should be")
    out = tmp_path / "taken" / "failures.jsonl"
    assert main(["failures", str(run), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"distilleval failures: error: {out}: cannot write the failures file (") and "--out -" in err
    assert "\n" not in err and "Traceback" not in err
