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
  when the data is too small for that at batch 128, the batch is halved (down to 16), then
  the epochs raised (up to 10), and the manifest records each change and its reason; when
  even that is short, the run goes ahead and the manifest says how many steps it got.
- ``seed``: the recipe distilleval shipped first (learning rate 1e-4, 4 epochs, rank 32,
  batch 128), applied as is, for reproducing earlier results.

A value the user set (spec ``training:`` or a command-line flag) is never changed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from distilleval.errors import ConfigurationError

Recipe = Literal["cookbook", "seed"]
RECIPES: tuple[str, ...] = ("cookbook", "seed")

LR_BASE = 5e-5
LORA_MULTIPLIER = 10.0
LR_EXPONENT = {"qwen": 0.0775, "llama": 0.781}
REFERENCE_BATCH = 128
MIN_STEPS = 100
MIN_BATCH = 16
MAX_EPOCHS = 10

SEED_RECIPE = {"learning_rate": 1e-4, "epochs": 4, "rank": 32, "batch_size": 128}
COOKBOOK_DEFAULTS = {"epochs": 4, "rank": 32, "batch_size": REFERENCE_BATCH}


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


@dataclass(frozen=True)
class Requested:
    """What the user set; None means "let the recipe decide"."""

    learning_rate: float | None = None
    epochs: int | None = None
    batch_size: int | None = None
    rank: int | None = None


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


def steps_for(train_rows: int, batch_size: int, epochs: int) -> int:
    """Optimizer steps of a run: one per batch, the last batch of an epoch may be short."""
    return epochs * math.ceil(train_rows / batch_size)


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
    if recipe not in RECIPES:
        raise ConfigurationError(f"unknown training recipe {recipe!r}; expected one of {', '.join(RECIPES)}")
    defaults = SEED_RECIPE if recipe == "seed" else COOKBOOK_DEFAULTS
    rank = requested.rank or defaults["rank"]
    batch = requested.batch_size or defaults["batch_size"]
    epochs = requested.epochs or defaults["epochs"]
    adaptations: list[str] = []
    warnings: list[str] = []

    if recipe == "cookbook":
        if requested.batch_size is None:
            while batch > MIN_BATCH and steps_for(train_rows, batch, epochs) < MIN_STEPS:
                batch //= 2
            if batch != defaults["batch_size"]:
                adaptations.append(
                    f"batch_size {defaults['batch_size']} -> {batch}: {train_rows} training rows give "
                    f"{steps_for(train_rows, defaults['batch_size'], epochs)} optimizer steps at batch "
                    f"{defaults['batch_size']}; the cookbook asks for at least {MIN_STEPS}"
                )
        if requested.epochs is None and steps_for(train_rows, batch, epochs) < MIN_STEPS:
            before = epochs
            while epochs < MAX_EPOCHS and steps_for(train_rows, batch, epochs) < MIN_STEPS:
                epochs += 1
            adaptations.append(
                f"epochs {before} -> {epochs}: still {steps_for(train_rows, batch, before)} steps at batch {batch}; "
                f"more passes over the data (at most {MAX_EPOCHS})"
            )
    steps = steps_for(train_rows, batch, epochs)
    if steps < MIN_STEPS:
        warnings.append(
            f"only {steps} optimizer steps ({train_rows} rows, batch {batch}, {epochs} epochs); the cookbook's "
            f"guidance is at least {MIN_STEPS}: label more data for a student that reaches its gates"
        )

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
        epochs=epochs,
        batch_size=batch,
        rank=rank,
        steps=steps,
        learning_rate_source=source,
        adaptations=adaptations,
        warnings=warnings,
    )
