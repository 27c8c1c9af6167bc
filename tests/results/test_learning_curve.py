"""Learning-curve points, the gain per doubling and its flat test, and the JSON file round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from distilleval.errors import DataError
from distilleval.results.learning_curve import (
    CurvePoint,
    LearningCurve,
    SizeCost,
    doubling_gain,
    gain_intervals,
    read_curve,
    write_curve,
)


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
