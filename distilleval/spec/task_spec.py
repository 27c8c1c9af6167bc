"""The task spec: what the task is, which models play teacher and student, how to score them.

A spec is a YAML file validated by the pydantic models below. ``load_spec`` checks everything
that can be checked before a model is called (unknown keys, types, prompt placeholders against
the input fields, files that must exist) and raises ``SpecError`` with one line naming the file,
the line and the field path.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from distilleval.errors import SpecError
from distilleval.spec.iterate_settings import GENERATION_PLACEHOLDERS, IterateSpec
from distilleval.spec.prompts import template_fields
from distilleval.spec.scorer_config import (
    REGISTERED_TAG,
    SCORER_KINDS,
    ExactMatchScorer,
    JudgeScorer,
    ScorerConfig,
    SqlExecutionScorer,
)
from distilleval.spec.validation import describe_validation_error
from distilleval.spec.yaml_source import FieldPath, LineIndex, load_yaml_with_lines

PROMPT_FILE_SUFFIXES = (".md", ".txt", ".j2", ".prompt")
BASELINE_KINDS = ("tfidf_logreg", "wordllama_logreg")
MAX_NAME_CHARS = 100
"""A spec name becomes part of run directory names, which file systems cap at 255 bytes."""
MAX_PROMPT_FILE_BYTES = 1 << 20
"""Largest prompt or system file: beyond any model's context, and every item renders it once."""
MAX_USD = 1e9
"""Upper bound of any dollar amount in a spec: larger is a typo, and it overflows charts."""


class _Strict(BaseModel):
    # NaN and infinity are never a sensible setting; pydantic accepts them unless told not to.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class SplitSpec(_Strict):
    """Which items are for training (labelling) and which for evaluation.

    With ``column`` set, an item's split is read from that column. Otherwise each item is
    assigned by a stable hash of its id, so adding items never reshuffles the old ones.
    """

    column: str | None = None
    train_values: list[str] = ["train"]
    eval_values: list[str] = ["eval", "test"]
    eval_fraction: float = Field(default=0.3, gt=0, le=1)
    seed: int = Field(default=0, ge=-(2**63), lt=2**63)


