"""Cascades: a cheap first model answers when confident and hands the rest to a fallback.

A cascade at threshold ``λ`` keeps the first model's answer on an item whose confidence is at
least ``λ`` and defers the item to the fallback otherwise (an item with no confidence is always
deferred). A deferred item pays for both calls and waits for both, one after the other.

- ``cascade_curve``: deferral rate, accuracy, cost per request and latency at each threshold,
  over the items given (both models answered them).
- ``split_calibration``: which items choose the threshold and which report it, by a hash of the
  item id (the same split however the data file's rows are ordered).
- ``choose_threshold``: the cheapest threshold certified, on the calibration items, to keep the
  cascade's error rate at most the fallback's plus a margin with probability at least ``1 − δ``
  (Learn-then-Test with fixed-sequence testing; see ``docs/cascades.md``).
- ``evaluate_threshold``: the chosen threshold on the other items, accuracy with its interval;
  ``choose_and_evaluate`` does the split, the choice and the evaluation in one call.

Scores are per item in [0, 1] (1 right, 0 wrong, partial credit between); error is ``1 − score``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from distilleval.results.intervals import Interval, beta_quantile, mean_interval, regularized_beta
from distilleval.spec.data import order_key

CALIBRATION_SALT = "cascade-calibration"
METHOD = ("Learn-then-Test, fixed-sequence from defer-all; at each threshold a (1 − δ) upper bound on the excess "
          "error = {loss_bound} upper bound on the losses minus lower bound on the gains, δ/2 each")
EXACT_BOUND = "Clopper–Pearson"
BOUNDED_BOUND = "Hoeffding–Bentkus"


@dataclass(frozen=True, eq=False)  # arrays: compare them with numpy, not ``==`` on the whole
class CascadeItems:
    """Per-item arrays, aligned by item, over the items both models answered.

    Attributes:
        first_correct / fallback_correct: scores in [0, 1].
        first_confidence: the first model's confidence in [0, 1], NaN (or None) when it has none
            (the item is then always deferred).
        first_cost_usd / fallback_cost_usd: cost of each call, finite and non-negative.
        first_latency_ms / fallback_latency_ms: latency of each call, NaN (or None) when unknown
            (left out of the latency percentiles).
        item_ids: unique item ids (strings).

    Raises:
        ValueError: arrays of different lengths, duplicate ids, or a value out of range.
    """

    first_correct: np.ndarray
    first_confidence: np.ndarray
    fallback_correct: np.ndarray
    first_cost_usd: np.ndarray
    fallback_cost_usd: np.ndarray
    first_latency_ms: np.ndarray
    fallback_latency_ms: np.ndarray
    item_ids: np.ndarray
    _order: np.ndarray = field(init=False, repr=False)  # positions that sort ``item_ids``; set below

    def __post_init__(self) -> None:
        ids = np.asarray(self.item_ids, dtype=str)
        object.__setattr__(self, "item_ids", ids)
        for name in ("first_correct", "first_confidence", "fallback_correct", "first_cost_usd",
                     "fallback_cost_usd", "first_latency_ms", "fallback_latency_ms"):
            values = np.asarray(getattr(self, name), dtype=float).reshape(-1)
            if len(values) != len(ids):
                raise ValueError(f"CascadeItems.{name}: {len(values)} values for {len(ids)} items")
            object.__setattr__(self, name, values)
        order = np.argsort(ids, kind="stable")
        sorted_ids = ids[order]
        if np.any(sorted_ids[1:] == sorted_ids[:-1]):
            raise ValueError("CascadeItems.item_ids: duplicate item ids")
        object.__setattr__(self, "_order", order)
        for name in ("first_correct", "fallback_correct"):
            _check_range(name, getattr(self, name), allow_nan=False)
        # A probability computed in floating point may overshoot [0, 1] by a rounding error.
        with np.errstate(invalid="ignore"):
            near = (self.first_confidence >= -_ROUNDING) & (self.first_confidence <= 1 + _ROUNDING)
        object.__setattr__(self, "first_confidence",
                           np.where(near, np.clip(self.first_confidence, 0.0, 1.0), self.first_confidence))
        _check_range("first_confidence", self.first_confidence, allow_nan=True)
        for name in ("first_cost_usd", "fallback_cost_usd"):
            values = getattr(self, name)
            if not np.all(np.isfinite(values) & (values >= 0)):
                raise ValueError(f"CascadeItems.{name}: every cost must be a finite number >= 0")
        for name in ("first_latency_ms", "fallback_latency_ms"):
            values = getattr(self, name)
            if np.any(values[~np.isnan(values)] < 0):
                raise ValueError(f"CascadeItems.{name}: a latency must be >= 0 (NaN when unknown)")

    def __len__(self) -> int:
        return len(self.item_ids)

    def subset(self, selection: np.ndarray) -> CascadeItems:
        """The items picked by a boolean mask or an index array."""
        picked = np.arange(len(self))[selection]
        return CascadeItems(**{name: getattr(self, name)[picked] for name in _FIELDS})

    def canonical(self) -> CascadeItems:
        """The same items sorted by id, so sums (and so every figure) never depend on row order."""
        order = self._order
        if np.array_equal(order, np.arange(len(self))):
            return self
        # Already validated: build the sorted copy without checking (and sorting) again.
        sorted_items = object.__new__(CascadeItems)
        for name in _FIELDS:
            object.__setattr__(sorted_items, name, getattr(self, name)[order])
        object.__setattr__(sorted_items, "_order", np.arange(len(self)))
        return sorted_items

    def kept(self, threshold: float) -> np.ndarray:
        """Boolean mask of the items the first model answers at ``threshold`` (confidence ≥ it)."""
        with np.errstate(invalid="ignore"):
            return self.first_confidence >= threshold

    def cascade_scores(self, threshold: float) -> np.ndarray:
        """Each item's score under the cascade: the first model's where kept, else the fallback's."""
        return np.where(self.kept(threshold), self.first_correct, self.fallback_correct)


