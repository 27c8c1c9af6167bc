"""Scorers by kind: ``build_scorer(spec)`` turns a spec's ``scorer:`` section into a scorer.

Each factory takes ``(config, spec)`` and returns a ``Scorer``. A user's scorer is added with
``register_scorer("my_scorer", factory)`` (then a spec says ``scorer: {kind: my_scorer, ...}``),
or named by import path (``kind: "package.module:factory"``); its other keys reach the factory
as attributes of ``config``. heavy modules are imported only when their kind is
built, so loading a spec never pays for scipy or sklearn.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from distilleval.errors import ConfigurationError, SpecError
from distilleval.scoring.base import Scorer
from distilleval.spec.scorer_config import is_scorer_import_path, known_scorer_kinds, note_registered_kind

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
    """Add (or replace) the factory of a scorer kind, so a spec can say ``scorer: {kind: <kind>}``.

    Args:
        kind: the name specs use; a built-in name replaces that built-in.
        factory: ``(config, spec) -> Scorer``; ``config`` carries the spec's other ``scorer:``
            keys as attributes.
    """
    if not kind or ":" in kind:
        raise ValueError(f"scorer kind {kind!r}: give a non-empty name without ':' (':' marks an import path)")
    SCORERS[kind] = factory
    note_registered_kind(kind)


def _imported_factory(path: str) -> ScorerFactory:
    """The factory a spec names by import path ``"package.module:name"``."""
    import importlib

    module_name, _, name = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except (Exception, SystemExit) as err:  # any import failure of user code is a configuration problem
        raise ConfigurationError(f"scorer.kind {path!r}: cannot import {module_name!r} ({type(err).__name__}: {err})") from None
    factory: ScorerFactory | None = getattr(module, name, None)
    if not callable(factory):
        raise ConfigurationError(f"scorer.kind {path!r}: {module_name!r} has no callable {name!r}")
    return factory


def build_scorer(spec: Any) -> Scorer:
    """The scorer a task spec asks for (``spec.scorer`` with ``spec.output``).

    Returns:
        A ``Scorer``; call ``close()`` (or use it as a context manager) when done, which
        stops the SQL worker processes.

    Raises:
        SpecError: no scorer is registered for the spec's kind.
        DistillevalError: the scorer cannot be built (e.g. a python ``ref`` or a factory's import
            path does not import, or a factory returns something other than a ``Scorer``).
    """
    kind = spec.scorer.kind
    factory = SCORERS.get(kind)
    if factory is None and is_scorer_import_path(kind):
        factory = _imported_factory(kind)
    if factory is None:
        raise SpecError(f"{spec.source}: scorer.kind: no scorer {kind!r}; known: {', '.join(known_scorer_kinds())}")
    scorer = factory(spec.scorer, spec)
    if not isinstance(scorer, Scorer):
        raise ConfigurationError(f"{spec.source}: scorer.kind: the factory of {kind!r} returned "
                                 f"{type(scorer).__name__}, not a distilleval.scoring.Scorer")
    return scorer
