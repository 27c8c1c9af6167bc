"""A judge-scored gate refuses to judge when the alignment set is missing or below the spec's
minimum, naming the requirement, and judges the corrected figures when the judge is trusted."""

from __future__ import annotations

import pytest

from distilleval.cli.main import main
from distilleval.testing.judge_double import JudgeDouble
from distilleval.testing.openai_server import ModelScript, OpenAIServer
from tests.pipeline.test_judging import is_right, student, teacher, write_judge_spec


def _gate_output(tmp_path, capsys, **spec_options):
    double = JudgeDouble(truth=is_right, sensitivity=0.95, specificity=0.95, seed=2)
    scripts = {"teacher-m": ModelScript(answer=teacher), "student-m": ModelScript(answer=student),
               "judge-m": ModelScript(answer=double)}
    with OpenAIServer(scripts) as server:
        spec = write_judge_spec(tmp_path / "task", server.base_url, **spec_options)
        assert main(["eval", str(spec), "--runs-dir", str(tmp_path / "runs"),
                     "--cache", str(tmp_path / "cache.sqlite")]) == 0
    [run_dir] = (tmp_path / "runs").iterdir()
    capsys.readouterr()
    status = main(["gate", str(run_dir)])
    return status, capsys.readouterr().out


@pytest.mark.parametrize(("alignment", "rows", "requirement"), [
    (None, 40, "no alignment set"),
    ("min_rows: 50", 40, "alignment rows 40 < min_rows 50"),
    ("min_sensitivity_lower: 0.99", 40, "sensitivity lower 95% bound"),
])
def test_the_gate_refuses_an_untrusted_judge_naming_the_requirement(tmp_path, capsys, alignment, rows, requirement):
    status, out = _gate_output(tmp_path, capsys, alignment=alignment, rows=rows)
    assert status == 1
    lines = [line for line in out.splitlines() if "student_min" in line or "non_inferiority" in line]
    assert len(lines) == 2 and all("FAIL" in line.upper() and requirement in line for line in lines), out


def test_a_trusted_judge_gates_the_corrected_figures(tmp_path, capsys):
    status, out = _gate_output(tmp_path, capsys, alignment="min_rows: 30", rows=200)
    # The student is right on 3 answers in 4, the teacher on 9 in 10: above the 0.5 floor, 0.15 behind.
    student_line = next(line for line in out.splitlines() if "student_min" in line)
    assert "corrected accuracy" in student_line and "judge pass rate" in student_line
    assert "PASS" in student_line.upper()
    ni_line = next(line for line in out.splitlines() if "non_inferiority" in line)
    assert "student - teacher corrected" in ni_line and "FAIL" in ni_line.upper()
    assert "judge" in out and status == 1


def worse_student(prompt: str) -> str:
    """Right on one item in four (the good student is right on three in four)."""
    i = int(prompt.rsplit("#", 1)[1].split()[0])
    return f"right: order {i} ships tomorrow" if i % 4 == 0 else f"wrong: order {i} lost"


JUDGE_DOUBLE = dict(sensitivity=0.95, specificity=0.95, seed=2)


def judged_runs(tmp_path, *, student_b=student, judge_b="openai/judge-m", rows_b=200):
    """Two judge-scored runs of one spec: A with the good student, B with ``student_b``, B's judge and
    alignment rows as given (the same judge double answers for either judge name)."""
    double = JudgeDouble(truth=is_right, **JUDGE_DOUBLE)
    state = {"student": student}
    scripts = {"teacher-m": ModelScript(answer=teacher),
               "student-m": ModelScript(answer=lambda prompt: state["student"](prompt)),
               "judge-m": ModelScript(answer=double), "judge-n": ModelScript(answer=double)}
    runs = []
    with OpenAIServer(scripts) as server:
        for name, answer, judge, rows in (("a", student, "openai/judge-m", 200), ("b", student_b, judge_b, rows_b)):
            state["student"] = answer
            spec = write_judge_spec(tmp_path / f"task-{name}", server.base_url, judge_model=judge, rows=rows,
                                    alignment="min_rows: 30")
            main(["eval", str(spec), "--runs-dir", str(tmp_path / f"runs-{name}"), "--no-cache"])
            [run_dir] = (tmp_path / f"runs-{name}").iterdir()
            runs.append(run_dir)
    return runs


