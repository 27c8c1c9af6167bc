"""``evaluate``: the spec's models over the eval split, scored, written as a run directory.

A typed face over ``pipeline.evaluate.evaluate`` (what ``distilleval eval`` and ``run`` call): the
same options, and the run's summary read back with its directory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distilleval.pipeline.stages.arguments import SpecArg, as_spec

if TYPE_CHECKING:
    from distilleval.results.summary_json import Summary


@dataclass(frozen=True)
class EvalResult:
    """A finished eval run.

    Attributes:
        run_dir: the run directory (``records.sqlite``, ``spec.resolved.yaml``, the pricing copy,
            ``summary.json``).
        summary: its ``summary.json``: each model's metric with its interval, cost and latency, and the
            paired comparisons.
    """

    run_dir: Path
    summary: Summary


def evaluate(spec: SpecArg, *, models: str | Sequence[str] | None = None, **options: Any) -> EvalResult:
    """Run, score and summarise the spec's models over its eval split.

    Args:
        spec: the task spec, or its YAML file.
        models: roles and baseline names to run (a list, or comma-separated; default: all).
        **options: the other fields of ``pipeline.evaluate.EvalOptions`` (``limit``, ``runs_dir``, ``out``,
            ``resume``, ``pricing``, ``cache``, ``no_cache``, ``refresh``, ``concurrency``, ``max_retries``,
            ``give_up_after_s``, ``rpm``, ``tpm``, ``latency_probe``, ``batch``, ``batch_poll``).

    Raises:
        DistillevalError: bad spec, data, pricing or keys, before any call (``pipeline.evaluate.evaluate``);
        TypeError: an option ``EvalOptions`` does not have.
    """
    from distilleval.pipeline.evaluate import EvalOptions
    from distilleval.pipeline.evaluate import evaluate as run_eval
    from distilleval.results.summary_json import read_summary

    spec, _ = as_spec(spec)
    chosen = models if models is None or isinstance(models, str) else ",".join(models)
    run_dir = run_eval(spec, EvalOptions(models=chosen, **options))
    return EvalResult(run_dir=run_dir, summary=read_summary(run_dir))
