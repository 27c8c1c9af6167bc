"""Learning-curve points, the flattening size, and the JSON file round trip."""

from __future__ import annotations

import pytest

from distilleval.errors import DataError
from distilleval.results.learning_curve import CurvePoint, LearningCurve, SizeCost, flat_from, read_curve, write_curve


def points(*pairs: tuple[int, float]) -> list[CurvePoint]:
    return [CurvePoint.of("m", size, [score], 200) for size, score in pairs]


def test_point_summarises_seeds_with_an_interval_around_the_mean():
    point = CurvePoint.of("tfidf", 100, [0.70, 0.80, 0.75], 200)
    assert point.mean == pytest.approx(0.75)
    assert point.low < 0.75 < point.high
    assert point.seed_sd == pytest.approx(0.05)
    assert CurvePoint.of("tfidf", 100, [0.7], 200).seed_sd == 0.0


def test_flat_from_is_the_first_size_after_which_everything_stays_within_the_margin():
    assert flat_from(points((50, 0.50), (100, 0.83), (200, 0.84), (400, 0.85)), 0.03) == 100
    assert flat_from(points((50, 0.50), (100, 0.80), (200, 0.84), (400, 0.85)), 0.03) == 200
    # A noisy early size that happens to reach the plateau does not count if a later one dips.
    assert flat_from(points((50, 0.84), (100, 0.70), (200, 0.84), (400, 0.85)), 0.03) == 200
    # Still rising: only the largest size is within the margin of itself.
    assert flat_from(points((50, 0.50), (100, 0.60), (200, 0.70)), 0.03) == 200
    assert flat_from(points((50, 0.5)), 0.03) is None


def test_curve_file_round_trip(tmp_path):
    curve = LearningCurve("spec", "accuracy", 400, 200, 1, 0.03, points((50, 0.5), (400, 0.8)), {"m": 400},
                          [SizeCost(50, 0.1, 0.01)], ["a note"])
    path = tmp_path / "learning_curve.json"
    write_curve(curve, path)
    assert read_curve(path) == curve


def test_unreadable_curve_is_a_data_error(tmp_path):
    path = tmp_path / "learning_curve.json"
    path.write_text('{"points": 3}')
    with pytest.raises(DataError, match="learning_curve.json"):
        read_curve(path)
