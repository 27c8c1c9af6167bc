"""A user's scorer, registered in Python or named by import path, scores from a spec file."""

from __future__ import annotations

import json
import sys

import pytest

from distilleval.cli.main import main
from distilleval.results.summary_json import read_summary
from distilleval.scoring import registry
from distilleval.scoring.base import Scorer
from distilleval.spec import scorer_config

SCORER_MODULE = '''
from distilleval.scoring.base import ItemScore, Scorer, no_output_score, rate_metric


class StartsWith(Scorer):
    kind = "starts_with"
    primary_metric = "prefix_rate"

    def __init__(self, prefix):
        self.prefix = prefix

    def score_items(self, outputs, items):
        return [no_output_score() if out is None else ItemScore(1.0 if out.startswith(self.prefix) else 0.0)
                for out in outputs]

    def summarize(self, scores):
        return rate_metric(self.primary_metric, scores), {"long_answers": 7.0}


def make(config, spec):
    return StartsWith(config.prefix)
'''


@pytest.fixture
def restored_registry():
    """Undo every registration a test makes."""
    scorers, kinds = dict(registry.SCORERS), set(scorer_config._registered_kinds)
    yield
    registry.SCORERS.clear()
    registry.SCORERS.update(scorers)
    scorer_config._registered_kinds.clear()
    scorer_config._registered_kinds.update(kinds)


@pytest.fixture
def scorer_module(tmp_path, monkeypatch):
    """An importable module ``user_scorers`` holding the factory ``make``."""
    (tmp_path / "user_scorers.py").write_text(SCORER_MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "user_scorers", raising=False)
    import user_scorers

    yield user_scorers
    sys.modules.pop("user_scorers", None)


def write_task(tmp_path, scorer_line, n=10):
    with (tmp_path / "data.jsonl").open("w", encoding="utf-8") as handle:
        for i in range(n):
            handle.write(json.dumps({"id": f"i{i}", "text": f"message {i}", "answer": "ok"}) + "\n")
    (tmp_path / "spec.yaml").write_text(
        "name: prefixes\n"
        "data: {path: data.jsonl, input: {text: text}, gold: answer, id: id}\n"
        "output: {kind: text}\n"
        f"{scorer_line}\n"
        "teacher: {model: openai/gpt-5.2, prompt: 'Answer: {text}'}\n"
        "student: {model: 'tinker://student', prompt: '{text}'}\n",
        encoding="utf-8",
    )
    predictions = tmp_path / "preds.jsonl"
    # 7 of 10 outputs start with "yes"; i9 failed (no output, scores 0 and counts as an error).
    outputs = {i: ("yes, done" if i < 7 else "no") for i in range(9)}
    predictions.write_text("".join(json.dumps({"id": f"i{i}", "output": outputs.get(i)}) + "\n" for i in range(n)),
                           encoding="utf-8")
    return tmp_path / "spec.yaml", predictions


def score(spec, predictions, out):
    return main(["score", str(spec), "--predictions", str(predictions), "--model", "teacher",
                 "--out", str(out), "--split", "all", "--resamples", "200", "--max-error-rate", "0.5"])


def test_a_registered_scorer_is_usable_by_name_and_its_figures_reach_the_summary(tmp_path, restored_registry,
                                                                                   scorer_module, capsys):
    registry.register_scorer("starts_with", scorer_module.make)
    spec, predictions = write_task(tmp_path, "scorer: {kind: starts_with, prefix: 'yes'}")
    assert score(spec, predictions, tmp_path / "summary.json") == 0
    summary = read_summary(tmp_path / "summary.json")
    teacher = summary.models["teacher"]
    assert teacher.metric.name == "prefix_rate"
    assert teacher.metric.value == pytest.approx(7 / 9)  # over the 9 answered items
    assert teacher.metrics["long_answers"] == 7.0


def test_a_scorer_named_by_import_path_needs_no_registration(tmp_path, restored_registry, scorer_module):
    spec, predictions = write_task(tmp_path, "scorer: {kind: 'user_scorers:make', prefix: 'no'}")
    assert score(spec, predictions, tmp_path / "summary.json") == 0
    assert read_summary(tmp_path / "summary.json").models["teacher"].metric.value == pytest.approx(2 / 9)


def test_an_unknown_kind_is_one_line_naming_file_line_field_and_the_known_kinds(tmp_path, restored_registry,
                                                                                 scorer_module, capsys):
    registry.register_scorer("starts_with", scorer_module.make)
    spec, predictions = write_task(tmp_path, "scorer: {kind: start_with, prefix: 'yes'}")
    assert score(spec, predictions, tmp_path / "summary.json") == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error
    assert f"{spec}:4: scorer.kind: unknown scorer kind 'start_with'" in error
    assert "exact_match, json_fields, spans, sql_execution, python, judge, starts_with" in error
    assert not (tmp_path / "summary.json").exists()


def test_an_import_path_that_does_not_import_is_a_configuration_error(tmp_path, restored_registry, capsys):
    spec, predictions = write_task(tmp_path, "scorer: {kind: 'no_such_module_here:make'}")
    assert score(spec, predictions, tmp_path / "summary.json") == 2
    error = capsys.readouterr().err
    assert "scorer.kind 'no_such_module_here:make': cannot import 'no_such_module_here'" in error
    assert not (tmp_path / "summary.json").exists()


def test_a_factory_must_return_a_scorer(tmp_path, restored_registry, capsys):
    registry.register_scorer("not_a_scorer", lambda config, spec: object())
    spec, predictions = write_task(tmp_path, "scorer: not_a_scorer")
    assert score(spec, predictions, tmp_path / "summary.json") == 2
    assert "returned object, not a distilleval.scoring.Scorer" in capsys.readouterr().err


def test_a_kind_with_a_colon_cannot_be_registered(restored_registry):
    with pytest.raises(ValueError, match="without ':'"):
        registry.register_scorer("a:b", lambda config, spec: Scorer())


def test_registered_kinds_are_listed_after_the_built_in_ones(restored_registry):
    registry.register_scorer("zeta", lambda config, spec: Scorer())
    registry.register_scorer("alpha", lambda config, spec: Scorer())
    assert scorer_config.known_scorer_kinds()[-2:] == ["alpha", "zeta"]
    assert scorer_config.known_scorer_kinds()[0] == "exact_match"
