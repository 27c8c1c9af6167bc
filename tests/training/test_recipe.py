"""The training recipe: the cookbook's learning rate, adaptation to small data, the seed recipe."""

import math

import pytest

from distilleval.errors import ConfigurationError
from distilleval.training.recipe import MIN_STEPS, Requested, cookbook_learning_rate, plan_training, steps_for

QWEN3_8B = {"model": "Qwen/Qwen3-8B", "hidden_size": 4096, "lr_family": "qwen"}


def test_cookbook_formula_for_qwen3_8b_is_about_4_7e_4():
    assert cookbook_learning_rate(hidden_size=4096, lr_family="qwen", model="m") == pytest.approx(4.73e-4, rel=1e-3)


def test_llama_family_uses_its_own_exponent():
    # (2000/4096)^0.781 for a Llama with hidden size 4096
    assert cookbook_learning_rate(hidden_size=4096, lr_family="llama", model="m") == pytest.approx(
        5e-4 * (2000 / 4096) ** 0.781
    )


def test_model_without_formula_figures_asks_for_an_explicit_rate():
    with pytest.raises(ConfigurationError, match="no figures for openai/gpt-oss-20b .* set training.learning_rate"):
        plan_training(5000, Requested(), recipe="cookbook", model="openai/gpt-oss-20b", hidden_size=None, lr_family=None)
    plan = plan_training(
        5000, Requested(learning_rate=2e-4), recipe="cookbook", model="openai/gpt-oss-20b", hidden_size=None, lr_family=None
    )
    assert plan.learning_rate == 2e-4 and plan.learning_rate_source == "set by the user"


def test_enough_data_keeps_the_reference_batch_and_rate():
    plan = plan_training(4000, Requested(), recipe="cookbook", **QWEN3_8B)
    assert (plan.batch_size, plan.epochs, plan.steps) == (128, 4, 128)
    assert plan.adaptations == [] and plan.warnings == []
    assert plan.learning_rate == pytest.approx(cookbook_learning_rate(hidden_size=4096, lr_family="qwen", model="m"))


@pytest.mark.parametrize("rows", [40, 317, 900, 2500])
def test_small_data_reaches_the_minimum_steps_when_it_can(rows):
    plan = plan_training(rows, Requested(), recipe="cookbook", **QWEN3_8B)
    assert plan.steps == steps_for(rows, plan.batch_size, plan.epochs)
    assert plan.steps >= MIN_STEPS or (plan.batch_size == 16 and plan.epochs == 10 and plan.warnings)
    # the rate follows the batch: sqrt scaling from the batch-128 figure
    base = cookbook_learning_rate(hidden_size=4096, lr_family="qwen", model="m")
    assert plan.learning_rate == pytest.approx(base * math.sqrt(plan.batch_size / 128))


def test_too_little_data_is_warned_about_not_hidden():
    plan = plan_training(40, Requested(), recipe="cookbook", **QWEN3_8B)
    assert (plan.batch_size, plan.epochs, plan.steps) == (16, 10, 30)
    assert plan.warnings == [
        "only 30 optimizer steps (40 rows, batch 16, 10 epochs); the cookbook's guidance is at least 100: "
        "label more data for a student that reaches its gates"
    ]


def test_values_the_user_set_are_kept():
    plan = plan_training(317, Requested(batch_size=64, epochs=2), recipe="cookbook", **QWEN3_8B)
    assert (plan.batch_size, plan.epochs) == (64, 2) and plan.adaptations == []
    assert "only 10 optimizer steps" in plan.warnings[0]


def test_seed_recipe_is_reachable_unchanged():
    plan = plan_training(317, Requested(), recipe="seed", **QWEN3_8B)
    assert (plan.learning_rate, plan.epochs, plan.rank, plan.batch_size) == (1e-4, 4, 32, 128)
    assert plan.adaptations == []
