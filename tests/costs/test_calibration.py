"""An estimate against a run's measured tokens: the error measured, and the calibrated profile."""

from __future__ import annotations

import pytest

from distilleval.costs.calibration import calibrate, calibrated_profile
from distilleval.costs.estimates import RoleProfile, TokenStats


def test_the_error_is_measured_over_the_items_both_have():
    estimated = {"a": 10, "b": 20, "c": 30}
    gold = {"a": 1, "b": 1, "c": None}
    # "z" was answered in the run but is not in the data any more; "c" was not answered.
    measured = {"a": (12, 5), "b": (24, 7), "z": (99, 9)}
    c = calibrate("student", "runs/x", estimated, gold, measured)
    assert (c.items, c.estimated_input_mean, c.measured_input_mean) == (2, 15.0, 18.0)
    assert (c.estimated_output_mean, c.measured_output_mean) == (1.0, 6.0)
    assert c.input_error == pytest.approx(-3 / 18) and c.input_factor == pytest.approx(1.2)


def test_nothing_in_common_gives_no_calibration():
    assert calibrate("teacher", "r", {"a": 1}, {"a": 1}, {"b": (1, 1)}) is None
    assert calibrate("teacher", "r", {"a": 0}, {"a": 1}, {"a": (5, 1)}) is None


def test_the_calibrated_profile_scales_inputs_and_takes_the_runs_answer_length():
    profile = RoleProfile("student", "m", TokenStats.of([10, 20, 30, 40]), TokenStats.of([1, 1, 1, 1]), "cl100k")
    c = calibrate("student", "runs/x", {"a": 10, "b": 20}, {"a": 1, "b": 1}, {"a": (15, 8), "b": (30, 8)})
    calibrated = calibrated_profile(profile, c)
    assert calibrated.input_tokens.mean == pytest.approx(25 * 1.5) and calibrated.input_tokens.total == 150
    assert calibrated.output_tokens.mean == 8.0 and calibrated.output_tokens.total == 32
    assert calibrated.counted_by == "cl100k, calibrated on runs/x"
