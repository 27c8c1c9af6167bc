"""A learning curve: a model's score against training-set size, and how much each doubling of the data still buys.

Written by ``distilleval curve`` as ``learning_curve.json`` (beside a run's ``summary.json``
with ``--run``) and read by the report. Each point is one baseline trained on the first
``size`` items of a seeded shuffle of the training split (so the subsets of one seed are
nested), several seeds per size, all scored on the same eval split.

Whether a curve has flattened is a test, not a reading of point means: over the last sizes
(``WINDOW``) the gain per doubling of training size is the least-squares slope of score against
log2(size), estimated from every seed's fit on every eval item; its interval counts both sources
of noise (which training subsets were drawn, which eval items were scored) through a two-way
seeds x items analysis of variance of the per-item slopes (``gain_intervals``). The curve is
called flat only when the one-sided 95% upper bound of the gain per doubling is below the
margin, so a curve still gaining the margin per doubling is called flat at most 5% of the time
(checked by simulation in tests/results/test_learning_curve.py).
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from distilleval.errors import DataError
from distilleval.results.statistics import wilson_interval

FILE_NAME = "learning_curve.json"
WINDOW = 3
"""The slope is fitted over the last this many sizes (all of them when the curve has fewer)."""
FLAT_ALPHA = 0.05
ITEM_PART_ERROR_SHARE = 0.0
"""One-sided level of the flat test: the gain's upper bound is at 1 - FLAT_ALPHA."""


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


@dataclass(frozen=True)
class DoublingGain:
    """How much one doubling of the training size adds over the last sizes of one model's curve.

    Attributes:
        sizes: the sizes the slope is fitted over (the last ``WINDOW``).
        seeds: seeds whose fits at every one of those sizes count.
        n_items: eval items scored at every one of those fits.
        gain: least-squares slope of score against log2(size): points gained per doubling.
        low, high: two-sided ``confidence`` interval of ``gain``; ``high`` is the one-sided
            ``1 - FLAT_ALPHA`` upper bound the flat test uses.
        confidence: coverage of ``[low, high]``.
        margin: the gain per doubling below which the curve counts as flat.
        flat: True when ``high`` is below ``margin`` (never with one seed).
        method: how the interval was made, in words.
    """

    sizes: list[int]
    seeds: int
    n_items: int
    gain: float
    low: float
    high: float
    confidence: float
    margin: float
    flat: bool
    method: str


