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
