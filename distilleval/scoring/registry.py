"""Scorers by kind: ``build_scorer(spec)`` turns a spec's ``scorer:`` section into a scorer.

Each factory takes ``(config, spec)``; heavy modules are imported only when their kind is
built, so loading a spec never pays for scipy or sklearn.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from distilleval.errors import SpecError
from distilleval.scoring.base import Scorer

ScorerFactory = Callable[[Any, Any], Scorer]


def _exact_match(config: Any, spec: Any) -> Scorer:
    from distilleval.scoring.classification import ExactMatch

    return ExactMatch(config, labels=spec.output.labels)


def _json_fields(config: Any, spec: Any) -> Scorer:
    from distilleval.scoring.json_fields import JsonFields

    return JsonFields(config)


def _spans(config: Any, spec: Any) -> Scorer:
    from distilleval.scoring.spans import Spans

    if config.locate != "offsets":
        text_inputs = [name for name in spec.data.input if name not in spec.data.image_inputs]
        if config.input_field is None and (len(spec.data.input) != 1 or not text_inputs):
            raise SpecError(
                f"{spec.source}: scorer.input_field: locate: {config.locate} needs the input field the "
                f"spans refer to; expected one of {', '.join(text_inputs)}"
            )
        if config.input_field is not None and config.input_field not in text_inputs:
            raise SpecError(
                f"{spec.source}: scorer.input_field: {config.input_field!r} is not a text input field; "
                f"expected one of {', '.join(text_inputs) or '(none)'}"
            )
    return Spans(config)


def _sql_execution(config: Any, spec: Any) -> Scorer:
    from distilleval.scoring.sql_execution import SqlExecution

    return SqlExecution(config, spec.resolve(config.database))


def _python(config: Any, spec: Any) -> Scorer:
    from distilleval.scoring.python import PythonFunction

    return PythonFunction(config)


def _judge(config: Any, spec: Any) -> Scorer:
    from distilleval.scoring.judge import JudgeScore

    return JudgeScore(config)


SCORERS: dict[str, ScorerFactory] = {
    "exact_match": _exact_match,
    "json_fields": _json_fields,
    "spans": _spans,
    "sql_execution": _sql_execution,
    "python": _python,
    "judge": _judge,
}


def register_scorer(kind: str, factory: ScorerFactory) -> None:
    """Add (or replace) the factory of a scorer kind."""
    SCORERS[kind] = factory


def build_scorer(spec: Any) -> Scorer:
    """The scorer a task spec asks for (``spec.scorer`` with ``spec.output``).

    Returns:
        A ``Scorer``; call ``close()`` (or use it as a context manager) when done, which
        stops the SQL worker processes.

    Raises:
        SpecError: no scorer is registered for the spec's kind.
        DistillevalError: the scorer cannot be built (e.g. a python ``ref`` does not import).
    """
    kind = spec.scorer.kind
    factory = SCORERS.get(kind)
    if factory is None:
        raise SpecError(f"{spec.source}: scorer.kind: no scorer {kind!r}; known: {', '.join(SCORERS)}")
    return factory(spec.scorer, spec)