def gain_intervals(scores: np.ndarray, sizes: list[int] | np.ndarray, *, alpha: float = FLAT_ALPHA
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gain per doubling and its two-sided ``1 - 2·alpha`` interval, vectorised over leading axes.

    Each seed's fit gives a slope on each eval item (the least-squares weights of log2(size)
    applied to the item's scores); their mean is the gain. Its variance, by a two-way seeds x
    items analysis of variance, is ``(MS_seeds + MS_items - MS_error) / (S·N)``: a seed part
    ``MS_seeds / (S·N)`` (which training subsets were drawn, with the seed x item noise) and an
    item part ``(MS_items - MS_error) / (S·N)`` (which eval items were scored). Each part is
    scaled by its own t quantile — S - 1 degrees of freedom for seeds, N - 1 for items — before
    they are added, so a few seeds widen the interval as a t interval over seeds would, instead
    of borrowing the items' degrees of freedom (Satterthwaite's pooled degrees of freedom, and
    splitting the error term off the seed part instead, called 2-seed curves flat 8-10% of the
    time at a 5% level in the simulation). When only a handful of items move between sizes the
    gain is a small count and as skewed, so, as Wilson's interval does for a rate, the interval
    is centred and widened by ``t² · (largest possible item slope) / (2N)``: without it, curves
    whose items flip exactly once were called flat 8-9% of the time at 100 eval items, and a curve
    with every score equal would get an interval of zero width.

    Args:
        scores: per-item scores shaped ``(..., seeds, sizes, items)``: every seed's fit at every
            size, scored on the same eval items.
        sizes: the training sizes of the second-to-last axis (at least two distinct).
        alpha: one-sided level of each end.

    Returns:
        ``(gain, low, high)``, each shaped like the leading axes. With one seed the interval
        covers the eval items only (the training draw's noise cannot be measured).
    """
    from scipy.stats import t as student_t

    y = np.asarray(scores, dtype=float)
    x = np.log2(np.asarray(sizes, dtype=float))
    centred = x - x.mean()
    weights = centred / np.sum(centred**2)
    per_item = np.einsum("...sln,l->...sn", y, weights)  # each seed's slope on each item
    n_seeds, n_items = per_item.shape[-2], per_item.shape[-1]
    cells = n_seeds * n_items
    gain = per_item.mean(axis=(-2, -1))
    item_means = per_item.mean(axis=-2)
    item_df = max(1, n_items - 1)
    item_t = student_t.ppf(1 - alpha, item_df)
    ms_items = n_seeds * np.sum((item_means - gain[..., None]) ** 2, axis=-1) / item_df
    if n_seeds == 1:
        squared = item_t**2 * ms_items / cells
    else:
        seed_means = per_item.mean(axis=-1)
        ms_seeds = n_items * np.sum((seed_means - gain[..., None]) ** 2, axis=-1) / (n_seeds - 1)
        residual = per_item - seed_means[..., None] - item_means[..., None, :] + gain[..., None, None]
        ms_error = np.sum(residual**2, axis=(-2, -1)) / ((n_seeds - 1) * item_df)
        squared = (student_t.ppf(1 - alpha, n_seeds - 1) ** 2 * ms_seeds / cells
                   + item_t**2 * np.maximum(0.0, ms_items - ms_error) / cells)
    # When only a handful of items move, the gain is a small count of them and as skewed:
    # like Wilson's interval for a rate, centre and widen by what one more moving item could
    # weigh (scores in [0, 1]: at most the sum of the positive weights). It also keeps the
    # interval from collapsing when no item moves at all.
    step = item_t**2 * np.sum(np.clip(weights, 0, None)) / (2 * n_items)
    half = np.sqrt(squared + step**2)
    return gain, gain + step - half, gain + step + half


def doubling_gain(scores: np.ndarray, sizes: list[int], margin: float) -> DoublingGain:
    """The gain per doubling over ``sizes`` for one model, and whether the curve is flat at ``margin``.

    Args:
        scores: per-item scores shaped ``(seeds, sizes, items)``.
        sizes: the training sizes, ascending, at least two.
        margin: the gain per doubling below which the curve counts as flat.
    """
    y = np.asarray(scores, dtype=float)
    gain, low, high = (float(v) for v in gain_intervals(y, sizes))
    n_seeds, n_items = y.shape[0], y.shape[-1]
    if n_seeds == 1:
        method = ("slope of score on log2(size); one seed, so the interval covers the eval items only and the "
                  "curve is never called flat (run with --seeds 2 or more)")
    else:
        method = (f"slope of score on log2(size) over {n_seeds} seeds x {n_items} eval items; interval from a "
                  f"two-way seeds x items analysis of variance, each part at its own t quantile "
                  f"({n_seeds - 1} and {n_items - 1} df)")
    flat = n_seeds > 1 and high < margin
    return DoublingGain(list(sizes), n_seeds, n_items, gain, low, high, 1 - 2 * FLAT_ALPHA, margin, flat, method)


@dataclass
class LearningCurve:
    """Every point of a curve, what each doubling still buys per model, and the cost of each size.

    Attributes:
        spec_name: the task.
        metric: the scorer's primary metric.
        n_train: items in the training split.
        n_eval: eval items every point is scored on.
        seeds: seeds per size.
        margin: the flattening tolerance in points per doubling (the spec's non-inferiority
            margin unless overridden).
        points: every (model, size) point.
        gains: model -> the gain per doubling over the last sizes with its interval and flat
            test (None with a single size).
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
    gains: dict[str, DoublingGain | None]
    costs: list[SizeCost] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def models(self) -> list[str]:
        """Model names in order of first appearance."""
        return list(dict.fromkeys(point.model for point in self.points))

    def sizes(self) -> list[int]:
        """Training sizes, ascending."""
        return sorted({point.size for point in self.points})


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
        if "flat_from" in raw and "gains" not in raw:
            # Written before the slope test: its point-rule "flat from" claim is not carried over.
            del raw["flat_from"]
            raw["gains"] = {}
            raw["notes"] = list(raw.get("notes", [])) + [
                "written by an older distilleval without the gain-per-doubling test; rerun distilleval curve for it"]
        raw["gains"] = {model: None if gain is None else DoublingGain(**gain) for model, gain in raw["gains"].items()}
        return LearningCurve(**raw)
    except (OSError, ValueError, TypeError, KeyError) as err:
        raise DataError(f"{path}: not a readable learning curve ({err.__class__.__name__}: {err})") from None