class DataSpec(_Strict):
    """Where the items are and which columns hold inputs, gold and ids."""

    path: str = Field(description="JSONL or CSV file, relative to the spec")
    format: Literal["auto", "jsonl", "csv"] = "auto"
    input: dict[str, str] = Field(min_length=1, description="input field -> data column")
    image_inputs: list[str] = Field(
        default_factory=list, description="input fields whose column holds an image path"
    )
    gold: str | None = Field(default=None, description="column with the right answer")
    id: str | None = Field(default=None, description="column with a stable item id")
    split: SplitSpec = SplitSpec()
    pool: str | None = Field(default=None, description="unlabelled inputs for the teacher to label")
    max_field_chars: PositiveInt = Field(
        default=1_000_000,
        description="longest input or gold value accepted, in characters (a runaway field is an error, not 20 GB)",
    )

    @field_validator("input")
    @classmethod
    def _identifiers(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not name.isidentifier():
                raise ValueError(f"input field names must be identifiers, found {name!r}")
        return value

    @model_validator(mode="after")
    def _images_are_inputs(self) -> "DataSpec":
        for name in self.image_inputs:
            if name not in self.input:
                raise ValueError(
                    f"image_inputs names {name!r}, which is not an input field "
                    f"(input fields: {', '.join(self.input)})"
                )
        return self


class OutputSpec(_Strict):
    """What a correct answer looks like."""

    kind: Literal["label", "json", "sql", "text"]
    labels: list[str] | None = None
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _labels_for_label_kind(self) -> "OutputSpec":
        if self.kind == "label":
            if not self.labels:
                raise ValueError("kind 'label' needs a non-empty 'labels' list")
            # Repeated labels are refused by the loader (_check_labels), which names both lines.
        elif self.labels is not None:
            raise ValueError(f"'labels' only applies to kind 'label', not {self.kind!r}")
        return self


class ReasoningSpec(_Strict):
    """How much a model may think before it answers: a level or a token budget, not both.

    Each provider gets its own field (docs/providers.md): OpenAI ``reasoning_effort``,
    Anthropic ``thinking.budget_tokens``, Gemini ``thinkingConfig.thinkingBudget`` (Gemini 3:
    ``thinkingLevel``). The thinking room is added on top of ``max_tokens``, which stays the
    answer's room.
    """

    effort: Literal["none", "minimal", "low", "medium", "high"] | None = None
    budget_tokens: int | None = Field(default=None, ge=0, le=1_000_000, description="thinking tokens; 0 turns thinking off")

    @model_validator(mode="after")
    def _one_of(self) -> "ReasoningSpec":
        if (self.effort is None) == (self.budget_tokens is None):
            raise ValueError("set exactly one of 'effort' (none/minimal/low/medium/high) and 'budget_tokens'")
        return self


class ModelSpec(_Strict):
    """One model role (teacher or student): which model, which prompt, how to sample it."""

    model: str = Field(min_length=1, description="LiteLLM id, tinker:// path or Tinker base model")
    prompt: str = Field(
        min_length=1,
        description="a template over the input fields, or a file (.md/.txt) holding one",
    )
    system: str | None = Field(
        default=None,
        description="a system message, or a file (.md/.txt) holding one: the place for a rubric, so it is a "
        "byte-identical prefix a provider's prompt cache can serve",
    )
    max_tokens: PositiveInt = Field(default=256, le=1_000_000)
    temperature: NonNegativeFloat = Field(default=0.0, le=10)
    reasoning: ReasoningSpec | None = Field(
        default=None, description="thinking level or budget (None: the distilleval default, see docs/providers.md)"
    )
    stop: list[str] = Field(default_factory=list)
    api_base: str | None = None
    api_key_env: str | None = Field(
        default=None,
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="name of the environment variable holding the key (never the key itself)",
    )
    timeout_s: float = Field(default=60.0, gt=0, le=86_400)
    fast_path: bool = Field(
        default=False, description="call an OpenAI-compatible api_base directly, bypassing LiteLLM"
    )
    price_as: str | None = Field(default=None, description="pricing-table entry to use for this model")
    batch: bool = Field(default=False, description="price at the provider's batch tier")
    prompt_cache: Literal["auto", "off"] = Field(
        default="auto",
        description=(
            "auto: mark the leading system block (the rubric) cacheable on routes that need a marker "
            "(Anthropic) when it reaches the model's minimum cacheable length; off: never mark it"
        ),
    )

    # Filled in by the loader: the template text after reading a prompt file.
    prompt_text: str = Field(default="", exclude=True)
    system_text: str = Field(default="", exclude=True)
    # Filled in by the loader for a tinker:// student without price_as: training.base_model, whose
    # own pricing row (prefill / sample rates) prices the checkpoint when the table has one.
    checkpoint_base_model: str | None = Field(default=None, exclude=True)

    @field_validator("model")
    @classmethod
    def _tinker_naming(cls, value: str) -> str:
        # "tinker/Qwen/Qwen3-8B" looks like a LiteLLM provider prefix, but there is none for Tinker.
        lowered = value.lower()
        for prefix in ("tinker/", "tinker:"):
            if lowered.startswith(prefix) and not lowered.startswith("tinker://"):
                base = value[len(prefix):].lstrip("/")
                raise ValueError(
                    f"{value!r}: a Tinker base model is named by its name alone ({base!r}, trained by distilleval "
                    "run/train from the teacher's labels), a trained checkpoint by its tinker:// path "
                    "(tinker://RUN/sampler_weights/NAME)"
                )
        return value

    @property
    def pricing_key(self) -> str:
        """The id looked up in the pricing table."""
        return self.price_as or self.model

    @property
    def reasoning_effort(self) -> str | None:
        """``reasoning.effort`` (None when not set)."""
        return self.reasoning.effort if self.reasoning else None

    @property
    def thinking_budget_tokens(self) -> int | None:
        """``reasoning.budget_tokens`` (None when not set)."""
        return self.reasoning.budget_tokens if self.reasoning else None


CANDIDATE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._\-]*$"
RESERVED_MODEL_NAMES = ("teacher", "student", "candidate", "baseline", "reference")
"""Names a candidate may not take: the roles (and role labels) every report already uses."""


class CandidateSpec(ModelSpec):
    """An extra prompted model run beside the teacher and the student (``candidates:``).

    ``name`` labels it everywhere (run store, summary, reports, cascades). With neither
    ``prompt`` nor ``system`` set it is sent the teacher's prompt and system message (the
    same rubric); with either set, only what it sets. Its answers never train the student
    unless ``label_for_training`` is true.
    """

    name: str = Field(pattern=CANDIDATE_NAME_PATTERN, max_length=MAX_NAME_CHARS)
    prompt: str | None = Field(  # type: ignore[assignment]  # optional for a candidate, required in ModelSpec
        default=None, min_length=1, description="default: the teacher's prompt (and system message)"
    )
    label_for_training: bool = Field(
        default=False, description="use this model's labels to train the student instead of the teacher's"
    )


class CascadeSpec(_Strict):
    """A cascade: ``first`` answers when confident, the rest go to ``fallback`` (``cascades:``).

    The threshold is chosen on a ``calibration_fraction`` of the eval items (by id hash) so
    that, with probability at least 1 - ``delta``, the cascade's error rate is at most the
    fallback's plus ``margin`` (default: ``gates.non_inferiority_margin``, else 0).
    """

    first: str = Field(min_length=1, description="student, a baseline name or a candidate name")
    fallback: str = Field(min_length=1, description="teacher or a candidate name")
    delta: float = Field(default=0.1, gt=0, lt=1)
    calibration_fraction: float = Field(default=0.5, gt=0, lt=1)
    margin: float | None = Field(default=None, ge=0, le=1)

    @property
    def name(self) -> str:
        """How reports name it: ``first→fallback``."""
        return f"{self.first}\u2192{self.fallback}"


