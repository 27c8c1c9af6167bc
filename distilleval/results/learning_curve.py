"""A learning curve: a model's score against training-set size, and where it stops paying to add data.

Written by ``distilleval curve`` as ``learning_curve.json`` (beside a run's ``summary.json``
with ``--run``) and read by the report. Each point is one baseline trained on the first
``size`` items of a seeded shuffle of the training split (so the subsets of one seed are
nested), several seeds per size, all scored on the same eval split.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

from distilleval.errors import DataError
from distilleval.results.statistics import wilson_interval

FILE_NAME = "learning_curve.json"


@dataclass(frozen=True)
class CurvePoint:
    """One model at one training size, over several seeds.

    Attributes:
        model: the baseline's display name.
        size: training items.
        scores: the eval score of each seed's fit, in seed order.
        mean: their mean.
        low, high: 95% Wilson interval of ``mean`` over the eval items (the eval-sampling
            uncertainty of one fit).
        seed_sd: standard deviation across seeds (0 for one seed).
    """

    model: str
    size: int
    scores: list[float]
    mean: float
    low: float
    high: float
    seed_sd: float

    @classmethod
    def of(cls, model: str, size: int, scores: list[float], n_eval: int) -> "CurvePoint":
        """Summarise the per-seed ``scores`` of ``model`` at ``size`` over ``n_eval`` eval items."""
        mean = statistics.fmean(scores)
        low, high = wilson_interval(round(mean * n_eval), n_eval) or (mean, mean)
        spread = statistics.stdev(scores) if len(scores) > 1 else 0.0
        return cls(model, size, list(scores), mean, low, high, spread)


@dataclass(frozen=True)
class SizeCost:
    """Projected one-time cost of a student trained on ``size`` teacher-labelled items (USD)."""

    size: int
    labelling_usd: float
    training_usd: float


@dataclass
class LearningCurve:
    """Every point of a curve, where each model flattens, and the cost of each size.

    Attributes:
        spec_name: the task.
        metric: the scorer's primary metric.
        n_train: items in the training split.
        n_eval: eval items every point is scored on.
        seeds: seeds per size.
        margin: the flattening tolerance (the spec's non-inferiority margin unless overridden).
        points: every (model, size) point.
        flat_from: model -> the smallest size from which every larger size scores within
            ``margin`` of the largest one (None with a single size).
        costs: projected labelling + training cost per size for the spec's Tinker student
            (empty when the student is not trained on Tinker).
        notes: how the numbers were made.
    """

    spec_name: str
    metric: str
    n_train: int
    n_eval: int
    seeds: int
    margin: float
    points: list[CurvePoint]
    flat_from: dict[str, int | None]
    costs: list[SizeCost] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def models(self) -> list[str]:
        """Model names in order of first appearance."""
        return list(dict.fromkeys(point.model for point in self.points))

    def sizes(self) -> list[int]:
        """Training sizes, ascending."""
        return sorted({point.size for point in self.points})


def flat_from(points: list[CurvePoint], margin: float) -> int | None:
    """The smallest size from which every larger size's mean is within ``margin`` of the largest size's.

    >>> pts = [CurvePoint.of("m", n, [s], 100) for n, s in ((50, 0.6), (100, 0.83), (200, 0.84), (400, 0.85))]
    >>> flat_from(pts, 0.03)
    100
    >>> flat_from(pts[:1], 0.03) is None
    True
    """
    ordered = sorted(points, key=lambda point: point.size)
    if len(ordered) < 2:
        return None
    final = ordered[-1].mean
    answer = ordered[-1].size
    for point in reversed(ordered):
        if point.mean < final - margin:
            break
        answer = point.size
    return answer


def write_curve(curve: LearningCurve, path: Path) -> None:
    """Write ``curve`` as JSON (atomically)."""
    from distilleval.files import write_text_atomic

    write_text_atomic(path, json.dumps(asdict(curve), indent=2) + "\n")


def read_curve(path: Path) -> LearningCurve:
    """Read a ``learning_curve.json``.

    Raises:
        DataError: the file is not a learning curve this version can read.
    """
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        raw["points"] = [CurvePoint(**point) for point in raw["points"]]
        raw["costs"] = [SizeCost(**cost) for cost in raw.get("costs", [])]
        return LearningCurve(**raw)
    except (OSError, ValueError, TypeError, KeyError) as err:
        raise DataError(f"{path}: not a readable learning curve ({err.__class__.__name__}: {err})") from None
