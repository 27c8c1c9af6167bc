"""`distilleval curve`: the learning curve printed, written into a run, and shown in its reports."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from distilleval.cli.main import main
from tests.ticket_routing_fixture import FIXTURE_DIR

SPEC = str(Path(__file__).resolve().parents[2] / "specs" / "ticket_routing" / "spec.yaml")


def test_curve_into_a_run_rerenders_its_reports_with_the_curve(tmp_path, capsys):
    run_dir = tmp_path / "run"
    shutil.copytree(FIXTURE_DIR, run_dir)
    assert "Learning curve" not in (run_dir / "report.md").read_text(encoding="utf-8")
    code = main(["curve", SPEC, "--run", str(run_dir), "--sizes", "100", "--seeds", "2", "--format", "json"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert [p["size"] for p in printed["points"]] == [100, 352, 100, 352]
    assert {c["size"] for c in printed["costs"]} == {100, 352}
    assert json.loads((run_dir / "learning_curve.json").read_text()) == printed
    markdown = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "## Learning curve: accuracy against training items" in markdown
    assert "Projected cost of labelling and training a Tinker student per size" in markdown
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert 'id="chart-learning-curve"' in html and html.count('class="curve"') == 2


def test_markdown_table_on_stdout(capsys):
    assert main(["curve", SPEC, "--sizes", "100", "--seeds", "1"]) == 0
    out = capsys.readouterr().out
    assert "| tfidf_logreg | 100 |" in out and "| wordllama_logreg | 352 |" in out


def test_bad_sizes_margin_and_run_exit_2(tmp_path, capsys):
    assert main(["curve", SPEC, "--sizes", "100,abc"]) == 2
    assert "--sizes" in capsys.readouterr().err
    assert main(["curve", SPEC, "--margin", "3"]) == 2
    assert "--margin" in capsys.readouterr().err
    assert main(["curve", SPEC, "--run", str(tmp_path)]) == 2
    assert "no summary.json" in capsys.readouterr().err
    assert not (tmp_path / "learning_curve.json").exists()
