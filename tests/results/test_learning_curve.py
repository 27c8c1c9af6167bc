"""Learning-curve points, the gain per doubling and its flat test, and the JSON file round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from distilleval.errors import DataError
from distilleval.results.learning_curve import (
    FLAT_ALPHA,
    WINDOW,
    CurvePoint,
    LearningCurve,
    SizeCost,
    doubling_gain,
    gain_intervals,
    read_curve,
    write_curve,
)
from tests.montecarlo import DENSE, REPLICATES, error_rate_bound


def points(*pairs: tuple[int, float]) -> list[CurvePoint]:
    return [CurvePoint.of("m", size, [score], 200) for size, score in pairs]


def test_point_summarises_seeds_with_an_interval_around_the_mean():
    point = CurvePoint.of("tfidf", 100, [0.70, 0.80, 0.75], 200)
    assert point.mean == pytest.approx(0.75)
    assert point.low < 0.75 < point.high
    assert point.seed_sd == pytest.approx(0.05)
    assert CurvePoint.of("tfidf", 100, [0.7], 200).seed_sd == 0.0


def _scores(rng, rates: list[float], *, seeds: int = 3, items: int = 400) -> np.ndarray:
    """(seeds, sizes, items) 0/1 scores: item i right at a size when its threshold is below the rate
    (items learnt stay learnt), with a little seed-to-seed jitter of the rate."""
    thresholds = rng.random(items)
    jitter = rng.normal(0, 0.01, (seeds, len(rates), 1))
    return (thresholds < np.asarray(rates)[None, :, None] + jitter).astype(float)


def test_gain_is_the_slope_per_doubling_of_the_mean_scores():
    # Per-item slopes average to the slope of the mean curve: +4 pts per doubling exactly.
    sizes = [100, 200, 400]
    scores = np.zeros((2, 3, 4))
    scores[:, 1, :1] = scores[:, 2, :2] = 1.0  # item means 0, 0.25, 0.5 on 4 items, both seeds
    gain, low, high = gain_intervals(scores, sizes)
    assert float(gain) == pytest.approx(0.25)
    assert low < gain < high
    # Sizes not doubling: the slope is per doubling (log2), 500 -> 1000 -> 4000 is 1 then 2 doublings.
    one = np.array([[[0.0], [0.1], [0.3]]])
    assert float(gain_intervals(one, [500, 1000, 4000])[0]) == pytest.approx(0.1)


def test_a_flat_curve_with_many_items_is_called_flat_and_a_rising_one_is_not():
    rng = np.random.default_rng(1)
    flat = doubling_gain(_scores(rng, [0.80, 0.80, 0.80], items=2_000), [1_000, 2_000, 4_000], margin=0.02)
    assert flat.flat and flat.high < 0.02 and flat.sizes == [1_000, 2_000, 4_000]
    rising = doubling_gain(_scores(rng, [0.60, 0.64, 0.68], items=2_000), [1_000, 2_000, 4_000], margin=0.02)
    assert not rising.flat and rising.low > 0.02 and rising.gain == pytest.approx(0.04, abs=0.01)


def test_one_seed_is_never_called_flat_and_says_why():
    rng = np.random.default_rng(2)
    gain = doubling_gain(_scores(rng, [0.8, 0.8, 0.8], seeds=1, items=2_000), [100, 200, 400], margin=0.05)
    assert not gain.flat and gain.high < 0.05 and "one seed" in gain.method


def test_identical_scores_never_give_a_zero_width_interval():
    # Every fit right on every item: no item moves, yet a handful of items cannot prove the curve
    # flat; a thousand can (the interval's width shrinks with the number of items, never to zero).
    few = doubling_gain(np.ones((3, 3, 5)), [100, 200, 400], margin=0.03)
    assert few.high - few.low > 0 and not few.flat
    many = doubling_gain(np.ones((3, 3, 1_000)), [100, 200, 400], margin=0.03)
    assert 0 < many.high - many.low < 0.03 and many.flat


def test_the_gain_does_not_depend_on_the_order_of_items_or_seeds():
    rng = np.random.default_rng(3)
    scores = _scores(rng, [0.5, 0.55, 0.58])
    shuffled = scores[::-1][:, :, rng.permutation(scores.shape[-1])]
    a, b = doubling_gain(scores, [50, 100, 200], 0.03), doubling_gain(shuffled, [50, 100, 200], 0.03)
    assert (a.gain, a.low, a.high) == pytest.approx((b.gain, b.low, b.high))


def test_curve_file_round_trip(tmp_path):
    gain = doubling_gain(_scores(np.random.default_rng(4), [0.5, 0.8]), [50, 400], 0.03)
    curve = LearningCurve("spec", "accuracy", 400, 200, 3, 0.03, points((50, 0.5), (400, 0.8)), {"m": gain, "n": None},
                          [SizeCost(50, 0.1, 0.01)], ["a note"])
    path = tmp_path / "learning_curve.json"
    write_curve(curve, path)
    assert read_curve(path) == curve


def test_a_curve_written_with_the_old_point_rule_is_read_without_its_flat_claim(tmp_path):
    curve = LearningCurve("spec", "accuracy", 400, 200, 1, 0.03, points((50, 0.5), (400, 0.8)), {}, [], [])
    path = tmp_path / "learning_curve.json"
    write_curve(curve, path)
    raw = json.loads(path.read_text())
    del raw["gains"]
    raw["flat_from"] = {"m": 50}
    path.write_text(json.dumps(raw))
    read = read_curve(path)
    assert read.gains == {} and "older distilleval" in read.notes[-1]


def test_unreadable_curve_is_a_data_error(tmp_path):
    path = tmp_path / "learning_curve.json"
    path.write_text('{"points": 3}')
    with pytest.raises(DataError, match="learning_curve.json"):
        read_curve(path)


# --- Simulation: at most 5% false "flat" among curves whose gain per doubling equals the margin ---
#
# Model: sizes 200 · 2^j (or the given sizes); the expected score at a size is 0.6 + gain · log2(size / first).
# Each eval item has a threshold t ~ U(0, 1) shared by every fit; the fit of seed s at size j gets the
# item right when t + e < mean_j + d_sj, with d_sj ~ N(0, tau) the training draw of that seed at that
# size and e ~ U(-noise, noise) per (seed, size, item). The expected score is exactly mean_j + d_sj, so
# the curve's gain per doubling is exactly ``gain``. 2,000 seeded replicates a cell, decided by
# ``gain_intervals`` (the function ``doubling_gain`` calls) over the last WINDOW sizes.


def simulated_curves(rng, *, sizes, seeds, items, gain, tau=0.02, noise=0.1, replicates=REPLICATES):
    x = np.log2(np.asarray(sizes, dtype=float) / sizes[0])
    mean = 0.6 + gain * x
    thresholds = rng.random((replicates, 1, 1, items))
    draw = rng.normal(0, tau, (replicates, seeds, len(sizes), 1))
    jitter = rng.uniform(-noise, noise, (replicates, seeds, len(sizes), items))
    return (thresholds + jitter < mean[None, None, :, None] + draw).astype(float)


def false_flat_rate(rng, *, sizes, seeds, items, margin, **model) -> float:
    scores = simulated_curves(rng, sizes=sizes, seeds=seeds, items=items, gain=margin, **model)
    _, _, high = gain_intervals(scores[:, :, -WINDOW:, :], sizes[-WINDOW:])
    return float(np.mean(high < margin))


GRID = [(n_sizes, seeds) for n_sizes in (2, 3, 5) for seeds in (2, 3, 5)]
DENSE_GRID = [
    dict(items=items, tau=tau, noise=noise, margin=margin)
    for items in (100, 1_000) for tau in (0.0, 0.03) for noise in (0.0, 0.3) for margin in (0.02, 0.05)
]


@pytest.mark.parametrize("n_sizes, seeds", GRID)
def test_curves_gaining_the_margin_per_doubling_are_rarely_called_flat(n_sizes, seeds):
    rng = np.random.default_rng(100 * n_sizes + seeds)
    sizes = [200 * 2**j for j in range(n_sizes)]
    rate = false_flat_rate(rng, sizes=sizes, seeds=seeds, items=300, margin=0.03)
    assert rate <= error_rate_bound(FLAT_ALPHA), (n_sizes, seeds, rate)


def test_sizes_that_do_not_double_are_handled_per_doubling():
    rng = np.random.default_rng(9)
    rate = false_flat_rate(rng, sizes=[500, 1_000, 2_000, 5_000, 10_000], seeds=3, items=300, margin=0.03)
    assert rate <= error_rate_bound(FLAT_ALPHA)


def test_curves_gaining_twice_the_margin_are_almost_never_called_flat_and_flat_ones_usually_are():
    rng = np.random.default_rng(12)
    sizes = [1_000, 2_000, 4_000]
    steep = simulated_curves(rng, sizes=sizes, seeds=3, items=1_000, gain=0.06, replicates=500)
    assert np.mean(gain_intervals(steep, sizes)[2] < 0.03) <= 0.01
    level = simulated_curves(rng, sizes=sizes, seeds=3, items=1_000, gain=0.0, tau=0.005, replicates=500)
    assert np.mean(gain_intervals(level, sizes)[2] < 0.03) >= 0.8


@pytest.mark.skipif(not DENSE, reason="dense grid: set DISTILLEVAL_DENSE_STATS=1")
@pytest.mark.parametrize("cell", DENSE_GRID, ids=lambda c: "-".join(f"{k}{v}" for k, v in c.items()))
@pytest.mark.parametrize("seeds", (2, 3, 5))
def test_dense_grid_false_flat(cell, seeds):
    rng = np.random.default_rng(seeds * 7 + int(cell["items"]))
    rate = false_flat_rate(rng, sizes=[200, 400, 800, 1_600], seeds=seeds, **cell)
    assert rate <= error_rate_bound(FLAT_ALPHA), (cell, seeds, rate)