class BaselineSpec(_Strict):
    """A local student trained in-process on the training split (label tasks only)."""

    kind: Literal["tfidf_logreg", "wordllama_logreg"]
    name: str | None = None
    price_as: str = "local/cpu"

    @property
    def display_name(self) -> str:
        """The name reports use: ``name``, else the kind."""
        return self.name or self.kind


class TrafficSpec(_Strict):
    """Request volumes the costs are projected at."""

    volumes_per_day: list[Annotated[int, Field(gt=0, le=10**12)]] = Field(
        default=[1_000, 100_000, 1_000_000], min_length=1
    )
    days_per_month: float = Field(default=30.0, gt=0, le=31)
    cached_input_fraction: float = Field(
        default=0.0, ge=0, le=1, description="share of teacher input tokens served from a prompt cache"
    )
    batch_eligible: bool = Field(
        default=False,
        description="requests can wait for the provider's batch tier (up to 24 h), so the teacher's batch price "
        "is an honest alternative to fine-tuning",
    )


class LatencySpec(_Strict):
    """The latency probe: after the throughput run, ``probe_calls`` of the first eval items are
    called again per model, at ``concurrency``, with the response cache bypassed (fresh, paid-for
    calls), and reported as "latency, unloaded"; latency gates judge these figures when present."""

    probe_calls: int = Field(default=0, ge=0, le=100_000, description="calls per model; 0: no probe")
    concurrency: int = Field(default=1, ge=1, le=1_000, description="calls in flight during the probe")


DEFAULT_MAX_ERROR_RATE = 0.02
"""The share of failed calls above which a model's figures are not judged, when the spec sets none."""


class GatesSpec(_Strict):
    """Thresholds for ``distilleval gate`` and ``validate``; every gate is optional.

    ``max_error_rate`` is also the limit above which ``eval`` exits 1, the gate fails every
    check over the model and the verdict refuses to judge it (a failed call is missing data,
    never a wrong answer, so too many of them leave too little to judge).
    """

    student_min: float | None = Field(default=None, ge=0, le=1)
    teacher_min: float | None = Field(default=None, ge=0, le=1)
    baseline_min: float | dict[str, Annotated[float, Field(ge=0, le=1)]] | None = Field(
        default=None, description="floor of every local baseline the run scored (a number), or one floor per "
        "baseline name ({tfidf_logreg: 0.55}); gates runs without a student or without keys",
    )
    non_inferiority_margin: float | None = Field(default=None, ge=0, le=1)
    cascade_min: float | None = Field(
        default=None, ge=0, le=1, description="floor of every cascade's accuracy on its test items at the threshold "
        "chosen with the guarantee; a cascade whose guarantee was not met fails",
    )
    max_cost_per_request_usd: float | None = Field(default=None, ge=0, le=MAX_USD)
    max_p95_latency_ms: float | None = Field(default=None, gt=0, le=86_400_000)
    unmeasured_latency: Literal["fail", "skip"] = Field(
        default="fail", description="what max_p95_latency_ms does when the run called the student but measured no "
        "latency (every call failed, came from the cache or went through a batch API): fail, or skip with the reason",
    )
    max_error_rate: float = Field(default=DEFAULT_MAX_ERROR_RATE, ge=0, le=1)
    max_teacher_drift: float = Field(
        default=0.05, gt=0, lt=1, description="`drift`: the largest share of changed answers on the canary items "
        "a re-asked model may have (it passes only when the data show its share is below this)",
    )
    alpha: float = Field(default=0.05, gt=0, lt=0.5)

    @field_validator("baseline_min")
    @classmethod
    def _floor_in_range(cls, value: Any) -> Any:
        if isinstance(value, float) and not 0 <= value <= 1:
            raise ValueError(f"a floor is a share between 0 and 1, found {value!r}")
        return value

    def explicitly_set(self, name: str) -> bool:
        """Whether the spec wrote ``name`` (a default is not a gate the user asked for)."""
        return name in self.model_fields_set


class TrainingSpec(_Strict):
    """LoRA fine-tuning settings and one-time costs.

    ``recipe: cookbook`` (default) derives the learning rate from the Tinker cookbook's
    formula for the base model and, when the data is small, adapts the batch size and epochs
    it was not given (see ``distilleval.training.recipe``); ``recipe: seed`` applies the first
    recipe (lr 1e-4, 4 epochs, rank 32, batch 128) as is. Values written here are kept.
    """

    base_model: str = "Qwen/Qwen3-8B"
    recipe: Literal["cookbook", "seed"] = "cookbook"
    rank: PositiveInt = Field(default=32, le=4096)
    learning_rate: float | None = Field(default=None, gt=0, le=1, description="default: from the recipe")
    epochs: PositiveInt = Field(default=4, le=10_000, description="the recipe may raise it for small data unless set")
    batch_size: PositiveInt = Field(
        default=128, le=10_000_000, description="the recipe may lower it for small data unless set"
    )
    price_as: str = "tinker/lora"
    labelled_examples: PositiveInt | None = Field(
        default=None, le=10**12, description="how many items the teacher labels; default: the training split"
    )
    engineering_cost_usd: NonNegativeFloat = Field(default=0.0, le=MAX_USD)

    def explicitly_set(self, name: str) -> bool:
        """Whether the spec wrote ``name`` (so a recipe must keep it)."""
        return name in self.model_fields_set


