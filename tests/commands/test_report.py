"""`distilleval report`: every format from the fixture run, written atomically or to stdout."""

from __future__ import annotations

import csv
import io
import json

import pytest

from distilleval.cli.main import main
from distilleval.report.data_formats import latex_escape
from tests.ticket_routing_fixture import FIXTURE_DIR, SUMMARY_PATH


def test_markdown_to_stdout_is_the_golden_report(capsys):
    assert main(["report", str(FIXTURE_DIR)]) == 0
    assert capsys.readouterr().out == (FIXTURE_DIR / "report.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("fmt", ["md", "html", "csv", "json", "marp", "latex"])
def test_each_format_writes_its_file(tmp_path, fmt):
    out = tmp_path / "nested" / f"report.{fmt}"
    assert main(["report", str(SUMMARY_PATH), "--format", fmt, "--out", str(out)]) == 0
    assert out.stat().st_size > 1000
    assert [p.name for p in out.parent.iterdir()] == [out.name]


def test_json_and_csv_carry_the_same_figures(capsys):
    main(["report", str(SUMMARY_PATH), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"]["decision"] == "fine-tune"
    per_class = next(t for t in report["tables"] if t["key"] == "per_class")
    assert [row[0]["text"] for row in per_class["rows"]][:2] == ["other", "technical"]
    assert report["verdict"]["notes"][0].startswith("Worst classes of Student")
    cost = next(t for t in report["tables"] if t["key"] == "cost_per_request")
    assert cost["rows"][0][4] == {"text": "$0.0033", "value": pytest.approx(0.003305)}
    main(["report", str(SUMMARY_PATH), "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    cell = next(r for r in rows if r["table"] == "cost_at_volume" and r["row"] == "1,000,000" and r["column"] == "Teacher/month")
    assert (cell["text"], float(cell["value"])) == ("$99,150", pytest.approx(99_150))
    # Per-class results travel in the data formats too: 'other' is the student's worst class (F1 0.906).
    recall = next(r for r in rows if r["table"] == "per_class" and r["row"] == "other" and r["column"] == "Recall")
    assert (recall["text"], float(recall["value"])) == ("92.3%", pytest.approx(48 / 52))
    assert any(r["table"] == "verdict" and r["row"] == "note" and "Worst classes" in r["text"] for r in rows)


def test_marp_deck_has_one_table_per_slide(capsys):
    main(["report", str(SUMMARY_PATH), "--format", "marp"])
    deck = capsys.readouterr().out
    assert deck.startswith("---\nmarp: true")
    slides = deck.split("\n\n---\n\n")
    assert "\n---\n\n# ticket_routing: teacher vs fine-tuned student\n" in slides[0]  # after the front matter
    assert slides[1].startswith("# Verdict: ")
    assert all(slide.count("\n|---") <= 1 for slide in slides)
    # Every one of the eleven tables is on a slide (tests/report/test_marp.py checks that each fits).
    assert sum(slide.count("\n|---") for slide in slides) >= 11


def test_latex_escapes_special_characters(capsys):
    main(["report", str(SUMMARY_PATH), "--format", "latex"])
    tex = capsys.readouterr().out
    assert r"\$0.0033" in tex and r"92.7\%" in tex and r"ticket\_routing" in tex
    assert tex.count(r"\begin{table}") == tex.count(r"\end{table}") == 11


def test_missing_run_exits_2(capsys, tmp_path):
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "summary not found" in capsys.readouterr().err


def test_payback_horizon_changes_the_verdict(capsys):
    # Break-even at 1,000,000/day is 3 minutes; a horizon shorter than that turns the verdict.
    main(["report", str(SUMMARY_PATH), "--format", "json", "--payback-days", "0.001"])
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"]["decision"] == "don't fine-tune"
    assert next(r for r in report["verdict"]["reasons"] if r["rule"] == "break-even")["status"] == "fail"


def test_unwritable_out_exits_2(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["report", str(SUMMARY_PATH), "--out", str(blocker / "report.md")]) == 2
    assert "cannot write" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["md", "html", "json", "csv", "marp", "latex"])
def test_a_report_names_the_spec_given_with_spec(tmp_path, capsys, fmt):
    """`report RUN --spec other.yaml` says which spec its figures came from, in every format."""
    other = tmp_path / "other.yaml"
    text = (FIXTURE_DIR / "spec.yaml").read_text()
    other.write_text(text.replace("data.jsonl", str(FIXTURE_DIR / "data.jsonl")).replace("rubric.md", str(FIXTURE_DIR / "rubric.md"))
                     .replace("pricing-2026-02.yaml", str(FIXTURE_DIR / "pricing-2026-02.yaml")))
    assert main(["report", str(FIXTURE_DIR), "--spec", str(other), "--format", fmt]) == 0
    out = capsys.readouterr().out
    if fmt == "json":
        spec = json.loads(out)["spec"]
        assert spec["path"] == str(other) and spec["given"] is True and spec["run_spec_path"] == "spec.yaml"
    else:
        shown = latex_escape(str(other)) if fmt == "latex" else str(other)
        assert shown in out and "given with --spec instead of the run's own" in out
    assert main(["report", str(FIXTURE_DIR), "--format", fmt]) == 0
    own = capsys.readouterr().out
    assert str(other) not in own and "given with --spec" not in own
