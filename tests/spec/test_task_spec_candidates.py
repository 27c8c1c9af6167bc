"""The spec's ``candidates:`` and ``cascades:`` blocks: defaults, and every mistake refused at load
with one line naming the file, the line and the field (exit 2 from the command line)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from distilleval.cli.main import main
from distilleval.errors import SpecError
from distilleval.spec.resolved import load_resolved_spec, resolved_spec_yaml
from distilleval.spec.task_spec import load_spec

TINY = Path(__file__).resolve().parents[1] / "fixtures" / "tiny"
MINI = {"name": "gpt-4.1-mini", "model": "openai/gpt-4.1-mini"}


@pytest.fixture
def spec_dir(tmp_path: Path) -> Path:
    for name in ("rubric.md", "data.jsonl"):
        shutil.copy(TINY / name, tmp_path / name)
    return tmp_path


def _write(spec_dir: Path, **blocks) -> Path:
    data = yaml.safe_load((TINY / "spec.yaml").read_text())
    data.update(json.loads(json.dumps(blocks)))  # no shared objects: YAML would write them as anchors
    path = spec_dir / "spec.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _line_of(path: Path, text: str, occurrence: int = 1) -> int:
    lines = [n for n, line in enumerate(path.read_text().splitlines(), start=1) if text in line]
    return lines[occurrence - 1]


def test_a_candidate_without_prompts_is_sent_the_teachers_rubric(spec_dir):
    spec = load_spec(_write(spec_dir, candidates=[MINI]))
    (candidate,) = spec.candidates
    assert candidate.prompt_text == spec.teacher.prompt_text and candidate.prompt_text.startswith("You route")
    assert candidate.label_for_training is False
    assert list(spec.models()) == ["teacher", "student", "gpt-4.1-mini"]
    assert spec.role_of("gpt-4.1-mini") == "candidate" and spec.role_of("teacher") == "teacher"


def test_a_candidate_with_its_own_prompt_keeps_it_and_the_resolved_spec_inlines_it(spec_dir, tmp_path):
    path = _write(spec_dir, candidates=[{**MINI, "prompt": "Queue for: {text}"}],
                  cascades=[{"first": "student", "fallback": "gpt-4.1-mini"}])
    spec = load_spec(path)
    assert spec.candidates[0].prompt_text == "Queue for: {text}" and spec.candidates[0].system_text == ""
    resolved = tmp_path / "spec.resolved.yaml"
    resolved.write_text(resolved_spec_yaml(spec))
    again = load_resolved_spec(resolved)
    assert again.candidates[0].prompt_text == "Queue for: {text}"
    assert [c.name for c in again.cascades] == ["student→gpt-4.1-mini"]
    assert again.cascades[0].delta == 0.1 and again.cascades[0].calibration_fraction == 0.5


@pytest.mark.parametrize("blocks, field, line_text, message", [
    ({"candidates": [MINI, MINI]}, "candidates.1.name", "name: gpt-4.1-mini",
     "'gpt-4.1-mini' is already the name of candidates.0"),
    ({"candidates": [{**MINI, "name": "teacher"}]}, "candidates.0.name", "name: teacher", "is a role name"),
    ({"candidates": [{**MINI, "name": "tfidf_logreg"}], "baselines": ["tfidf_logreg"]}, "candidates.0.name",
     "name: tfidf_logreg", "also a baseline's name"),
    ({"candidates": [{**MINI, "tempreature": 0}]}, r"candidates\[0\].tempreature", "tempreature", "unknown key"),
    ({"candidates": [{**MINI, "prompt": "{txt}"}]}, "candidates.0.prompt", "prompt: '{txt}'", "{txt} is not an input field"),
    ({"cascades": [{"first": "studnet", "fallback": "teacher"}]}, "cascades.0.first", "first: studnet",
     "expected one of student"),
    ({"cascades": [{"first": "student", "fallback": "tfidf_logreg"}], "baselines": ["tfidf_logreg"]},
     "cascades.0.fallback", "fallback: tfidf_logreg", "expected one of teacher"),
    ({"cascades": [{"first": "student", "fallback": "teacher", "delta": 1.5}]}, r"cascades\[0\].delta", "delta: 1.5", "less than 1"),
    ({"candidates": [{**MINI, "label_for_training": True}, {**MINI, "name": "b", "label_for_training": True}]},
     "candidates.1.label_for_training", "label_for_training: true", "only one model labels"),
])
def test_mistakes_are_refused_with_file_line_and_field(spec_dir, blocks, field, line_text, message):
    path = _write(spec_dir, **blocks)
    occurrence = 2 if field.startswith("candidates.1") else 1
    line = _line_of(path, line_text, occurrence)
    with pytest.raises(SpecError, match=rf"spec.yaml:{line}: {field}: .*{message}"):
        load_spec(path)


def test_the_command_line_exits_2_on_a_duplicate_candidate_before_anything_runs(spec_dir, capsys, tmp_path):
    path = _write(spec_dir, candidates=[MINI, MINI])
    assert main(["eval", str(path), "--runs-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "candidates.1.name" in err[0]
    assert not (tmp_path / "runs").exists()


def test_an_unpriced_candidate_is_refused_naming_its_line(spec_dir, tmp_path, capsys):
    path = _write(spec_dir, candidates=[{"name": "mystery", "model": "openai/no-such-model-x"}])
    assert main(["eval", str(path), "--runs-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err.strip()
    line = _line_of(path, "model: openai/no-such-model-x")
    assert f"spec.yaml:{line}: candidates[0].model" in err and "no-such-model-x" in err and "\n" not in err
