"""The report of a judge-scored run: raw and corrected accuracy side by side, the judge's cost on
its own row and in the eval's total, and a verdict that refuses an untrusted judge."""

from __future__ import annotations

import json

from distilleval.cli.main import main
from distilleval.costs.cost_model import format_usd
from distilleval.testing.judge_double import JudgeDouble
from distilleval.testing.openai_server import ModelScript, OpenAIServer
from tests.pipeline.test_judging import is_right, student, teacher, write_judge_spec


def _report(tmp_path, capsys, **spec_options):
    double = JudgeDouble(truth=is_right, sensitivity=0.9, specificity=0.85, seed=9)
    scripts = {"teacher-m": ModelScript(answer=teacher), "student-m": ModelScript(answer=student),
               "judge-m": ModelScript(answer=double)}
    with OpenAIServer(scripts) as server:
        spec = write_judge_spec(tmp_path / "task", server.base_url, **spec_options)
        assert main(["eval", str(spec), "--runs-dir", str(tmp_path / "runs"), "--cache", str(tmp_path / "c.sqlite")]) == 0
    [run_dir] = (tmp_path / "runs").iterdir()
    capsys.readouterr()
    assert main(["report", str(run_dir)]) == 0
    return json.loads((run_dir / "summary.json").read_text()), capsys.readouterr().out


def test_report_shows_raw_and_corrected_and_the_judge_cost_in_the_total(tmp_path, capsys):
    summary, text = _report(tmp_path, capsys, rows=100)
    judge = summary["judge"]
    assert "## Judge-scored accuracy: raw and corrected" in text
    student_row = next(line for line in text.splitlines() if line.startswith("| student |"))
    raw, corrected = judge["figures"]["student"]["raw"], judge["figures"]["student"]["corrected"]
    assert f"{raw['value']:.1%} [{raw['ci_low']:.1%}, {raw['ci_high']:.1%}]" in student_row
    assert f"{corrected['value']:.1%} [{corrected['ci_low']:.1%}, {corrected['ci_high']:.1%}]" in student_row
    judge_row = next(line for line in text.splitlines() if line.startswith("| judge openai/judge-m |"))
    assert format_usd(judge["cost_usd"]) in judge_row
    total_row = next(line for line in text.splitlines() if line.startswith("| eval total (models + judge) |"))
    models_spent = sum(m["spent_usd"] for m in summary["models"].values())
    assert format_usd(models_spent + judge["spent_usd"]) in total_row


def test_the_verdict_refuses_an_untrusted_judge(tmp_path, capsys):
    _, text = _report(tmp_path, capsys, alignment=None)
    assert "the judge is not trusted: no alignment set" in text
    assert "## Verdict: Not enough evidence to decide" in text
