"""Custom scorers written by the user: ``scorer: {kind: python, ref: "package.module:function"}``.

The function is called once per item as ``fn(prediction: str, gold, item) -> float | bool``
where ``prediction`` is the model's raw output, ``gold`` the item's gold answer and ``item``
the ``distilleval.spec.data.Item``. It returns a score in [0, 1] (``True``/``False`` count as
1/0). A function that raises (``SystemExit`` included), runs past ``timeout_s`` on one item,
or returns anything else, is an error for that item: the item is excluded from the
denominator with reason ``scorer_error`` and counted, and the run goes on. Failed calls (no
output) score 0 without calling the function.

User code runs in worker processes (``sql_worker.WorkerPool``), so a function that never
returns is killed at its time limit and one that calls ``sys.exit`` or ``os._exit`` ends only
its worker; the function is also imported once here, so a bad ``ref`` fails before scoring.
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

_KILL_GRACE_S = 0.5
_loaded: dict[str, Callable[..., Any]] = {}


def load_function(ref: str) -> Callable[..., Any]:
    """Import ``"package.module:function"``.

    Raises:
        ConfigurationError: the module cannot be imported (or exits while importing) or has
            no such callable.
    """
    module_name, _, name = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
    except (Exception, SystemExit) as err:  # any import failure of user code is a configuration problem
        raise ConfigurationError(f"scorer.ref {ref!r}: cannot import {module_name!r} ({type(err).__name__}: {err})") from None
    function: object = getattr(module, name, None)
    if not callable(function):
        raise ConfigurationError(f"scorer.ref {ref!r}: {module_name!r} has no callable {name!r}")
    return function


def call_user_function(ref: str, prediction: str, gold: Any, item: Any) -> tuple[Any, ...]:
    """Call the user function once (runs inside a worker process).

    Returns:
        ``("ok", score)`` for a number or bool, ``("bad", repr)`` for any other return value,
        ``("error", message)`` when it raised or exited. Never raises for the user's code.
    """
    try:
        function = _loaded.get(ref) or _loaded.setdefault(ref, load_function(ref))
        value = function(prediction, gold, item)
    except KeyboardInterrupt:
        raise
    except SystemExit as stop:
        return ("error", f"SystemExit: the scorer called sys.exit({stop.code!r})")
    except BaseException as err:  # user code: anything it raises is that item's error
        return ("error", f"{type(err).__name__}: {err}")
    if isinstance(value, (bool, int, float)):
        try:
            return ("ok", float(value))
        except OverflowError:
            pass
    return ("bad", repr(value)[:200])


class PythonFunction(Scorer):
    """Scores items with a user function (see the module doc for its contract).

    Args:
        config: the spec's ``python`` scorer section.
    """

    kind = "python"
    primary_metric = "score"

    def __init__(self, config: PythonScorer):
        from distilleval.scoring.sql_worker import WorkerPool

        self.config = config
        load_function(config.ref)
        self.pool = WorkerPool(config.workers, target=f"{__name__}:call_user_function", grace_s=_KILL_GRACE_S)

    def close(self) -> None:
        """Stop the worker processes."""
        self.pool.close()

    def score_items(self, outputs: Sequence[str | None], items: Sequence[Any]) -> list[ItemScore]:
        """Score each output with the user function, each call under ``config.timeout_s``."""
        _check_lengths(outputs, items)
        called = [i for i, output in enumerate(outputs) if output is not None]
        jobs = [((self.config.ref, outputs[i], items[i].gold, items[i]), self.config.timeout_s) for i in called]
        results = dict(zip(called, self.pool.map(jobs)))
        return [self._score(outputs[i], results.get(i)) for i in range(len(outputs))]

    def _score(self, output: str | None, result: tuple[Any, ...] | None) -> ItemScore:
        if output is None or result is None:
            return no_output_score()
        status, value = result[0], result[1]
        if status == "timeout":
            return ItemScore(None, reason="scorer_error",
                             details={"error": f"timeout: no answer within {self.config.timeout_s:g} s; the call was killed"})
        if status == "error":
            return ItemScore(None, reason="scorer_error", details={"error": str(value)[:300]})
        if status != "ok" or not math.isfinite(value) or not 0.0 <= value <= 1.0:
            shown = value if status == "bad" else repr(value)
            return ItemScore(None, reason="scorer_error",
                             details={"error": f"returned {shown}; expected a number in [0, 1]"[:300]})
        return ItemScore(value, reason=None if value == 1.0 else "below_1", canonical=output.strip())

    def summarize(self, scores: Sequence[ItemScore]) -> tuple[MetricValue, dict[str, float | None]]:
        """Mean score (Clopper-Pearson when every score is 0 or 1, else ``rate_metric``'s interval) and the
        number and share of items whose scorer raised, exited or timed out."""
        errors = sum(1 for s in scores if s.reason == "scorer_error")
        return rate_metric(self.primary_metric, scores), {
            "scorer_errors": float(errors),
            "scorer_error_rate": errors / len(scores) if scores else None,
        }