_ROUNDING = 1e-9

_FIELDS = ("first_correct", "first_confidence", "fallback_correct", "first_cost_usd", "fallback_cost_usd",
           "first_latency_ms", "fallback_latency_ms", "item_ids")


def _check_range(name: str, values: np.ndarray, *, allow_nan: bool) -> None:
    present = values[~np.isnan(values)] if allow_nan else values
    if (not allow_nan and np.any(np.isnan(values))) or np.any((present < 0) | (present > 1)):
        allowed = "[0, 1] or NaN" if allow_nan else "[0, 1]"
        raise ValueError(f"CascadeItems.{name}: every value must be within {allowed}")


@dataclass(frozen=True)
class CascadePoint:
    """The cascade at one threshold, over all the items given."""

    threshold: float
    deferral_rate: float
    accuracy: float
    cost_per_request_usd: float
    latency_p50_ms: float | None
    latency_p95_ms: float | None


def fixed_threshold_grid() -> tuple[float, ...]:
    """The thresholds every cascade is evaluated at, ascending; fixed, so it never depends on data.

    Coarse where class probabilities spread (0 to 0.9 by 0.05), fine near 1 where the mean
    token probability of a confident answer sits (0.9 to 0.99 by 0.01, then 0.995 … 0.9999, 1).
    Threshold 0 keeps every item with a confidence (the first model alone).

    >>> grid = fixed_threshold_grid()
    >>> grid[0], grid[-1], len(grid)
    (0.0, 1.0, 34)
    """
    coarse = [round(0.05 * step, 4) for step in range(18)]
    fine = [round(0.9 + 0.01 * step, 4) for step in range(10)]
    return tuple(coarse + fine + [0.995, 0.998, 0.999, 0.9995, 0.9999, 1.0])


def _percentiles(values: np.ndarray) -> tuple[float | None, float | None]:
    values = values[~np.isnan(values)]
    if values.size == 0:
        return None, None
    p50, p95 = np.percentile(values, [50, 95])
    return float(p50), float(p95)


def cascade_point(items: CascadeItems, threshold: float) -> CascadePoint:
    """The cascade at one ``threshold`` over ``items`` (see ``cascade_curve``).

    Raises:
        ValueError: no items, or a NaN threshold.
    """
    if len(items) == 0:
        raise ValueError("a cascade needs at least one item")
    return _point(items.canonical(), float(threshold))


