"""`distilleval compare`: item-paired comparison of two runs, per model."""

from __future__ import annotations

import json

from distilleval.cli.main import main
from tests.ticket_routing_fixture import SUMMARY_PATH, set_scores, write_variant


def test_compare_flags_only_the_model_that_really_dropped(capsys, tmp_path):
    def change(summary):
        student_wrong = {item.id for item in summary.items if item.scores["student"] == 0.0}
        set_scores(summary, "student", student_wrong | {item.id for item in summary.items[:25]})
        teacher_wrong = {item.id for item in summary.items if item.scores["teacher"] == 0.0}
        # Two teacher items flip: a visible change that is noise (p = 0.5).
        set_scores(summary, "teacher", teacher_wrong | {summary.items[200].id, summary.items[201].id})

    run_b = write_variant(tmp_path, change, name="b")
    assert main(["compare", str(SUMMARY_PATH), str(run_b), "--format", "json"]) == 0
    rows = {row["model"]: row for row in json.loads(capsys.readouterr().out)["models"]}
    assert rows["student"]["outcome"] == "significant drop"
    assert rows["student"]["lost"] >= 20 and rows["student"]["gained"] == 0
    assert rows["teacher"]["outcome"] == "no significant change"
    assert rows["tfidf_logreg"]["difference"] == 0.0


def test_compare_markdown_names_the_test(capsys):
    assert main(["compare", str(SUMMARY_PATH), str(SUMMARY_PATH)]) == 0
    out = capsys.readouterr().out
    assert "McNemar exact (two-sided)" in out and "| 300 | no significant change |" in out


def test_compare_runs_of_different_specs_exits_2(capsys, tmp_path):
    def other(summary):
        summary.spec_name = "pii_detection"

    assert main(["compare", str(SUMMARY_PATH), str(write_variant(tmp_path, other))]) == 2
    assert "different specs" in capsys.readouterr().err
