"""The recipe's step arithmetic that `train` and every cost projection share."""

import pytest

from distilleval.costs.training_plan import (
    MIN_STEPS,
    Requested,
    heldout_indices,
    plan_schedule,
    requested_by_spec,
    steps_for,
)
from distilleval.errors import ConfigurationError
from distilleval.spec.task_spec import TrainingSpec


def test_small_data_halves_the_batch_then_raises_the_epochs_and_says_so():
    schedule = plan_schedule(270, Requested(), recipe="cookbook")
    # 270 rows: 12 steps at batch 128; batch 16 gives 68 at 4 epochs, so 6 epochs reach 102.
    assert (schedule.batch_size, schedule.epochs, schedule.steps) == (16, 6, 102)
    assert [a.split(":")[0] for a in schedule.adaptations] == ["batch_size 128 -> 16", "epochs 4 -> 6"]
    assert schedule.warnings == []


def test_values_the_spec_wrote_are_kept_even_when_short():
    schedule = plan_schedule(317, requested_by_spec(TrainingSpec(epochs=4, rank=16)), recipe="cookbook")
    assert (schedule.batch_size, schedule.epochs, schedule.rank, schedule.steps) == (16, 4, 16, 80)
    assert schedule.steps < MIN_STEPS and "only 80 optimizer steps" in schedule.warnings[0]


def test_the_seed_recipe_is_applied_as_is():
    schedule = plan_schedule(40, Requested(), recipe="seed")
    assert (schedule.batch_size, schedule.epochs, schedule.steps, schedule.adaptations) == (128, 4, 4, [])


def test_requested_by_spec_leaves_defaults_to_the_recipe():
    assert requested_by_spec(TrainingSpec()) == Requested()
    assert requested_by_spec(TrainingSpec(batch_size=32, learning_rate=2e-4)) == Requested(
        learning_rate=2e-4, batch_size=32
    )


def test_unknown_recipe_is_refused():
    with pytest.raises(ConfigurationError, match="unknown training recipe 'fast'"):
        plan_schedule(100, Requested(), recipe="fast")  # type: ignore[arg-type]


def test_heldout_rows_are_a_seeded_floor_share():
    held = heldout_indices(352, 0.1, 0)
    assert len(held) == 35 and held == heldout_indices(352, 0.1, 0) and held != heldout_indices(352, 0.1, 1)
    assert heldout_indices(9, 0.1, 0) == set() and steps_for(0, 16, 4) == 0