def _point(items: CascadeItems, threshold: float) -> CascadePoint:
    """``cascade_point`` on items already in canonical order."""
    if math.isnan(threshold):
        raise ValueError("a threshold must be a number, got NaN")
    kept = items.kept(threshold)
    cost = items.first_cost_usd + np.where(kept, 0.0, items.fallback_cost_usd)
    latency = items.first_latency_ms + np.where(kept, 0.0, items.fallback_latency_ms)
    p50, p95 = _percentiles(latency)
    return CascadePoint(threshold=float(threshold), deferral_rate=float(np.mean(~kept)),
                        accuracy=float(np.mean(items.cascade_scores(threshold))),
                        cost_per_request_usd=float(np.mean(cost)), latency_p50_ms=p50, latency_p95_ms=p95)


def cascade_curve(items: CascadeItems, thresholds: Sequence[float] | None = None) -> list[CascadePoint]:
    """The cascade at each threshold, over all ``items``.

    At threshold ``λ`` an item is deferred when its confidence is below ``λ`` (or missing):

    - ``deferral_rate`` = share of items deferred;
    - ``accuracy`` = mean of the first model's score on kept items and the fallback's on
      deferred ones;
    - ``cost_per_request_usd`` = mean of the first call's cost plus, when deferred, the fallback's;
    - ``latency_p50_ms`` / ``latency_p95_ms`` = percentiles (numpy's linear interpolation) of
      the first call's latency plus, when deferred, the fallback's (the calls run one after the
      other); items with an unknown latency are left out, None when none is known.

    Args:
        items: the items both models answered.
        thresholds: defaults to ``fixed_threshold_grid()``; a threshold above 1 defers every item.

    Raises:
        ValueError: no items, or a NaN threshold.

    >>> items = CascadeItems(first_correct=[1, 0], first_confidence=[0.9, 0.2], fallback_correct=[1, 1],
    ...                      first_cost_usd=[1.0, 1.0], fallback_cost_usd=[10.0, 10.0],
    ...                      first_latency_ms=[5.0, 5.0], fallback_latency_ms=[50.0, None], item_ids=["a", "b"])
    >>> point = cascade_curve(items, [0.5])[0]
    >>> point.deferral_rate, point.accuracy, point.cost_per_request_usd
    (0.5, 1.0, 6.0)
    """
    if len(items) == 0:
        raise ValueError("a cascade needs at least one item")
    grid = fixed_threshold_grid() if thresholds is None else thresholds
    items = items.canonical()
    return [_point(items, float(threshold)) for threshold in grid]


