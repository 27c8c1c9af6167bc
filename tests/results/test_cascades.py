"""Cascades: the curve's exact figures, row-order independence, the calibration split, and the
threshold's finite-sample guarantee checked by seeded simulation against the population truth."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from distilleval.results.cascades import (
    CascadeItems,
    _hoeffding_bentkus_upper,
    cascade_curve,
    choose_and_evaluate,
    choose_threshold,
    evaluate_threshold,
    excess_error_upper_bound,
    fixed_threshold_grid,
    mean_upper_bound,
    split_calibration,
)
from distilleval.results.intervals import CLOPPER_PEARSON, clopper_pearson
from tests.montecarlo import DENSE, error_rate_bound


def make_items(first, confidence, fallback, *, first_cost=None, fallback_cost=None, first_latency=None,
               fallback_latency=None, ids=None) -> CascadeItems:
    n = len(first)
    return CascadeItems(
        item_ids=ids if ids is not None else [f"item-{i}" for i in range(n)],
        first_correct=first, first_confidence=confidence, fallback_correct=fallback,
        first_cost_usd=first_cost if first_cost is not None else np.full(n, 1.0),
        fallback_cost_usd=fallback_cost if fallback_cost is not None else np.full(n, 10.0),
        first_latency_ms=first_latency if first_latency is not None else np.full(n, 10.0),
        fallback_latency_ms=fallback_latency if fallback_latency is not None else np.full(n, 100.0))


# Five items: a tie at 0.5 and an item without a confidence (always deferred).
HAND = make_items(first=[1, 0, 1, 0, 1], confidence=[0.9, 0.5, 0.5, 0.2, math.nan], fallback=[1, 1, 1, 1, 0],
                  first_latency=[10, 20, 30, 40, 50], fallback_latency=[100, 100, 100, 100, 100])


def test_the_curve_at_a_tied_threshold_keeps_the_ties_and_defers_the_item_without_confidence():
    point = cascade_curve(HAND, [0.5])[0]
    # kept: items 0, 1, 2 (confidence >= 0.5); deferred: item 3 (0.2) and item 4 (none).
    assert point.deferral_rate == 0.4
    assert point.accuracy == pytest.approx((1 + 0 + 1 + 1 + 0) / 5)
    assert point.cost_per_request_usd == pytest.approx((3 * 1 + 2 * 11) / 5)
    # latencies 10, 20, 30, 140, 150: median 30; p95 at rank 3.8 -> 140 + 0.8 * 10.
    assert point.latency_p50_ms == pytest.approx(30.0)
    assert point.latency_p95_ms == pytest.approx(148.0)


def test_the_curve_just_above_the_tie_and_at_the_ends():
    above, zero, beyond = cascade_curve(HAND, [0.51, 0.0, 1.01])
    assert above.deferral_rate == 0.8 and above.accuracy == pytest.approx(0.8)
    assert above.cost_per_request_usd == pytest.approx((1 + 4 * 11) / 5)
    # Threshold 0 keeps every item with a confidence: the first model's answers but item 4's.
    assert zero.deferral_rate == 0.2 and zero.accuracy == pytest.approx(0.4)
    assert zero.latency_p50_ms == pytest.approx(30.0)
    # Above 1 every item is deferred: the fallback alone, paying and waiting for both calls.
    assert beyond.deferral_rate == 1.0 and beyond.accuracy == pytest.approx(0.8)
    assert beyond.cost_per_request_usd == pytest.approx(11.0)
    assert beyond.latency_p50_ms == pytest.approx(130.0)


def test_partial_credit_counts_as_its_score_and_unknown_latency_is_left_out():
    items = make_items(first=[0.5, 0.25], confidence=[0.8, 0.1], fallback=[1.0, 0.75],
                       first_latency=[10, math.nan], fallback_latency=[100, 100])
    point = cascade_curve(items, [0.5])[0]
    assert point.accuracy == pytest.approx((0.5 + 0.75) / 2)
    assert point.latency_p50_ms == pytest.approx(10.0) and point.latency_p95_ms == pytest.approx(10.0)
    none_known = make_items(first=[1], confidence=[0.9], fallback=[1], first_latency=[math.nan])
    assert cascade_curve(none_known, [0.5])[0].latency_p50_ms is None


def test_the_default_grid_is_fixed_ascending_and_within_zero_and_one():
    grid = fixed_threshold_grid()
    assert list(grid) == sorted(set(grid)) and grid[0] == 0.0 and grid[-1] == 1.0
    assert 0.5 in grid and 0.99 in grid and 0.999 in grid
    assert [p.threshold for p in cascade_curve(HAND)] == list(grid)


@pytest.mark.parametrize("bad, message", [
    (dict(first=[1, 2], confidence=[0.5, 0.5], fallback=[1, 1]), "first_correct"),
    (dict(first=[1, 1], confidence=[0.5, 1.5], fallback=[1, 1]), "first_confidence"),
    (dict(first=[1, 1], confidence=[0.5], fallback=[1, 1]), "first_confidence: 1 values for 2 items"),
    (dict(first=[1, 1], confidence=[0.5, 0.5], fallback=[1, 1], ids=["a", "a"]), "duplicate"),
    (dict(first=[1, 1], confidence=[0.5, 0.5], fallback=[1, 1], first_cost=[1.0, math.nan]), "first_cost_usd"),
])
def test_bad_arrays_are_refused_naming_the_field(bad, message):
    with pytest.raises(ValueError, match=message):
        make_items(**bad)


def test_a_confidence_off_by_a_rounding_error_is_clipped_not_refused():
    items = make_items(first=[1, 1], confidence=[1 + 1e-12, -1e-12], fallback=[1, 1])
    assert items.first_confidence.tolist() == [1.0, 0.0]


def _random_items(seed: int, n: int = 300, partial: bool = False) -> CascadeItems:
    rng = np.random.default_rng(seed)
    confidence = rng.choice([0.3, 0.5, 0.9, 0.95, 0.99, 1.0], size=n)  # ties on grid values
    if partial:
        first = rng.choice([0.0, 0.5, 1.0], size=n)
        fallback = rng.choice([0.0, 0.5, 1.0], size=n, p=[0.05, 0.1, 0.85])
    else:
        first = (rng.random(n) < 0.4 + 0.6 * confidence).astype(float)
        fallback = (rng.random(n) < 0.95).astype(float)
    return make_items(first, confidence, fallback, first_cost=rng.random(n) * 1e-4, fallback_cost=rng.random(n) * 1e-2,
                      first_latency=rng.random(n) * 100, fallback_latency=rng.random(n) * 1000,
                      ids=[f"q{seed}-{i}" for i in range(n)])


def _permuted(items: CascadeItems, seed: int) -> CascadeItems:
    return items.subset(np.random.default_rng(seed).permutation(len(items)))


@pytest.mark.parametrize("partial", [False, True])
def test_permuting_the_items_changes_no_figure(partial):
    items = _random_items(3, partial=partial)
    shuffled = _permuted(items, 99)
    assert not np.array_equal(items.item_ids, shuffled.item_ids)
    assert cascade_curve(shuffled) == cascade_curve(items)  # exact equality, float sums included
    assert choose_threshold(shuffled, 0.05, 0.1) == choose_threshold(items, 0.05, 0.1)
    assert evaluate_threshold(shuffled, 0.9) == evaluate_threshold(items, 0.9)
    mask = split_calibration(items.item_ids)
    shuffled_mask = split_calibration(shuffled.item_ids)
    assert set(items.item_ids[mask]) == set(shuffled.item_ids[shuffled_mask])


def test_the_calibration_split_is_a_stable_hash_of_the_id():
    ids = [f"ticket-{i}" for i in range(10_000)]
    half = split_calibration(ids, 0.5)
    assert half.dtype == bool and np.array_equal(half, split_calibration(list(ids), 0.5))
    assert abs(half.mean() - 0.5) < 0.02
    # An id's side does not depend on the other ids, and a smaller share is a subset.
    assert np.array_equal(split_calibration(ids[:100], 0.5), half[:100])
    third = split_calibration(ids, 0.3)
    assert abs(third.mean() - 0.3) < 0.02 and not np.any(third & ~half)
    with pytest.raises(ValueError, match="fraction"):
        split_calibration(ids, 1.0)


def test_no_losses_give_the_exact_binomial_bound_and_certify_down_to_zero():
    n = 200
    items = make_items(first=np.ones(n), confidence=np.linspace(0, 1, n), fallback=np.ones(n))
    # Zero losses out of n: the one-sided Clopper–Pearson bound at δ/2 is 1 − (δ/2)^(1/n); no gains.
    expected = 1 - 0.05 ** (1 / n)
    assert excess_error_upper_bound(items, 0.0, 0.1) == pytest.approx(expected, abs=1e-12)
    certified = choose_threshold(items, margin=0.02, delta=0.1)
    assert certified.threshold == 0.0 and certified.n_calibration == n
    assert certified.upper_bound_excess_error == pytest.approx(expected)
    assert "Clopper" in certified.method and certified.delta == 0.1 and certified.margin == 0.02
    # A margin below the bound certifies nothing: the cascade is the fallback.
    refused = choose_threshold(items, margin=0.01, delta=0.1)
    assert refused.threshold is None and refused.upper_bound_excess_error is None
    assert refused.tested == ((1.0, pytest.approx(expected)),)
    # A threshold above 1 defers everything: certified with no test (excess 0 by construction).
    defer_all = choose_threshold(items, margin=0.01, delta=0.1, thresholds=[math.inf, 1.0])
    assert defer_all.threshold == math.inf and defer_all.upper_bound_excess_error == 0.0


def test_gains_lower_the_bound_by_their_lower_confidence_bound():
    # 100 items, all kept at 0: 10 losses (fallback right, first wrong), 30 gains (the reverse).
    first = np.array([0] * 10 + [1] * 30 + [1] * 60, dtype=float)
    fallback = np.array([1] * 10 + [0] * 30 + [1] * 60, dtype=float)
    items = make_items(first, np.full(100, 0.5), fallback)
    losses_upper = clopper_pearson(10, 100, confidence=0.9)[1]  # two-sided 90% = one-sided 95% each
    gains_lower = clopper_pearson(30, 100, confidence=0.9)[0]
    assert excess_error_upper_bound(items, 0.0, 0.1) == pytest.approx(losses_upper - gains_lower, abs=1e-9)


def test_testing_stops_at_the_first_threshold_that_fails():
    # Confidence 0.9: 100 items where the first model is always wrong (a huge loss once kept);
    # confidence 0.5: 900 items where it beats the fallback. At threshold 0.5 the gains outweigh the
    # losses (excess -0.8 in total), but threshold 0.9 fails first, so 0.5 is never reached.
    first = np.array([0] * 100 + [1] * 900, dtype=float)
    fallback = np.array([1] * 100 + [0] * 900, dtype=float)
    items = make_items(first, np.array([0.9] * 100 + [0.5] * 900), fallback)
    assert excess_error_upper_bound(items, 0.5, 0.1) < 0
    choice = choose_threshold(items, margin=0.02, delta=0.1, thresholds=[0.5, 0.9, 0.95])
    assert choice.threshold == 0.95 and [t for t, _ in choice.tested] == [0.95, 0.9]


@pytest.mark.parametrize("margin, delta", [(-0.01, 0.1), (1.0, 0.1), (0.02, 0.0), (0.02, 1.0)])
def test_out_of_range_margin_or_delta_is_refused(margin, delta):
    with pytest.raises(ValueError):
        choose_threshold(HAND, margin, delta)


def test_no_calibration_items_certify_nothing():
    empty = HAND.subset(np.zeros(len(HAND), dtype=bool))
    choice = choose_threshold(empty, 0.02, 0.1)
    assert choice.threshold is None and choice.n_calibration == 0 and choice.tested == ()


def test_the_bounded_bound_is_never_tighter_than_the_exact_one_on_0_1_data():
    for successes, n in [(0, 50), (3, 100), (40, 400), (100, 100)]:
        exact = mean_upper_bound(np.array([1.0] * successes + [0.0] * (n - successes)), 0.05)
        assert _hoeffding_bentkus_upper(float(successes), n, 0.05) >= exact - 1e-12
    partial = mean_upper_bound(np.array([0.5] * 10 + [0.0] * 90), 0.05)
    assert 0.05 < partial < 0.2


def test_the_chosen_threshold_evaluated_on_test_items():
    items = _random_items(5, n=400)
    report = evaluate_threshold(items, 0.95)
    scores = np.where(items.first_confidence >= 0.95, items.first_correct, items.fallback_correct)
    assert report.accuracy.estimate == pytest.approx(scores.mean())
    assert report.accuracy.method == CLOPPER_PEARSON
    low, high = clopper_pearson(int(scores.sum()), len(scores))
    assert (report.accuracy.low, report.accuracy.high) == (pytest.approx(low), pytest.approx(high))
    assert report.deferral_rate == pytest.approx(np.mean(items.first_confidence < 0.95))
    assert report.excess_error == pytest.approx(items.fallback_correct.mean() - scores.mean())
    assert report.n_test == 400
    # None: every item deferred, the fallback's accuracy at the price of both calls.
    fallback_only = evaluate_threshold(items, None)
    assert fallback_only.deferral_rate == 1.0 and fallback_only.excess_error == 0.0
    assert fallback_only.cost_per_request_usd == pytest.approx(
        np.mean(items.first_cost_usd + items.fallback_cost_usd))
    partial = evaluate_threshold(_random_items(5, n=400, partial=True), 0.95)
    assert "bootstrap" in partial.accuracy.method


def test_choose_and_evaluate_is_the_split_then_the_choice_then_the_test_part():
    items = _random_items(8, n=600)
    calibration = split_calibration(items.item_ids, 0.4)
    choice, report = choose_and_evaluate(items, margin=0.05, delta=0.1, calibration_fraction=0.4)
    assert choice == choose_threshold(items.subset(calibration), 0.05, 0.1)
    assert report == evaluate_threshold(items.subset(~calibration), choice.threshold)
    assert choice.n_calibration + report.n_test == 600


# --- the guarantee, by simulation against the population truth -------------------------------

@dataclass(frozen=True)
class Population:
    """Confidence takes a few grid values; given it, each model is right independently."""

    levels: tuple[float, ...]
    weights: tuple[float, ...]
    first_accuracy: tuple[float, ...]
    fallback_accuracy: tuple[float, ...]

    def excess(self, threshold: float | None) -> float:
        """The cascade's true error minus the fallback's at ``threshold`` (None: defer all)."""
        if threshold is None:
            return 0.0
        return sum(w * (q - g) for c, w, g, q in zip(self.levels, self.weights, self.first_accuracy,
                                                       self.fallback_accuracy) if c >= threshold)

    def draw(self, rng: np.random.Generator, n: int) -> CascadeItems:
        level = rng.choice(len(self.levels), size=n, p=self.weights)
        first = (rng.random(n) < np.asarray(self.first_accuracy)[level]).astype(float)
        fallback = (rng.random(n) < np.asarray(self.fallback_accuracy)[level]).astype(float)
        return make_items(first, np.asarray(self.levels)[level], fallback)


LEVELS = (0.3, 0.5, 0.7, 0.9, 0.95, 0.99)  # all on the grid, so thresholds meet ties


def informative(accuracy: float, slope: float, fallback: float = 0.95) -> Population:
    """The first model's accuracy rises with its confidence by ``slope`` across the levels,
    averaging ``accuracy``."""
    centre = np.mean(LEVELS)
    first = tuple(float(np.clip(accuracy + slope * (c - centre), 0, 1)) for c in LEVELS)
    return Population(LEVELS, (1 / 6,) * 6, first, (fallback,) * 6)


def boundary(margin: float) -> Population:
    """The tight cell: no loss at all above 0.7; at 0.7 the excess jumps to just above the margin,
    so certifying 0.7 (or lower) breaks the guarantee, while 0.9 is honestly safe."""
    weights = (0.3, 0.2, 0.1, 0.2, 0.1, 0.1)
    jump = (margin + 0.002) / weights[2]
    first = (0.5, 0.5, 1.0 - jump, 1.0, 1.0, 1.0)
    return Population(LEVELS, weights, first, (1.0,) * 6)


def _violation_rate(population: Population, n: int, margin: float, delta: float, replicates: int,
                    seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    violations, deferred = 0, 0.0
    for _ in range(replicates):
        choice = choose_threshold(population.draw(rng, n), margin, delta)
        violations += population.excess(choice.threshold) > margin
        deferred += 1.0 if choice.threshold is None else sum(
            w for c, w in zip(population.levels, population.weights) if c < choice.threshold)
    return violations / replicates, deferred / replicates


SIZES = (100, 400, 1000, 3000) if DENSE else (100, 400, 1000)
DELTAS = (0.05, 0.1, 0.2) if DENSE else (0.05, 0.1)
REPLICATES = 1000 if DENSE else 200
POPULATIONS = {
    "boundary m=0.02": (boundary(0.02), 0.02),
    "boundary m=0.05": (boundary(0.05), 0.05),
    "informative acc=0.8 m=0.02": (informative(0.8, 0.6), 0.02),
    "flat confidence acc=0.9 m=0.05": (informative(0.9, 0.0), 0.05),
}
if DENSE:
    POPULATIONS |= {"informative acc=0.9 m=0.03": (informative(0.9, 0.3), 0.03),
                    "informative acc=0.95 m=0.01": (informative(0.95, 0.2, fallback=0.97), 0.01)}


@pytest.mark.parametrize("name", list(POPULATIONS))
def test_the_chosen_threshold_breaks_the_margin_in_at_most_delta_of_draws(name):
    population, margin = POPULATIONS[name]
    assert not name.startswith("boundary") or population.excess(0.7) > margin >= population.excess(0.9)
    broken = []
    for size in SIZES:
        for delta in DELTAS:
            rate, _ = _violation_rate(population, size, margin, delta, REPLICATES, seed=size * 7 + int(delta * 100))
            if rate > error_rate_bound(delta, REPLICATES):
                broken.append((size, delta, rate))
    assert broken == []


def test_the_boundary_cell_is_tight_enough_to_break_a_naive_rule():
    # The same draws with the plug-in rule (certify while the observed excess is within the margin)
    # break the guarantee far more often than δ: the simulation can see a broken method.
    population, margin = POPULATIONS["boundary m=0.02"]
    rng = np.random.default_rng(11)
    violations = 0
    for _ in range(REPLICATES):
        items = population.draw(rng, 400)
        chosen = None
        for threshold in sorted(fixed_threshold_grid(), reverse=True):
            kept = items.first_confidence >= threshold
            if np.mean(kept * (items.fallback_correct - items.first_correct)) > margin:
                break
            chosen = threshold
        violations += population.excess(chosen) > margin
    assert violations / REPLICATES > 0.3


def test_a_confident_accurate_first_model_gets_a_threshold_that_defers_under_half():
    # 60% of traffic at confidence 0.99 where the first model is right 99.9% of the time; the rest at
    # 0.3 where it is right 85% (the fallback: 97% everywhere). Keeping only the confident part costs
    # nothing; keeping everything costs 3 points, over the margin.
    population = Population((0.3, 0.99), (0.4, 0.6), (0.85, 0.999), (0.97, 0.97))
    assert population.excess(0.3) > 0.02 >= population.excess(0.99)
    rng = np.random.default_rng(2)
    for _ in range(20):
        choice = choose_threshold(population.draw(rng, 1000), 0.02, 0.1)
        assert choice.threshold is not None and 0.3 < choice.threshold <= 0.99


def _partial_scores(rng: np.random.Generator, mean: np.ndarray) -> np.ndarray:
    """Scores in {0, 0.5, 1} with the given means: a fifth of the items get half credit, the rest 0/1."""
    half = rng.random(len(mean)) < 0.2
    full = (rng.random(len(mean)) < (mean - 0.1) / 0.8).astype(float)
    return np.where(half, 0.5, full)


def test_partial_credit_guarantee_holds_by_simulation():
    rng = np.random.default_rng(5)
    levels, weights = (0.5, 0.9, 0.99), (0.4, 0.3, 0.3)
    margin, delta, replicates = 0.03, 0.1, 1000 if DENSE else 150
    # Scores in {0, 0.5, 1}: the first model's mean score per level, the fallback 0.95 everywhere.
    # A boundary cell again: excess -0.006 at 0.9, just above the margin (0.032) at 0.5.
    first_mean = (0.855, 0.93, 0.99)
    excess = {t: sum(w * (0.95 - g) for c, w, g in zip(levels, weights, first_mean) if c >= t) for t in levels}
    assert excess[0.9] <= margin < excess[0.5]
    violations = certified = 0
    for _ in range(replicates):
        level = rng.choice(3, size=400, p=weights)
        items = make_items(_partial_scores(rng, np.asarray(first_mean)[level]), np.asarray(levels)[level],
                           _partial_scores(rng, np.full(400, 0.95)))
        choice = choose_threshold(items, margin, delta, thresholds=levels)
        assert "Hoeffding" in choice.method
        violations += (0.0 if choice.threshold is None else excess[choice.threshold]) > margin
        certified += choice.threshold is not None
    assert violations / replicates <= error_rate_bound(delta, replicates)
    assert certified > 0  # not vacuous: the bounded method does certify on 400 items
