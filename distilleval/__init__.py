"""distilleval: should this task move from a big prompted model to a small fine-tuned one?

The library API is the spec loader and one function per stage, each returning a typed, frozen
result (``distilleval.pipeline.stages``; the commands call the same functions and print them)::

    estimate(spec)              -> EstimateResult   what the runs will cost, before any is made
    label(spec)                 -> LabelResult      the teacher labels a pool into training data
    validate(spec)              -> ValidateResult   the teacher scored against gold
    train(spec, data)           -> TrainResult      a LoRA fine-tune on Tinker and its manifest
    evaluate(spec)              -> EvalResult       the models over the eval split: a run directory
    render_report(run)          -> ReportResult     a run's report (md, html, csv, json, marp, latex)
    check_gates(run)            -> GateResult       a run against its spec's gates (and a baseline run)

``spec`` is a ``TaskSpec`` from ``load_spec(path)`` or the path itself; ``to_json(result)`` is the
JSON a command's ``--format json`` prints; every error is a ``DistillevalError`` with one line.
(``report`` and ``gate`` are the package's own folders, so their stages are ``render_report`` and
``check_gates``: a function named like a subpackage would be replaced by it once it is imported.)

The package keeps its import light: nothing here imports LiteLLM, Tinker, scikit-learn or scipy;
each name is imported the first time it is used (a module ``__getattr__``, PEP 562).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from distilleval.version import __version__ as __version__

if TYPE_CHECKING:
    from distilleval.errors import DistillevalError
    from distilleval.pipeline.stages.estimate import EstimateResult, estimate
    from distilleval.pipeline.stages.evaluate import EvalResult, evaluate
    from distilleval.pipeline.stages.gate import GateResult, check_gates
    from distilleval.pipeline.stages.label import LabelResult, label
    from distilleval.pipeline.stages.report import ReportResult, render_report
    from distilleval.pipeline.stages.result_json import to_json
    from distilleval.pipeline.stages.train import TrainResult, train
    from distilleval.pipeline.stages.validate import ValidateResult, validate
    from distilleval.spec.task_spec import TaskSpec, load_spec

_HOMES: dict[str, str] = {
    "load_spec": "distilleval.spec.task_spec",
    "TaskSpec": "distilleval.spec.task_spec",
    "DistillevalError": "distilleval.errors",
    "to_json": "distilleval.pipeline.stages.result_json",
    "estimate": "distilleval.pipeline.stages.estimate",
    "EstimateResult": "distilleval.pipeline.stages.estimate",
    "label": "distilleval.pipeline.stages.label",
    "LabelResult": "distilleval.pipeline.stages.label",
    "validate": "distilleval.pipeline.stages.validate",
    "ValidateResult": "distilleval.pipeline.stages.validate",
    "train": "distilleval.pipeline.stages.train",
    "TrainResult": "distilleval.pipeline.stages.train",
    "evaluate": "distilleval.pipeline.stages.evaluate",
    "EvalResult": "distilleval.pipeline.stages.evaluate",
    "render_report": "distilleval.pipeline.stages.report",
    "ReportResult": "distilleval.pipeline.stages.report",
    "check_gates": "distilleval.pipeline.stages.gate",
    "GateResult": "distilleval.pipeline.stages.gate",
}
"""Each exported name and the module it lives in."""

__all__ = [
    "DistillevalError",
    "EstimateResult",
    "EvalResult",
    "GateResult",
    "LabelResult",
    "ReportResult",
    "TaskSpec",
    "TrainResult",
    "ValidateResult",
    "check_gates",
    "estimate",
    "evaluate",
    "label",
    "load_spec",
    "render_report",
    "to_json",
    "train",
    "validate",
]


def __getattr__(name: str) -> Any:
    """Import an exported name from its module the first time it is used."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'distilleval' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