def split_calibration(item_ids: Sequence[str] | np.ndarray, fraction: float = 0.5) -> np.ndarray:
    """Boolean mask, True for calibration items: an item is in calibration when a hash of its id
    falls below ``fraction`` (the same id always lands on the same side, whatever the row order
    or the other items; the share is ``fraction`` on average, not exactly).

    Raises:
        ValueError: ``fraction`` outside (0, 1).

    >>> split_calibration(["a", "b"], 0.5).tolist() == split_calibration(["b", "a"], 0.5).tolist()[::-1]
    True
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"calibration fraction must be within (0, 1), got {fraction}")
    positions = [int.from_bytes(order_key(str(item_id), CALIBRATION_SALT)[:8], "big") / 2**64
                 for item_id in item_ids]
    return np.asarray(positions, dtype=float) < fraction


# --- the threshold with a finite-sample guarantee --------------------------------------------

@dataclass(frozen=True)
class ThresholdChoice:
    """The threshold chosen on calibration items, and what was certified.

    Attributes:
        threshold: the cheapest (lowest) threshold certified, or None when none is (defer every
            item: the cascade is the fallback).
        method: how it was chosen, in words.
        delta: the guarantee fails with probability at most this.
        margin: the excess error allowed over the fallback.
        n_calibration: calibration items.
        upper_bound_excess_error: the (1 − δ) upper bound on the cascade's error minus the
            fallback's at ``threshold`` (None when none is certified; negative when the first
            model's gains over the fallback outweigh its losses).
        tested: ``(threshold, upper bound)`` for every threshold tested, in testing order (the
            last one failed unless every threshold was certified).
    """

    threshold: float | None
    method: str
    delta: float
    margin: float
    n_calibration: int
    upper_bound_excess_error: float | None
    tested: tuple[tuple[float, float], ...] = ()


@lru_cache(maxsize=65_536)
def _binomial_upper(successes: int, n: int, level: float) -> float:
    """One-sided Clopper–Pearson upper bound: P(Binom(n, bound) ≤ successes) = level."""
    return 1.0 if successes >= n else beta_quantile(1.0 - level, successes + 1, n - successes)


def _binomial_cdf(k: int, n: int, p: float) -> float:
    """P(Binom(n, p) ≤ k)."""
    if k >= n:
        return 1.0
    if k < 0:
        return 0.0
    return regularized_beta(n - k, k + 1, 1.0 - p)


def _hoeffding_bentkus_upper(total: float, n: int, level: float) -> float:
    """Upper bound on the mean of n independent values in [0, 1] summing to ``total``: the
    largest mean whose Hoeffding–Bentkus p-value (Bates et al. 2021) is above ``level``."""
    mean = total / n
    successes = math.ceil(total - 1e-9)

    def p_value(mu: float) -> float:
        low = min(mean, mu)
        kl = (low * math.log(low / mu) if low > 0 else 0.0) + (
            (1 - low) * math.log((1 - low) / (1 - mu)) if low < 1 else 0.0)
        return min(math.exp(-n * kl), math.e * _binomial_cdf(successes, n, mu))

    low, high = mean, 1.0
    if p_value(1.0 - 1e-12) > level:
        return 1.0
    for _ in range(50):
        middle = (low + high) / 2
        if p_value(middle) > level:
            low = middle
        else:
            high = middle
    return high


def mean_upper_bound(values: np.ndarray, level: float, *, binary: bool | None = None) -> float:
    """A (1 − level) upper confidence bound on the mean of i.i.d. values in [0, 1], valid for any
    distribution: exact Clopper–Pearson for 0/1 values, Hoeffding–Bentkus otherwise.

    Args:
        values: the sample.
        level: the bound is exceeded by the true mean with probability at most this.
        binary: whether the values can only be 0 or 1 (None: they are when every value given is).

    >>> round(mean_upper_bound(np.zeros(100), 0.05), 4)
    0.0295
    """
    n = len(values)
    if n == 0:
        return 1.0
    total = float(np.sum(values))
    if binary is None:
        binary = bool(np.all((values == 0) | (values == 1)))
    if binary:
        return _binomial_upper(int(round(total)), n, float(level))
    return _hoeffding_bentkus_upper(total, n, float(level))


def _binary_scores(items: CascadeItems) -> bool:
    """Whether both models' scores are 0/1 (then every bound is exact binomial)."""
    return all(bool(np.all((v == 0) | (v == 1))) for v in (items.first_correct, items.fallback_correct))


def excess_error_upper_bound(items: CascadeItems, threshold: float, delta: float, *,
                             binary: bool | None = None) -> float:
    """A (1 − δ) upper bound on E[1(kept)·(fallback score − first score)], the cascade's error
    minus the fallback's at ``threshold``: an upper bound on the losses (kept items where the
    fallback scores higher) at δ/2 minus a lower bound on the gains (where it scores lower) at δ/2.

    Args:
        items: the calibration items.
        threshold: items with confidence at least this are kept.
        delta: the bound fails with probability at most this.
        binary: whether scores are 0/1 by design (None: when every score given is).
    """
    binary = _binary_scores(items) if binary is None else binary
    kept = items.kept(threshold)
    difference = np.where(kept, items.fallback_correct - items.first_correct, 0.0)
    losses, gains = np.clip(difference, 0.0, None), np.clip(-difference, 0.0, None)
    gains_lower = 1.0 - mean_upper_bound(1.0 - gains, delta / 2, binary=binary)
    return mean_upper_bound(losses, delta / 2, binary=binary) - gains_lower