class ErrorCostMatrix(_Strict):
    """What a wrong answer costs by gold label and predicted label (label tasks).

    ``matrix[gold][predicted]`` is the cost in USD of answering ``predicted`` when ``gold`` is
    right; every wrong pair the matrix does not list costs ``default``. A right answer costs
    nothing, so a diagonal cell other than 0 is refused. ``INVALID`` as a predicted label prices
    an answer outside the label set.
    """

    matrix: dict[str, dict[str, Annotated[float, Field(ge=0, le=MAX_USD)]]] = Field(min_length=1)
    default: float = Field(ge=0, le=MAX_USD, description="cost of a wrong pair the matrix does not list")

    @property
    def price_levels_usd(self) -> list[float]:
        """Every distinct price a wrong answer can have: the default and each off-diagonal cell."""
        return sorted({self.default} | {usd for gold, row in self.matrix.items() for p, usd in row.items() if p != gold})

    def cost(self, gold: str, predicted: str) -> float:
        """The cost of answering ``predicted`` for ``gold`` (0 when they are the same label)."""
        if gold == predicted:
            return 0.0
        return self.matrix.get(gold, {}).get(predicted, self.default)


DEFAULT_ASSUMED_DISCORDANCE = 0.10
"""The share of items on which two models disagree in correctness that ``estimate`` assumes when
the spec sets none: about what a student near a 90–95% teacher shows."""


class DecisionSpec(_Strict):
    """The whole decision: what a wrong answer costs and what ``estimate`` assumes about the evidence.

    ``cost_per_error_usd`` turns accuracy into money (monthly total = inference + errors ×
    volume): one number for every wrong answer, or a matrix by gold → predicted label.
    ``assumed_discordance`` and ``power`` size the eval split before any money is spent: with
    an arm exactly as accurate as the teacher and this share of discordant items, how many eval
    items show non-inferiority at the spec's margin with this probability.
    """

    cost_per_error_usd: Annotated[float, Field(ge=0, le=MAX_USD)] | ErrorCostMatrix | None = None
    assumed_discordance: float = Field(
        default=DEFAULT_ASSUMED_DISCORDANCE, gt=0, le=1,
        description="share of eval items where the arm and the teacher differ in correctness (estimate's assumption)",
    )
    power: float = Field(default=0.8, ge=0.5, lt=1, description="the chance of showing non-inferiority the eval is sized for")


def _baseline_entry(value: Any) -> Any:
    return {"kind": value} if isinstance(value, str) else value


