"""Tests for distilleval.scoring.python (custom scorers by reference)."""

from __future__ import annotations

import pytest

from distilleval.errors import ConfigurationError
from distilleval.scoring.python import PythonFunction
from distilleval.spec.data import Item
from distilleval.spec.scorer_config import PythonScorer

USER_MODULE = '''
def contains_gold(prediction, gold, item):
    if prediction == "boom":
        raise RuntimeError("user bug")
    if prediction == "half":
        return 0.5
    if prediction == "big":
        return 7
    return gold in prediction
'''


@pytest.fixture
def user_scorer(tmp_path, monkeypatch):
    (tmp_path / "my_team_scorers.py").write_text(USER_MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    return PythonFunction(PythonScorer(ref="my_team_scorers:contains_gold"))


def items(n):
    return [Item(id=str(i), inputs={"q": "x"}, gold="paris") for i in range(n)]


def test_user_function_by_reference_scores_items(user_scorer):
    scores = user_scorer.score_items(["it is paris", "london", "half", None], items(4))
    assert [s.score for s in scores] == [1.0, 0.0, 0.5, 0.0]
    assert scores[3].reason == "no_output"


def test_a_raising_scorer_is_an_item_error_not_a_crash(user_scorer):
    scores = user_scorer.score_items(["boom", "paris", "big"], items(3))
    assert scores[0].score is None and scores[0].reason == "scorer_error"
    assert "RuntimeError: user bug" in scores[0].details["error"]
    assert scores[2].score is None and "expected a number in [0, 1]" in scores[2].details["error"]
    metric, secondary = user_scorer.summarize(scores)
    assert metric.value == 1.0  # only the one item that was scored counts
    assert secondary["scorer_errors"] == 2.0


def test_non_binary_scores_get_a_bootstrap_interval(user_scorer):
    metric, _ = user_scorer.summarize(user_scorer.score_items(["half", "paris", "x", "half"], items(4)))
    assert metric.value == 0.5 and "bootstrap" in metric.ci_method


def test_bad_references_are_configuration_errors():
    with pytest.raises(ConfigurationError, match="cannot import"):
        PythonFunction(PythonScorer(ref="no_such_module_xyz:fn"))
    with pytest.raises(ConfigurationError, match="no callable"):
        PythonFunction(PythonScorer(ref="json:no_such_function"))