def choose_threshold(calibration_items: CascadeItems, margin: float, delta: float,
                     thresholds: Sequence[float] | None = None, *, binary: bool | None = None) -> ThresholdChoice:
    """The cheapest threshold whose excess error over the fallback is certified at most ``margin``.

    Learn-then-Test with fixed-sequence testing: thresholds are tested from the highest (defer
    the most; defer-all has excess 0 and needs no test) down; threshold ``λ`` is certified when
    a (1 − δ) upper bound on ``E[1(confidence ≥ λ)·(fallback score − first score)]`` is at most
    ``margin``; testing stops at the first threshold that is not. With probability at least
    ``1 − δ`` over calibration items drawn exchangeably with future traffic, no threshold with a
    true excess above ``margin`` is certified, so the cascade's error rate at the choice is at
    most the fallback's plus ``margin``.

    Args:
        calibration_items: items not used for reporting.
        margin: allowed excess error, in [0, 1).
        delta: allowed failure probability, in (0, 1).
        thresholds: candidate thresholds (default ``fixed_threshold_grid()``), fixed in advance.
        binary: whether the task's scores are 0/1 by design (exact binomial bounds) or may be
            partial credit (Hoeffding–Bentkus); None: 0/1 when every calibration score is.

    Returns:
        The choice; ``threshold`` None when no threshold is certified (or no items).

    Raises:
        ValueError: ``margin`` or ``delta`` out of range, or a NaN threshold.
    """
    if not 0.0 <= margin < 1.0:
        raise ValueError(f"margin must be within [0, 1), got {margin}")
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must be within (0, 1), got {delta}")
    grid = sorted({float(t) for t in (fixed_threshold_grid() if thresholds is None else thresholds)}, reverse=True)
    if any(math.isnan(t) for t in grid):
        raise ValueError("a threshold must be a number, got NaN")
    items = calibration_items.canonical()
    binary = _binary_scores(items) if binary is None else binary
    method = METHOD.format(loss_bound=EXACT_BOUND if binary else BOUNDED_BOUND)
    chosen, bound, tested = None, None, []
    for threshold in grid if len(items) else []:
        # Above 1 no confidence is kept: the cascade is the fallback, excess 0 by construction.
        upper = 0.0 if threshold > 1.0 else excess_error_upper_bound(items, threshold, delta, binary=binary)
        tested.append((threshold, upper))
        if upper > margin:
            break
        chosen, bound = threshold, upper
    return ThresholdChoice(threshold=chosen, method=method, delta=float(delta), margin=float(margin),
                           n_calibration=len(items), upper_bound_excess_error=bound, tested=tuple(tested))


# --- the chosen threshold on the items it was not chosen on ----------------------------------

@dataclass(frozen=True)
class CascadeEvaluation:
    """A threshold evaluated on test items (those not used to choose it)."""

    threshold: float | None
    n_test: int
    accuracy: Interval
    fallback_accuracy: float
    excess_error: float
    deferral_rate: float
    cost_per_request_usd: float
    latency_p50_ms: float | None
    latency_p95_ms: float | None


def evaluate_threshold(test_items: CascadeItems, threshold: float | None, *, confidence: float = 0.95,
                       n_resamples: int = 2000, seed: int = 0) -> CascadeEvaluation:
    """The cascade at ``threshold`` (None: defer every item) on ``test_items``.

    ``accuracy`` carries the interval the codebase gives any mean score (``intervals.mean_interval``:
    Clopper–Pearson for 0/1 scores, bootstrap-t for partial credit); ``excess_error`` is the
    cascade's error minus the fallback's on the same items (observed, no interval).

    Raises:
        ValueError: no test items.
    """
    if len(test_items) == 0:
        raise ValueError("no test items to evaluate the cascade on")
    items = test_items.canonical()
    effective = math.inf if threshold is None else float(threshold)
    point = _point(items, effective)
    scores = items.cascade_scores(effective)
    fallback = float(np.mean(items.fallback_correct))
    return CascadeEvaluation(threshold=threshold, n_test=len(items),
                             accuracy=mean_interval(scores, confidence=confidence, n_resamples=n_resamples, seed=seed),
                             fallback_accuracy=fallback, excess_error=fallback - point.accuracy,
                             deferral_rate=point.deferral_rate, cost_per_request_usd=point.cost_per_request_usd,
                             latency_p50_ms=point.latency_p50_ms, latency_p95_ms=point.latency_p95_ms)


def choose_and_evaluate(items: CascadeItems, *, margin: float, delta: float, calibration_fraction: float = 0.5,
                        thresholds: Sequence[float] | None = None, binary: bool | None = None,
                        confidence: float = 0.95) -> tuple[ThresholdChoice, CascadeEvaluation | None]:
    """Split ``items`` by id hash, choose the threshold on the calibration part and evaluate it on
    the rest (None when the split leaves no test items).

    Raises:
        ValueError: as ``split_calibration`` and ``choose_threshold``.
    """
    calibration = split_calibration(items.item_ids, calibration_fraction)
    choice = choose_threshold(items.subset(calibration), margin, delta, thresholds, binary=binary)
    if calibration.all():
        return choice, None
    return choice, evaluate_threshold(items.subset(~calibration), choice.threshold, confidence=confidence)
