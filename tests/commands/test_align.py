"""`distilleval align`: the judge double's known verdicts on the alignment set, measured exactly."""

from __future__ import annotations

import json

from distilleval.cli.main import main
from distilleval.pipeline.judging import ALIGNMENT_FILE
from distilleval.scoring.judge import judge_messages
from distilleval.testing.judge_double import JudgeDouble
from distilleval.testing.openai_server import ModelScript, OpenAIServer, prompt_text
from tests.pipeline.test_judging import CRITERIA, is_right, write_judge_spec


def _double_counts(double, rows):
    true_pass = true_fail = 0
    for i in range(rows):
        right = bool(i % 2)
        answer = f"right: order {100 + i} ships tomorrow" if right else f"wrong: order {100 + i} unknown"
        messages = judge_messages(CRITERIA, {"text": f"where is order #{100 + i} please"}, answer, reference=None,
                                  scale="pass_fail")
        passed = double(prompt_text(list(messages))).endswith("PASS")
        true_pass += right and passed
        true_fail += (not right) and not passed
    return true_pass, true_fail


def test_align_measures_the_judge_and_stores_it(tmp_path, capsys):
    double = JudgeDouble(truth=is_right, sensitivity=0.9, specificity=0.8, seed=5)
    with OpenAIServer({"judge-m": ModelScript(answer=double)}) as server:
        spec = write_judge_spec(tmp_path / "task", server.base_url, rows=120)
        status = main(["align", str(spec), "--out", str(tmp_path / "align"), "--cache", str(tmp_path / "c.sqlite")])
        assert len(server.requests_for("judge-m", "ok")) == 120
    stored = json.loads((tmp_path / "align" / ALIGNMENT_FILE).read_text())
    true_pass, true_fail = _double_counts(double, 120)
    assert (stored["true_pass"], stored["true_fail"], stored["positives"], stored["negatives"]) == (true_pass, true_fail, 60, 60)
    assert stored["sensitivity"]["value"] == true_pass / 60
    assert stored["agreement"]["value"] == (true_pass + true_fail) / 120
    assert status == 0 and "sensitivity" in capsys.readouterr().out


def test_align_fails_naming_the_requirement_not_met(tmp_path, capsys):
    double = JudgeDouble(truth=is_right, sensitivity=0.9, specificity=0.8)
    with OpenAIServer({"judge-m": ModelScript(answer=double)}) as server:
        spec = write_judge_spec(tmp_path / "task", server.base_url, rows=20)
        assert main(["align", str(spec), "--out", str(tmp_path / "align"), "--no-cache"]) == 1
    assert "alignment rows 20 < min_rows 30" in capsys.readouterr().out