def expected_student_difference(run_a) -> tuple[float, float]:
    """(raw, corrected) run B − run A of the student: the double's own verdicts on each run's answers,
    divided by the Youden J the alignment set measured."""
    import json

    from distilleval.scoring.judge import judge_messages
    from distilleval.testing.openai_server import prompt_text
    from tests.pipeline.test_judging import CRITERIA, N_ITEMS

    double = JudgeDouble(truth=is_right, **JUDGE_DOUBLE)

    def passes(answer_of) -> list[bool]:
        verdicts = []
        for i in range(N_ITEMS):
            inputs = {"text": f"where is order #{i} please"}
            messages = judge_messages(CRITERIA, inputs, answer_of(inputs["text"]), reference=None, scale="pass_fail")
            verdicts.append(double(prompt_text(list(messages))).endswith("PASS"))
        return verdicts

    raw = (sum(passes(worse_student)) - sum(passes(student))) / N_ITEMS
    alignment = json.loads((run_a / "summary.json").read_text())["judge"]["alignment"]
    youden = alignment["true_pass"] / alignment["positives"] + alignment["true_fail"] / alignment["negatives"] - 1
    return raw, raw / youden


def _paired_lines(out: str) -> dict[str, str]:
    return {key: next(line for line in out.splitlines() if f"paired_drop[{key}]" in line)
            for key in ("teacher", "student")}


def test_a_paired_drop_of_judge_scored_runs_is_judged_on_the_corrected_difference(tmp_path, capsys):
    run_a, run_b = judged_runs(tmp_path, student_b=worse_student)
    raw, corrected = expected_student_difference(run_a)
    capsys.readouterr()
    assert main(["gate", str(run_b), "--baseline", str(run_a)]) == 1
    lines = _paired_lines(capsys.readouterr().out)
    assert "FAIL" in lines["student"].upper() and "significant drop" in lines["student"]
    assert f"({corrected:+.4f}, " in lines["student"] and f"({raw:+.4f})" in lines["student"]
    assert "raw judge pass rates" in lines["student"] and "Youden J" in lines["student"]
    # The teacher answered alike in both runs: no drop, corrected difference 0.
    assert "PASS" in lines["teacher"].upper() and "no significant drop" in lines["teacher"]
    assert "(+0.0000, " in lines["teacher"]


@pytest.mark.parametrize(("change", "reason"), [
    ({"judge_b": "openai/judge-n"}, "judge openai/judge-m vs openai/judge-n"),
    ({"rows_b": 120}, "alignment sets differ"),
])
def test_runs_of_different_judges_or_alignment_sets_are_refused_not_compared_raw(tmp_path, capsys, change, reason):
    run_a, run_b = judged_runs(tmp_path, **change)  # the same student in both: raw rates would show no drop
    capsys.readouterr()
    assert main(["gate", str(run_b), "--baseline", str(run_a)]) == 1
    lines = _paired_lines(capsys.readouterr().out)
    for line in lines.values():
        assert "FAIL" in line.upper() and "not comparable on corrected figures" in line and reason in line, line


def test_two_measurements_of_one_judge_give_the_union_of_their_intervals():
    from types import SimpleNamespace

    from distilleval.gate.judged import corrected_paired
    from distilleval.results.judge_correction import JudgeRates, corrected_difference

    first = SimpleNamespace(true_pass=45, positives=50, true_fail=40, negatives=50)  # J = 0.9 + 0.8 - 1 = 0.7
    second = SimpleNamespace(true_pass=47, positives=50, true_fail=42, negatives=50)  # J = 0.94 + 0.84 - 1 = 0.78
    # 100 items: 20 passed only in run A, 10 only in run B: raw difference -0.1.
    a = [1.0] * 60 + [0.0] * 40
    b = [1.0] * 40 + [0.0] * 20 + [1.0] * 10 + [0.0] * 30
    one = corrected_difference(20, 10, 100, JudgeRates(45, 50, 40, 50), alpha=0.05)
    other = corrected_difference(20, 10, 100, JudgeRates(47, 50, 42, 50), alpha=0.05)
    same = corrected_paired(a, b, first, first, two_sided_alpha=0.05)
    assert (same.ci_low, same.ci_high, same.corrected_difference) == (one.ci_low, one.ci_high, one.corrected)
    both = corrected_paired(a, b, first, second, two_sided_alpha=0.05)
    assert (both.losses, both.gains, both.raw_difference) == (20, 10, pytest.approx(-0.1))
    assert both.ci_low == min(one.ci_low, other.ci_low) and both.ci_high == max(one.ci_high, other.ci_high)
    assert both.corrected_difference == pytest.approx(-0.1 / 0.74)
    assert "union" in both.method and "union" not in same.method
    # Each run's own accuracy is corrected with its own measurement: (p + Sp - 1) / J.
    assert both.corrected_a == pytest.approx((0.6 + 0.8 - 1) / 0.7)
    assert both.corrected_b == pytest.approx((0.5 + 0.84 - 1) / 0.78)