class TaskSpec(_Strict):
    """A whole task spec. Paths inside are relative to the spec file (see ``source``)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]*$", max_length=MAX_NAME_CHARS)
    description: str = ""
    data: DataSpec
    output: OutputSpec
    scorer: ScorerConfig = ExactMatchScorer()
    teacher: ModelSpec
    student: ModelSpec
    candidates: list[CandidateSpec] = Field(default_factory=list)
    baselines: list[Annotated[BaselineSpec, Field()]] = Field(default_factory=list)
    cascades: list[CascadeSpec] = Field(default_factory=list)
    traffic: TrafficSpec = TrafficSpec()
    gates: GatesSpec = GatesSpec()
    latency: LatencySpec = LatencySpec()
    training: TrainingSpec = TrainingSpec()
    decision: DecisionSpec = DecisionSpec()
    pricing: str | None = Field(default=None, description="pricing table, relative to the spec")
    iterate: IterateSpec | None = Field(default=None, description="settings of `distilleval iterate`")

    # Set by the loader.
    source: Path = Field(default=Path("."), exclude=True)
    source_sha256: str = Field(default="", exclude=True)

    @field_validator("scorer", mode="before")
    @classmethod
    def _scorer_shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"kind": value}  # an unknown kind is refused by RegisteredScorer, naming the known ones
        return value

    @field_validator("baselines", mode="before")
    @classmethod
    def _baseline_shorthand(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [_baseline_entry(entry) for entry in value]
        return value

    @field_validator("gates")
    @classmethod
    def _baseline_floors_name_baselines(cls, gates: GatesSpec, info: ValidationInfo) -> GatesSpec:
        # baselines is declared before gates, so it is validated (and in info.data) by now.
        if isinstance(gates.baseline_min, dict):
            names = [b.display_name for b in info.data.get("baselines", [])]
            for name in gates.baseline_min:
                if name not in names:
                    raise ValueError(
                        f"baseline_min names {name!r}, which is not a baseline of this spec "
                        f"(baselines: {', '.join(names) or 'none'})"
                    )
        return gates

    @model_validator(mode="after")
    def _consistent(self) -> "TaskSpec":
        if self.baselines and self.output.kind != "label":
            raise ValueError(
                f"baselines ({', '.join(b.kind for b in self.baselines)}) classify labels; "
                f"they do not apply to output kind {self.output.kind!r}"
            )
        if self.baselines and set(self.data.input) <= set(self.data.image_inputs):
            raise ValueError(
                f"baselines ({', '.join(b.kind for b in self.baselines)}) read text; "
                "every input field of this spec is an image"
            )
        if isinstance(self.scorer, SqlExecutionScorer) and self.output.kind != "sql":
            raise ValueError("scorer 'sql_execution' needs output kind 'sql'")
        if self.scorer.kind in ("json_fields", "spans") and self.output.kind != "json":
            raise ValueError(f"scorer {self.scorer.kind!r} needs output kind 'json'")
        if (isinstance(self.scorer, JudgeScorer) and self.scorer.reference is not None
                and self.scorer.reference != self.data.gold):
            raise ValueError(f"scorer.reference names {self.scorer.reference!r}; the reference answer is the data's "
                             f"gold column ({self.data.gold or 'none declared: set data.gold'})")
        return self

    def judge_settings(self) -> JudgeScorer:
        """The ``scorer:`` block of a judge-scored spec, for code that only runs for one.

        Raises:
            TypeError: the scorer is not a judge (a caller's mistake, not the user's).
        """
        if not isinstance(self.scorer, JudgeScorer):
            raise TypeError(f"{self.source}: scorer.kind is {self.scorer.kind!r}, not judge")
        return self.scorer

    def judge_model(self) -> ModelSpec | None:
        """The judge as a model role (``scorer: {kind: judge}``), or None for other scorers."""
        judge = self.scorer
        if not isinstance(judge, JudgeScorer):
            return None
        return ModelSpec(
            model=judge.model, prompt="{answer}", prompt_text="{answer}", max_tokens=judge.max_tokens,
            temperature=0.0, api_base=judge.api_base, api_key_env=judge.api_key_env, timeout_s=judge.timeout_s,
            fast_path=judge.fast_path, price_as=judge.price_as,
        )

    @property
    def directory(self) -> Path:
        """The folder relative paths in the spec are resolved against."""
        return self.source.parent

    def resolve(self, relative: str) -> Path:
        """A path from the spec, resolved against the spec's folder."""
        path = Path(relative)
        return path if path.is_absolute() else self.directory / path

    def models(self) -> dict[str, ModelSpec]:
        """The called models by name: ``{"teacher": ..., "student": ..., <candidate name>: ...}``."""
        return {"teacher": self.teacher, "student": self.student, **{c.name: c for c in self.candidates}}

    def labeller(self) -> tuple[str, ModelSpec]:
        """The model whose labels train the student, by name: the candidate that sets
        ``label_for_training: true``, else the teacher."""
        for candidate in self.candidates:
            if candidate.label_for_training:
                return candidate.name, candidate
        return "teacher", self.teacher

    def model_path(self, name: str) -> FieldPath:
        """Where a called model's block is in the spec: ``("teacher",)`` or ``("candidates", 2)``."""
        for position, candidate in enumerate(self.candidates):
            if candidate.name == name:
                return ("candidates", position)
        return (name,)

    def role_of(self, name: str) -> str:
        """The summary role of a called model's name: teacher, student or candidate."""
        return name if name in ("teacher", "student") else "candidate"

    def cascade_margin(self, cascade: CascadeSpec) -> float:
        """The non-inferiority margin a cascade's guarantee uses."""
        if cascade.margin is not None:
            return cascade.margin
        return self.gates.non_inferiority_margin or 0.0


_UNION_TAGS = set(SCORER_KINDS) | {REGISTERED_TAG} | set(BASELINE_KINDS)


def _looks_like_prompt_file(prompt: str) -> bool:
    return "\n" not in prompt and "{" not in prompt and prompt.strip().endswith(PROMPT_FILE_SUFFIXES)


def spec_location(spec: TaskSpec, path: FieldPath) -> str:
    """``SPEC:LINE`` of a field of a loaded spec (the file is read again for its lines), for
    errors found after loading: a data column or a price the spec names. Just ``SPEC`` when the
    line cannot be found."""
    try:
        _, lines = load_yaml_with_lines(spec.source, SpecError)
    except SpecError:
        return str(spec.source)
    line = lines.line_of(path)
    return f"{spec.source}:{line}" if line else str(spec.source)


def _fail(source: Path, lines: LineIndex, path: FieldPath, message: str) -> SpecError:
    line = lines.line_of(path)
    where = f"{source}:{line}" if line else str(source)
    field_path = ".".join(str(p) for p in path)
    return SpecError(f"{where}: {field_path}: {message}")


