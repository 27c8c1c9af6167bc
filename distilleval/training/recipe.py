"""The training recipe: learning rate, batch size and epochs a run uses, and why.

Two recipes:

- ``cookbook`` (the default): the Tinker cookbook's supervised-learning guidance.
  The learning rate comes from its published LoRA formula (``skills/research/references/
  hyperparams.md``)::

      LR = lr_base * M_LoRA * (2000 / H) ** P      lr_base = 5e-5, M_LoRA = 10,
                                                   H = the model's hidden size,
                                                   P = 0.0775 (Qwen) or 0.781 (Llama)

  which gives 4.73e-4 for Qwen3-8B (H = 4096). The formula is stated for batch 128; the
  same guidance scales the rate with the square root of the batch size, so a smaller batch
  gets ``LR * sqrt(batch / 128)``. The guidance also asks for at least ~100 optimizer steps:
  batch size and epochs are adapted to small data by ``costs.training_plan.plan_schedule``
  (cost projections call it too, so they price the run this module plans), and the manifest
  records each change and its reason.
- ``seed``: the recipe distilleval shipped first (learning rate 1e-4, 4 epochs, rank 32,
  batch 128), applied as is, for reproducing earlier results.

A value the user set (spec ``training:`` or a command-line flag) is never changed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from distilleval.costs.training_plan import (
    MIN_STEPS,
    RECIPES,
    REFERENCE_BATCH,
    SEED_RECIPE,
    Recipe,
    Requested,
    plan_schedule,
    steps_for,
)
from distilleval.errors import ConfigurationError

__all__ = ["MIN_STEPS", "RECIPES", "Requested", "TrainingPlan", "cookbook_learning_rate", "plan_training", "steps_for"]

LR_BASE = 5e-5
LORA_MULTIPLIER = 10.0
LR_EXPONENT = {"qwen": 0.0775, "llama": 0.781}


def cookbook_learning_rate(*, hidden_size: int | None, lr_family: str | None, model: str) -> float:
    """The cookbook's LoRA learning rate for a model, at batch 128.

    >>> round(cookbook_learning_rate(hidden_size=4096, lr_family="qwen", model="Qwen/Qwen3-8B"), 6)
    0.000473

    Raises:
        ConfigurationError: the catalogue has no hidden size or formula family for the model
            (the formula covers Qwen and Llama); set ``training.learning_rate``.
    """
    if hidden_size is None or lr_family not in LR_EXPONENT:
        raise ConfigurationError(
            f"the cookbook's learning-rate formula has no figures for {model} (it covers Qwen and Llama models "
            "with a known hidden size); set training.learning_rate (or --lr)"
        )
    return LR_BASE * LORA_MULTIPLIER * (2000 / hidden_size) ** LR_EXPONENT[lr_family]


@dataclass
class TrainingPlan:
    """The settings a run will use and the reasons behind each one the recipe chose."""

    recipe: Recipe
    learning_rate: float
    epochs: int
    batch_size: int
    rank: int
    steps: int
    learning_rate_source: str
    adaptations: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def plan_training(
    train_rows: int,
    requested: Requested,
    *,
    recipe: Recipe,
    model: str,
    hidden_size: int | None,
    lr_family: str | None,
) -> TrainingPlan:
    """Decide learning rate, batch size and epochs for ``train_rows`` training rows.

    Args:
        train_rows: rows trained on (after the held-out split).
        requested: the values the user set.
        recipe: ``cookbook`` or ``seed`` (see the module docstring).
        model, hidden_size, lr_family: the base model and its catalogue facts.

    Raises:
        ConfigurationError: unknown recipe, or no learning rate can be derived and none was set.
    """
    schedule = plan_schedule(train_rows, requested, recipe=recipe)
    batch = schedule.batch_size

    if requested.learning_rate is not None:
        learning_rate = requested.learning_rate
        source = "set by the user"
    elif recipe == "seed":
        learning_rate = SEED_RECIPE["learning_rate"]
        source = "the seed recipe's 1e-4"
    else:
        at_reference = cookbook_learning_rate(hidden_size=hidden_size, lr_family=lr_family, model=model)
        exponent = LR_EXPONENT[str(lr_family)]
        source = (
            f"cookbook formula {LR_BASE:g} x {LORA_MULTIPLIER:g} x (2000/{hidden_size})^{exponent} "
            f"= {at_reference:.3g} for {model} at batch {REFERENCE_BATCH}"
        )
        learning_rate = at_reference
        if batch != REFERENCE_BATCH:
            learning_rate = at_reference * math.sqrt(batch / REFERENCE_BATCH)
            source += f", x sqrt({batch}/{REFERENCE_BATCH}) for batch {batch} = {learning_rate:.3g}"
    return TrainingPlan(
        recipe=recipe,
        learning_rate=learning_rate,
        epochs=schedule.epochs,
        batch_size=batch,
        rank=schedule.rank,
        steps=schedule.steps,
        learning_rate_source=source,
        adaptations=schedule.adaptations,
        warnings=schedule.warnings,
    )
