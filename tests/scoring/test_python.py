"""Tests for distilleval.scoring.python (custom scorers by reference)."""

from __future__ import annotations

import pytest

from distilleval.errors import ConfigurationError
from distilleval.scoring.python import PythonFunction
from distilleval.spec.data import Item
from distilleval.spec.scorer_config import PythonScorer

USER_MODULE = '''
import os
import sys
import time


def contains_gold(prediction, gold, item):
    if prediction == "boom":
        raise RuntimeError("user bug")
    if prediction == "sleep":
        time.sleep(3600)
    if prediction == "exit":
        sys.exit(3)
    if prediction == "hard exit":
        os._exit(4)
    if prediction == "print":
        print("user output on stdout must not break the worker protocol")
        return 1
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
    with PythonFunction(PythonScorer(ref="my_team_scorers:contains_gold", timeout_s=3.0, workers=2)) as scorer:
        yield scorer


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


def test_non_binary_scores_on_few_items_get_a_count_based_interval(user_scorer):
    # Four items are too few for a bootstrap: the interval comes from the count of items.
    metric, _ = user_scorer.summarize(user_scorer.score_items(["half", "paris", "x", "half"], items(4)))
    assert metric.value == 0.5 and "count-based" in metric.ci_method
    assert metric.ci_low < 0.5 < metric.ci_high


def test_bad_references_are_configuration_errors():
    with pytest.raises(ConfigurationError, match="cannot import"):
        PythonFunction(PythonScorer(ref="no_such_module_xyz:fn"))
    with pytest.raises(ConfigurationError, match="no callable"):
        PythonFunction(PythonScorer(ref="json:no_such_function"))


def test_a_scorer_that_never_returns_is_killed_at_its_time_limit(user_scorer):
    # It used to hang the whole run with no message.
    scores = user_scorer.score_items(["sleep", "paris", "sleep", "london"], items(4))
    assert [s.reason for s in scores] == ["scorer_error", None, "scorer_error", "below_1"]
    assert scores[0].details["error"] == "timeout: no answer within 3 s; the call was killed"
    assert [s.score for s in scores[1::2]] == [1.0, 0.0]


def test_sys_exit_in_a_scorer_is_an_item_error_not_the_exit_of_distilleval(user_scorer):
    # sys.exit(3) used to make distilleval itself exit 3 with no summary.
    scores = user_scorer.score_items(["exit", "hard exit", "paris", "print"], items(4))
    assert scores[0].reason == "scorer_error" and scores[0].details["error"] == "SystemExit: the scorer called sys.exit(3)"
    assert scores[1].reason == "scorer_error" and "worker process died" in scores[1].details["error"]
    assert [s.score for s in scores[2:]] == [1.0, 1.0]
    _, secondary = user_scorer.summarize(scores)
    assert secondary["scorer_errors"] == 2.0


def test_a_module_that_exits_on_import_is_a_configuration_error(tmp_path, monkeypatch):
    (tmp_path / "exits_on_import.py").write_text("import sys\nsys.exit(5)\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigurationError, match="cannot import 'exits_on_import' \\(SystemExit: 5\\)"):
        PythonFunction(PythonScorer(ref="exits_on_import:fn"))