def _read_template(spec: TaskSpec, lines: LineIndex, role: FieldPath, part: str, text: str) -> str:
    """``text`` itself, or the file it names (a one-line path ending .md/.txt/...)."""
    if not _looks_like_prompt_file(text):
        return text
    prompt_path = spec.resolve(text.strip())
    try:
        with prompt_path.open("rb") as handle:
            raw = handle.read(MAX_PROMPT_FILE_BYTES + 1)
        if len(raw) > MAX_PROMPT_FILE_BYTES:
            raise _fail(spec.source, lines, (*role, part),
                        f"prompt file {prompt_path} is over {MAX_PROMPT_FILE_BYTES:,} bytes (about 250,000 tokens)")
        return raw.decode("utf-8-sig")
    except FileNotFoundError:
        raise _fail(spec.source, lines, (*role, part), f"prompt file not found: {prompt_path}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise _fail(spec.source, lines, (*role, part), f"cannot read prompt file {prompt_path}: {err}") from None


def _read_prompts(spec: TaskSpec, lines: LineIndex) -> TaskSpec:
    """Read prompt and system files, then check every placeholder against the input fields."""
    known = list(spec.data.input)
    updates: dict[str, ModelSpec] = {}
    candidate_position = {c.name: n for n, c in enumerate(spec.candidates)}
    for role, model in spec.models().items():
        if role in candidate_position and model.prompt is None and model.system is None:
            # The teacher's rubric: its template text is read (and checked) as the teacher's.
            model = model.model_copy(update={"prompt": spec.teacher.prompt, "system": spec.teacher.system})
        path = ("candidates", candidate_position[role]) if role in candidate_position else (role,)
        if model.prompt is None:
            raise _fail(spec.source, lines, path, "a candidate that sets a system message needs a prompt too")
        text = _read_template(spec, lines, path, "prompt", model.prompt)
        system = _read_template(spec, lines, path, "system", model.system) if model.system else ""
        for part, template in (("prompt", text), ("system", system)):
            for name in template_fields(template):
                if name not in known:
                    raise _fail(
                        spec.source,
                        lines,
                        (*path, part),
                        f"placeholder {{{name}}} is not an input field; expected one of "
                        + ", ".join("{" + k + "}" for k in known)
                        + " (write {{" + name + "}} for literal braces)",
                    )
        base = spec.training.base_model if role == "student" and model.model.startswith("tinker://") else None
        updates[role] = model.model_copy(
            update={"prompt_text": text, "system_text": system, "checkpoint_base_model": None if model.price_as else base}
        )
    candidates = [updates.pop(c.name) for c in spec.candidates]
    changes: dict[str, Any] = {**updates, "candidates": candidates}
    if spec.iterate is not None and spec.iterate.generation_prompt:
        changes["iterate"] = _read_generation_prompt(spec, spec.iterate, spec.iterate.generation_prompt, lines)
    return spec.model_copy(update=changes)


def _read_generation_prompt(spec: TaskSpec, settings: IterateSpec, prompt: str, lines: LineIndex) -> IterateSpec:
    """Read ``iterate.generation_prompt`` (text or file) and check its placeholders."""
    text = _read_template(spec, lines, ("iterate",), "generation_prompt", prompt)
    for name in template_fields(text):
        if name not in GENERATION_PLACEHOLDERS:
            raise _fail(spec.source, lines, ("iterate", "generation_prompt"),
                        f"placeholder {{{name}}} is not known; expected some of "
                        + ", ".join("{" + k + "}" for k in GENERATION_PLACEHOLDERS)
                        + " (write {{" + name + "}} for literal braces)")
    return settings.model_copy(update={"generation_prompt_text": text})


def _check_files(spec: TaskSpec, lines: LineIndex) -> None:
    checks: list[tuple[FieldPath, str]] = [(("data", "path"), spec.data.path)]
    if spec.data.pool:
        checks.append((("data", "pool"), spec.data.pool))
    if isinstance(spec.scorer, SqlExecutionScorer):
        checks.append((("scorer", "database"), spec.scorer.database))
    if isinstance(spec.scorer, JudgeScorer):
        checks.append((("scorer", "criteria"), spec.scorer.criteria))
        if spec.scorer.alignment is not None:
            checks.append((("scorer", "alignment", "path"), spec.scorer.alignment.path))
    if spec.pricing:
        checks.append((("pricing",), spec.pricing))
    for path, relative in checks:
        target = spec.resolve(relative)
        try:
            found = target.is_file()
        except OSError as err:  # e.g. a name too long for the file system
            raise _fail(spec.source, lines, path, f"not a usable file name ({err.strerror})") from None
        if not found:
            raise _fail(spec.source, lines, path, f"file not found: {target}")
    if isinstance(spec.scorer, SqlExecutionScorer):
        problem = _sqlite_problem(spec.resolve(spec.scorer.database))
        if problem:
            raise _fail(spec.source, lines, ("scorer", "database"), problem)


def _sqlite_problem(database: Path) -> str | None:
    """Why ``database`` is not a readable SQLite database, or None.

    Without this, a wrong file loads fine and every gold query later fails one by one.
    """
    import sqlite3

    try:
        with database.open("rb") as handle:
            header = handle.read(16)
    except OSError as err:
        return f"cannot read {database}: {err}"
    if header != b"SQLite format 3\x00":
        return f"{database} is not a SQLite database (its first bytes are not the SQLite header)"
    try:
        connection = sqlite3.connect(database.resolve().as_uri() + "?mode=ro", uri=True)
        try:
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            connection.close()
    except sqlite3.Error as err:
        return f"{database} cannot be read as a SQLite database ({err})"
    return None


RESERVED_LABEL = "INVALID"
"""The class scoring gives outputs outside the label set; a spec may not declare it."""


def _check_labels(spec: TaskSpec, lines: LineIndex) -> None:
    """Refuse a label set the scorer would misread: two labels (or a label and another label's
    alias) that its normalisation makes one would be scored as one class but trained as two;
    an alias of a label the spec does not declare; the reserved label ``INVALID``.

    Labels are compared in Unicode NFC always (``spec.labels``), and under ``scorer.normalize``
    when the scorer is ``exact_match``.
    """
    from distilleval.spec.labels import describe_rules, label_collision, normalize_text, unicode_form
    from distilleval.spec.scorer_config import TextNormalization

    labels = spec.output.labels
    if not labels:
        return
    if RESERVED_LABEL in labels:
        raise _fail(spec.source, lines, ("output", "labels", labels.index(RESERVED_LABEL)),
                    f"{RESERVED_LABEL!r} is reserved for outputs outside the label set; rename that label")
    exact = spec.scorer if isinstance(spec.scorer, ExactMatchScorer) else None
    rules = exact.normalize if exact is not None else TextNormalization()
    collision = label_collision(labels, rules)
    if collision is not None:
        earlier, later = collision
        first, second = labels[earlier], labels[later]
        if first == second:
            message = f"{second!r} is listed twice (also as output.labels.{earlier}); keep one of them"
        elif unicode_form(first) == unicode_form(second):
            # Shown escaped: printed as is, the two would look identical.
            message = (f"{ascii(second)} and {ascii(first)} are the same text in two Unicode forms (composed NFC "
                       "and decomposed NFD), and labels are compared in NFC; keep one of them")
        else:
            message = (f"{second!r} and {first!r} are the same label after scorer.normalize "
                       f"({describe_rules(rules)}); merge them or change the normalisation")
        raise _fail(spec.source, lines, ("output", "labels", later), message)
    if exact is None:
        return
    owner = {normalize_text(label, rules): label for label in labels}
    alias_owner: dict[str, str] = {}
    for label, spellings in exact.aliases.items():
        if label not in labels:
            raise _fail(spec.source, lines, ("scorer", "aliases", label),
                        f"{label!r} is not one of output.labels, so its aliases would count as no label")
        for position, spelling in enumerate(spellings):
            key = normalize_text(spelling, rules)
            other = owner.get(key)
            if other is not None and other != label:
                raise _fail(spec.source, lines, ("scorer", "aliases", label, position),
                            f"alias {spelling!r} of {label!r} is the label {other!r} after scorer.normalize "
                            f"({describe_rules(rules)}) and Unicode NFC")
            other = alias_owner.setdefault(key, label)
            if other != label:
                raise _fail(spec.source, lines, ("scorer", "aliases", label, position),
                            f"alias {spelling!r} of {label!r} is also an alias of {other!r} after scorer.normalize "
                            f"({describe_rules(rules)}) and Unicode NFC; give it to one label")


def _check_error_costs(spec: TaskSpec, lines: LineIndex) -> None:
    """Refuse an error-cost matrix on a task without labels, a label it does not declare, and a
    price on a right answer (the diagonal)."""
    costs = spec.decision.cost_per_error_usd
    if not isinstance(costs, ErrorCostMatrix):
        return
    where = ("decision", "cost_per_error_usd", "matrix")
    labels = spec.output.labels
    if spec.output.kind != "label" or not labels:
        raise _fail(spec.source, lines, where, f"a matrix by gold and predicted label needs output kind 'label', "
                                               f"found {spec.output.kind!r}; give one number instead")
    for gold, row in costs.matrix.items():
        if gold not in labels:
            raise _fail(spec.source, lines, where + (gold,),
                        f"{gold!r} is not one of output.labels ({', '.join(labels)})")
        for predicted, usd in row.items():
            if predicted not in labels and predicted != RESERVED_LABEL:
                raise _fail(spec.source, lines, where + (gold, predicted),
                            f"{predicted!r} is not one of output.labels ({', '.join(labels)}) or {RESERVED_LABEL}")
            if predicted == gold and usd != 0:
                raise _fail(spec.source, lines, where + (gold, predicted),
                            f"a right answer costs nothing, found {usd!r}; remove the cell or write 0")


def load_spec(path: str | Path) -> TaskSpec:
    """Load, validate and resolve a task spec.

    Args:
        path: the spec's YAML file.

    Returns:
        The validated spec, with prompt files read into ``ModelSpec.prompt_text``.

    Raises:
        SpecError: anything wrong with the spec, as one line naming file, line and field.
    """
    source = Path(path)
    raw, lines = load_yaml_with_lines(source, SpecError)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    return spec_from_mapping(raw, source, lines, sha256=digest)


def spec_from_mapping(raw: Any, source: Path, lines: LineIndex, *, sha256: str, check_files: bool = True) -> TaskSpec:
    """Validate a spec read from ``source`` (``load_spec``'s checks, one line per problem).

    Args:
        raw: the parsed YAML.
        source: the file it came from (named in messages; relative paths resolve against it).
        lines: the YAML's line index.
        sha256: recorded as the spec's ``source_sha256``.
        check_files: check that the data, pool, database and pricing files exist (a run
            folder's resolved spec is judged without its data: ``spec.resolved``).

    Raises:
        SpecError: anything wrong with the spec, as one line naming file, line and field.
    """
    if not isinstance(raw, dict):
        raise SpecError(f"{source}:1: expected a mapping of spec fields, found {type(raw).__name__}")
    try:
        spec = TaskSpec.model_validate(raw)
    except ValidationError as err:
        raise SpecError(
            describe_validation_error(err, source=source, lines=lines, union_tags=_UNION_TAGS)
        ) from None
    spec = spec.model_copy(update={"source": source, "source_sha256": sha256})
    if check_files:
        _check_files(spec, lines)
    _check_labels(spec, lines)
    _check_error_costs(spec, lines)
    _check_model_names(spec, lines)
    _check_judge(spec, lines)
    return _read_prompts(spec, lines)


def _check_model_names(spec: TaskSpec, lines: LineIndex) -> None:
    """Refuse a candidate name that repeats or takes a role's or a baseline's name, at most one
    candidate labelling for training, and a cascade over models the spec does not run."""
    baselines = [b.display_name for b in spec.baselines]
    seen: dict[str, int] = {}
    for position, candidate in enumerate(spec.candidates):
        where = ("candidates", position, "name")
        if candidate.name in RESERVED_MODEL_NAMES:
            raise _fail(spec.source, lines, where, f"{candidate.name!r} is a role name; give the candidate its own name")
        if candidate.name in baselines:
            raise _fail(spec.source, lines, where, f"{candidate.name!r} is also a baseline's name; names must be unique")
        if candidate.name in seen:
            raise _fail(spec.source, lines, where,
                        f"{candidate.name!r} is already the name of candidates.{seen[candidate.name]}; names must be unique")
        seen[candidate.name] = position
    labelling = [n for n, c in enumerate(spec.candidates) if c.label_for_training]
    if len(labelling) > 1:
        raise _fail(spec.source, lines, ("candidates", labelling[1], "label_for_training"),
                    f"only one model labels the training data; candidates.{labelling[0]} already does")
    firsts = ["student", *baselines, *seen]
    fallbacks = ["teacher", *seen]
    pairs: dict[tuple[str, str], int] = {}
    for position, cascade in enumerate(spec.cascades):
        if cascade.first not in firsts:
            raise _fail(spec.source, lines, ("cascades", position, "first"),
                        f"expected one of {', '.join(firsts)}, found {cascade.first!r}")
        if cascade.fallback not in fallbacks:
            raise _fail(spec.source, lines, ("cascades", position, "fallback"),
                        f"expected one of {', '.join(fallbacks)}, found {cascade.fallback!r}")
        if cascade.first == cascade.fallback:
            raise _fail(spec.source, lines, ("cascades", position, "fallback"), "a cascade needs two different models")
        key = (cascade.first, cascade.fallback)
        if key in pairs:
            raise _fail(spec.source, lines, ("cascades", position),
                        f"the same cascade as cascades.{pairs[key]} ({cascade.name})")
        pairs[key] = position


def _check_judge(spec: TaskSpec, lines: LineIndex) -> None:
    """Refuse a judge that is the student (it would grade itself); warn on a shared model family."""
    import sys

    if not isinstance(spec.scorer, JudgeScorer):
        return
    judge = spec.scorer.model
    if judge == spec.student.model:
        raise _fail(spec.source, lines, ("scorer", "model"),
                    f"the judge {judge!r} is the student model; a model may not grade its own answers")
    # A trained checkpoint (tinker://...) is of its base model's family.
    student = spec.training.base_model if spec.student.model.startswith("tinker://") else spec.student.model
    for role, model in (("teacher", spec.teacher.model), ("student", student)):
        if model_family(judge) == model_family(model):
            print(f"distilleval: warning: {spec_location(spec, ('scorer', 'model'))}: the judge {judge!r} shares the "
                  f"model family {model_family(judge)!r} with the {role} ({model!r}); judges tend to prefer their own "
                  "family's answers (self-preference)", file=sys.stderr)


def model_family(model_id: str) -> str:
    """A model's family for the self-preference warning: the provider prefix dropped, the name up
    to its first size or version mark (``openai/gpt-4.1-mini`` -> ``gpt``, ``claude-opus-4-6`` -> ``claude``).

    >>> model_family("anthropic/claude-opus-4-6")
    'claude'
    >>> model_family("Qwen/Qwen3-8B")
    'qwen'
    """
    import re

    name = model_id.rsplit("/", 1)[-1].lower()
    match = re.match(r"[a-z]+", name)
    return match.group(0) if match else name
