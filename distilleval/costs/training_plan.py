"""How many rows, epochs and optimizer steps a LoRA run will have: the recipe's step arithmetic.

``distilleval train`` (``training/recipe``) and every cost projection (``estimate``, ``cost
SPEC``, the report's one-time cost) call the same ``plan_schedule`` on the same training-set
size, so the training tokens a projection prices are those the trainer will send. The learning
rate, which needs the base model's catalogue facts and changes no cost, stays in
``training/recipe``.

Two recipes:

- ``cookbook`` (the default): the Tinker cookbook asks for at least ~100 optimizer steps. When
  the data is too small for that at batch 128, the batch is halved (down to 16), then the
  epochs raised (up to 10); each change is recorded with its reason. When even that is short,
  the run goes ahead with a warning saying how many steps it gets.
- ``seed``: the recipe distilleval shipped first (4 epochs, rank 32, batch 128), applied as is.

A value the user set (spec ``training:`` or a command-line flag) is never changed.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from distilleval.errors import ConfigurationError

if TYPE_CHECKING:
    from distilleval.spec.task_spec import TrainingSpec

Recipe = Literal["cookbook", "seed"]
RECIPES: tuple[str, ...] = ("cookbook", "seed")

REFERENCE_BATCH = 128
MIN_STEPS = 100
MIN_BATCH = 16
MAX_EPOCHS = 10
DEFAULT_HELDOUT_FRACTION = 0.1
"""Share of the labelled rows ``distilleval train`` keeps out for held-out loss unless told otherwise."""

class ScheduleDefaults(TypedDict):
    """A recipe's starting epochs, LoRA rank and batch size."""

    epochs: int
    rank: int
    batch_size: int


class SeedRecipe(ScheduleDefaults):
    """The seed recipe fixes the learning rate too."""

    learning_rate: float


SEED_RECIPE: SeedRecipe = {"learning_rate": 1e-4, "epochs": 4, "rank": 32, "batch_size": 128}
COOKBOOK_DEFAULTS: ScheduleDefaults = {"epochs": 4, "rank": 32, "batch_size": REFERENCE_BATCH}


@dataclass(frozen=True)
class Requested:
    """What the user set; None means "let the recipe decide"."""

    learning_rate: float | None = None
    epochs: int | None = None
    batch_size: int | None = None
    rank: int | None = None


def requested_by_spec(training: TrainingSpec) -> Requested:
    """The values a spec's ``training:`` block wrote (the ones a recipe must keep)."""

    def written(name: str) -> Any:
        return getattr(training, name) if training.explicitly_set(name) else None

    return Requested(
        learning_rate=written("learning_rate"), epochs=written("epochs"),
        batch_size=written("batch_size"), rank=written("rank"),
    )


@dataclass
class Schedule:
    """Epochs, batch size, rank and steps a run will use, and the reason for every change."""

    recipe: Recipe
    epochs: int
    batch_size: int
    rank: int
    steps: int
    adaptations: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def steps_for(train_rows: int, batch_size: int, epochs: int) -> int:
    """Optimizer steps of a run: one per batch, the last batch of an epoch may be short.

    >>> steps_for(360, 16, 4), steps_for(0, 16, 4)
    (92, 0)
    """
    return epochs * math.ceil(train_rows / batch_size)


def plan_schedule(train_rows: int, requested: Requested, *, recipe: Recipe) -> Schedule:
    """Decide batch size and epochs for ``train_rows`` training rows (see the module docstring).

    Raises:
        ConfigurationError: unknown recipe.
    """
    if recipe not in RECIPES:
        raise ConfigurationError(f"unknown training recipe {recipe!r}; expected one of {', '.join(RECIPES)}")
    defaults: ScheduleDefaults = SEED_RECIPE if recipe == "seed" else COOKBOOK_DEFAULTS
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
    return Schedule(recipe, epochs, batch, rank, steps, adaptations, warnings)


def heldout_indices(rows: int, fraction: float, seed: int) -> set[int]:
    """Which of ``rows`` rows ``distilleval train`` keeps out: ``floor(rows * fraction)``, by a seeded shuffle.

    Raises:
        ValueError: ``fraction`` outside [0, 1).
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"heldout_fraction must be in [0, 1), got {fraction}")
    order = list(range(rows))
    random.Random(f"heldout:{seed}").shuffle(order)
    return set(order[: int(rows * fraction)])
