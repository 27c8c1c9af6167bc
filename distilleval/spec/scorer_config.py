"""The ``scorer:`` section of a task spec, one model per scorer kind.

These are configuration only; the metric code lives beside this module. Kept free of heavy
imports so loading a spec stays fast.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, PositiveFloat, PositiveInt, Tag, field_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class TextNormalization(_Strict):
    """Declared normalisation of strings before comparing them; nothing is implicit."""

    case: bool = False
    whitespace: bool = False
    punctuation: bool = False


class ExactMatchScorer(_Strict):
    """Exact match of a label (or text) against the gold answer."""

    kind: Literal["exact_match"] = "exact_match"
    normalize: TextNormalization = TextNormalization()
    aliases: dict[str, list[str]] = Field(
        default_factory=dict, description="label -> other spellings that count as that label"
    )


class ValueNormalization(_Strict):
    """How JSON field values are normalised before comparison."""

    case: bool = True
    whitespace: bool = True
    numbers: bool = True
    currency: bool = False
    dates: bool = False
    day_first: bool = Field(default=True, description="read 01/02/2024 as 1 February (dates: true)")


class JsonFieldsScorer(_Strict):
    """Per-field precision / recall / F1 over JSON outputs."""

    kind: Literal["json_fields"] = "json_fields"
    fields: list[str] | None = Field(
        default=None, description="fields to score; default: every field of the gold"
    )
    list_fields: list[str] = Field(
        default_factory=list,
        description="fields holding lists of items, matched one-to-one (Hungarian assignment)",
    )
    normalize: ValueNormalization = ValueNormalization()
    null_is_missing: bool = Field(
        default=True, description="treat a null value the same as an absent field"
    )


class SpansScorer(_Strict):
    """Entity span matching (PII): strict, exact boundary, partial overlap or type only."""

    kind: Literal["spans"] = "spans"
    mode: Literal["strict", "exact_boundary", "partial", "type"] = "strict"
    list_field: str = Field(default="entities", description="the output field holding the spans")
    locate: Literal["offsets", "text", "offsets_then_text"] = Field(
        default="offsets",
        description=(
            "how a predicted span is placed in the input: its offsets; its text (the k-th "
            "prediction of a string takes that string's k-th occurrence); or its offsets when "
            "input[start:end] equals its text, else its text"
        ),
    )
    input_field: str | None = Field(
        default=None,
        description="the input field the offsets refer to (locate by text); default: the only input field",
    )


class SqlExecutionScorer(_Strict):
    """Execution accuracy: run gold and predicted SQL read-only and compare results."""

    kind: Literal["sql_execution"] = "sql_execution"
    database: str = Field(description="SQLite file, relative to the spec")
    timeout_s: PositiveFloat = Field(default=5.0, le=3600, description="per query: running it, then comparing results")
    float_tolerance: float = Field(default=1e-6, ge=0, description="for REAL values; integers compare exactly")
    workers: PositiveInt | None = Field(default=None, le=256, description="worker processes; default: CPU count")
    max_rows: PositiveInt = Field(default=1_000_000, le=100_000_000, description="a result with more rows scores wrong")
    gold_separator: str | None = Field(
        default=None, description="split a gold cell into several acceptable queries on this"
    )
    max_query_chars: PositiveInt = Field(
        default=100_000, le=10_000_000, description="a longer query is not run and scores wrong (reason too_long)"
    )


class PythonScorer(_Strict):
    """A user function ``fn(prediction: str, gold, item) -> float`` in [0, 1].

    See ``distilleval.scoring.python`` for the full contract (a raising function is an
    error for that item only).
    """

    kind: Literal["python"] = "python"
    ref: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$", description="'package.module:function'")
    timeout_s: float = Field(default=10.0, gt=0, le=3600, description="per item; a call still running is killed")
    workers: PositiveInt | None = Field(default=None, le=256, description="worker processes; default: CPU count")


class JudgeAlignment(_Strict):
    """The human-judged set a judge is measured on, and what it must show before its verdicts count."""

    path: str = Field(description="JSONL or CSV of (input fields, output, verdict), relative to the spec")
    output: str = Field(default="output", description="the column holding the judged answer")
    verdict: str = Field(default="verdict", description="the column holding the human verdict: pass/fail, true/false, 1/0")
    min_rows: PositiveInt = Field(default=30, le=10_000_000, description="fewest alignment rows before verdicts count")
    min_sensitivity_lower: float | None = Field(
        default=None, ge=0, le=1, description="lowest acceptable lower 95% bound of the judge's sensitivity"
    )
    min_specificity_lower: float | None = Field(
        default=None, ge=0, le=1, description="lowest acceptable lower 95% bound of the judge's specificity"
    )


class JudgeScorer(_Strict):
    """A judge model grades each answer against a criteria file (free-text tasks).

    The judge is called like any model (cache, retries, resume, pricing, every route); it is never
    told which model wrote an answer. Its measured error on ``alignment`` corrects every figure it
    scores (``distilleval.results.judge_correction``). See docs/judge.md.
    """

    kind: Literal["judge"] = "judge"
    model: str = Field(min_length=1, description="the judge's LiteLLM id (or an OpenAI-compatible model name)")
    criteria: str = Field(min_length=1, description="file with what a right answer must do, relative to the spec")
    scale: Literal["pass_fail", "graded"] = "pass_fail"
    pass_score: int = Field(default=4, ge=1, le=5, description="graded scale (1-5): the lowest score that passes")
    reference: str | None = Field(default=None, description="the data's gold column, shown to the judge as a reference answer")
    pairwise: bool = Field(default=False, description="also compare teacher and student side by side, in both orders")
    alignment: JudgeAlignment | None = None
    api_base: str | None = None
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    fast_path: bool = False
    price_as: str | None = None
    max_tokens: PositiveInt = Field(default=256, le=1_000_000)
    timeout_s: float = Field(default=60.0, gt=0, le=86_400)


BUILT_IN_SCORER_KINDS = ("exact_match", "json_fields", "spans", "sql_execution", "python", "judge")
SCORER_KINDS = BUILT_IN_SCORER_KINDS  # kept for callers that list the built-in kinds

_registered_kinds: set[str] = set()
_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
REGISTERED_TAG = "registered_scorer"


def note_registered_kind(kind: str) -> None:
    """Let specs name ``kind`` (called by ``distilleval.scoring.register_scorer``)."""
    _registered_kinds.add(kind)


def known_scorer_kinds() -> list[str]:
    """The built-in kinds, then the kinds registered in this process, sorted."""
    return [*BUILT_IN_SCORER_KINDS, *sorted(_registered_kinds - set(BUILT_IN_SCORER_KINDS))]


def is_scorer_import_path(kind: str) -> bool:
    """True for ``"package.module:factory"``, a scorer factory a spec names by import path."""
    return bool(_IMPORT_PATH.match(kind))


class RegisteredScorer(BaseModel):
    """A scorer the user registered in Python (``register_scorer("name", factory)``) or named by
    import path (``kind: "package.module:factory"``, a factory ``(config, spec) -> Scorer``).

    Keys besides ``kind`` are the scorer's own settings, passed to the factory as attributes of
    this config (``config.threshold``) and listed in ``config.model_extra``.
    """

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)

    kind: str

    @field_validator("kind")
    @classmethod
    def _kind_is_known(cls, kind: str) -> str:
        if kind not in _registered_kinds and not is_scorer_import_path(kind):
            raise ValueError(
                f"unknown scorer kind {kind!r}; expected one of {', '.join(known_scorer_kinds())}, "
                "or a factory's import path 'package.module:name'"
            )
        return kind


def _scorer_tag(value: Any) -> str | None:
    """The union member for a ``scorer:`` mapping: its built-in kind, else the registered one."""
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    if kind is None:
        return None
    return kind if kind in BUILT_IN_SCORER_KINDS else REGISTERED_TAG


ScorerConfig = Annotated[
    Union[
        Annotated[ExactMatchScorer, Tag("exact_match")],
        Annotated[JsonFieldsScorer, Tag("json_fields")],
        Annotated[SpansScorer, Tag("spans")],
        Annotated[SqlExecutionScorer, Tag("sql_execution")],
        Annotated[PythonScorer, Tag("python")],
        Annotated[JudgeScorer, Tag("judge")],
        Annotated[RegisteredScorer, Tag(REGISTERED_TAG)],
    ],
    Discriminator(
        _scorer_tag,
        custom_error_type="scorer_kind_missing",
        custom_error_message=(f"a 'kind' key is needed: one of {', '.join(BUILT_IN_SCORER_KINDS)}, a kind registered "
                              "with register_scorer, or a factory's import path 'package.module:name'"),
    ),
]
