"""Custom scorers written by the user: ``scorer: {kind: python, ref: "package.module:function"}``.

The function is called once per item as ``fn(prediction: str, gold, item) -> float | bool``
where ``prediction`` is the model's raw output, ``gold`` the item's gold answer and ``item``
the ``distilleval.spec.data.Item``. It returns a score in [0, 1] (``True``/``False`` count as
1/0). A function that raises, or returns anything else, is an error for that item: the item
is excluded from the denominator with reason ``scorer_error`` and counted, and the run goes on.
Failed calls (no output) score 0 without calling the function.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Sequence
from typing import Any

from distilleval.errors import ConfigurationError
from distilleval.results.summary_json import MetricValue
from distilleval.scoring.base import ItemScore, Scorer, _check_lengths, no_output_score, rate_metric
from distilleval.spec.scorer_config import PythonScorer


def load_function(ref: str) -> Callable[..., Any]:
    """Import ``"package.module:function"``.

    Raises:
        ConfigurationError: the module cannot be imported or has no such callable.
    """
    module_name, _, name = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as err:  # any import failure of user code is a configuration problem
        raise ConfigurationError(f"scorer.ref {ref!r}: cannot import {module_name!r} ({type(err).__name__}: {err})") from None
    function = getattr(module, name, None)
    if not callable(function):
        raise ConfigurationError(f"scorer.ref {ref!r}: {module_name!r} has no callable {name!r}")
    return function


class PythonFunction(Scorer):
    """Scores items with a user function (see the module doc for its contract).

    Args:
        config: the spec's ``python`` scorer section.
        function: the callable itself, instead of importing ``config.ref`` (for tests).
    """

    kind = "python"
    primary_metric = "score"

    def __init__(self, config: PythonScorer, function: Callable[..., Any] | None = None):
        self.config = config
        self.function = function or load_function(config.ref)

    def score_one(self, output: str | None, item: Any) -> ItemScore:
        """Call the user function on one item, turning any failure into an item error."""
        if output is None:
            return no_output_score()
        try:
            value = self.function(output, item.gold, item)
        except Exception as err:  # user code: any exception is that item's error
            return ItemScore(None, reason="scorer_error", details={"error": f"{type(err).__name__}: {err}"[:300]})
        if isinstance(value, bool):
            value = float(value)
        if not isinstance(value, (int, float)) or not math.isfinite(value) or not 0.0 <= value <= 1.0:
            return ItemScore(None, reason="scorer_error",
                             details={"error": f"returned {value!r}; expected a number in [0, 1]"[:300]})
        return ItemScore(float(value), reason=None if value == 1.0 else "below_1", canonical=output.strip())

    def score_items(self, outputs: Sequence[str | None], items: Sequence[Any]) -> list[ItemScore]:
        """Score each output with the user function."""
        _check_lengths(outputs, items)
        return [self.score_one(output, item) for output, item in zip(outputs, items)]

    def summarize(self, scores: Sequence[ItemScore]) -> tuple[MetricValue, dict[str, float | None]]:
        """Mean score (Wilson interval when every score is 0 or 1, else bootstrap) and the
        number and share of items whose scorer raised."""
        errors = sum(1 for s in scores if s.reason == "scorer_error")
        return rate_metric(self.primary_metric, scores), {
            "scorer_errors": float(errors),
            "scorer_error_rate": errors / len(scores) if scores else None,
        }
