"""The spec's ``iterate:`` block: how ``distilleval iterate`` grows the training data round by round.

Each round takes the student's failures on the training split, asks the teacher for
``per_class`` new inputs like them for every weak class (a class whose recall on the training
split, measured out of fold, is below ``weak_recall``, or that has no training example at all),
drops near-duplicates (character 3-gram TF-IDF cosine at or above ``similarity_threshold``) of
each other, of the training data and of every eval item, has the teacher label the rest and
retrains. The loop stops when a round gained less than ``min_gain`` (default: the spec's
``gates.non_inferiority_margin``, else ``DEFAULT_MIN_GAIN``), when the next round's estimated
cost would pass ``spend_limit_usd``, or after ``max_rounds`` rounds (round 1 is the student as
the run trained it).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

DEFAULT_MIN_GAIN = 0.01
"""Accuracy a round must add to earn another round, when neither ``min_gain`` nor a margin is set."""

GENERATION_PLACEHOLDERS = ("task", "labels", "label", "examples", "n", "round", "format")
"""What a generation prompt may use: the task description, the label set, the weak class, the
failure examples shown, how many inputs to write, the round number and the answer format."""

DEFAULT_GENERATION_PROMPT = """\
You write new inputs for a classification task.
Task: {task}
Possible answers: {labels}.
A small student model gets inputs whose right answer is "{label}" wrong. Inputs like the ones it missed:
{examples}
Write {n} new inputs whose right answer is "{label}" (round {round} of adding data). Make each one \
different from the others and from the examples: vary the wording, the length and the details, and never \
copy an example.
{format}"""
"""The generation prompt used when the spec's ``iterate:`` block names none."""


class IterateSpec(BaseModel):
    """Settings of ``distilleval iterate`` (every one optional)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    generation_prompt: str | None = Field(
        default=None, min_length=1,
        description="a template (or a .md/.txt file) over {task} {labels} {label} {examples} {n} {round} {format}",
    )
    per_class: PositiveInt = Field(default=20, le=10_000, description="new inputs asked for per weak class per round")
    max_rounds: int = Field(default=4, ge=2, le=100, description="rounds at most, round 1 being the run's student")
    similarity_threshold: float = Field(
        default=0.9, gt=0, le=1,
        description="character 3-gram TF-IDF cosine at or above which two inputs are near-duplicates",
    )
    spend_limit_usd: float | None = Field(default=None, ge=0, le=1e9, description="stop before a round would pass it")
    min_gain: float | None = Field(
        default=None, ge=0, le=1, description="accuracy a round must add to go on (default: the non-inferiority margin)"
    )
    weak_recall: float = Field(default=0.8, gt=0, le=1, description="a class below this training-side recall is weak")
    examples_shown: int = Field(default=5, ge=0, le=100, description="failure examples shown per generation prompt")
    temperature: float = Field(default=1.0, ge=0, le=2, description="sampling temperature of the generation calls")
    max_tokens_per_input: PositiveInt = Field(default=80, le=100_000, description="output room per asked input")

    # Filled in by the loader: the template text after reading a prompt file.
    generation_prompt_text: str = Field(default="", exclude=True)

    @property
    def template(self) -> str:
        """The generation prompt's text (the default one when the spec names none)."""
        return self.generation_prompt_text or self.generation_prompt or DEFAULT_GENERATION_PROMPT

    def gain_needed(self, margin: float | None) -> float:
        """The accuracy a round must add: ``min_gain``, else the spec's margin, else the default."""
        if self.min_gain is not None:
            return self.min_gain
        return margin if margin is not None else DEFAULT_MIN_GAIN
