"""Measure a spec's token profile from its real prompts, before any model is called.

Every item's teacher and student prompt is rendered exactly as the runner will send it and
counted with the local tokenizer. Output tokens are those of the gold answer as the model
would write it (the label, the JSON, the SQL).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from distilleval.costs.pricing import PricingTable
from distilleval.costs.prompt_caching import model_cache_share
from distilleval.costs.tokens import (
    LOCAL_TOKENIZER,
    TOKENS_PER_MESSAGE,
    TOKENS_REPLY_PRIMING,
    FixedEnds,
    TokenCounter,
    count_message_tokens,
    count_tokens,
    count_tokens_many,
)
from distilleval.costs.training_plan import (
    DEFAULT_HELDOUT_FRACTION,
    MIN_STEPS,
    Schedule,
    heldout_indices,
    plan_schedule,
    requested_by_spec,
)
from distilleval.spec.data import Item
from distilleval.spec.messages import build_messages
from distilleval.spec.prompts import format_string, render_template, template_fields
from distilleval.spec.task_spec import ModelSpec, TaskSpec

ROLES = ("teacher", "student")


@dataclass(frozen=True)
class TokenStats:
    """Distribution of a per-item token count."""

    n: int
    mean: float
    p50: float
    p95: float
    max: int
    total: int

    @classmethod
    def of(cls, counts: Sequence[int] | np.ndarray) -> "TokenStats":
        """Count, mean, p50, p95, max and total of ``counts`` (a list or an integer array; all zero when empty)."""
        if len(counts) == 0:
            return cls(0, 0.0, 0.0, 0.0, 0, 0)
        # An integer array is used as it is (no wider copy): NumPy sums integers in int64 and takes the
        # mean and quantiles in float64 whatever the integer type, so the figures equal a list's.
        values = np.asarray(counts)
        return cls(
            n=len(values),
            mean=float(values.mean()),
            p50=float(np.percentile(values, 50)),
            p95=float(np.percentile(values, 95)),
            max=int(values.max()),
            total=int(values.sum()),
        )

    @classmethod
    def repeated(cls, value: int, n: int) -> "TokenStats":
        """``of([value] * n)``, with no list made."""
        if n == 0:
            return cls(0, 0.0, 0.0, 0.0, 0, 0)
        return cls(n=n, mean=float(value), p50=float(value), p95=float(value), max=value, total=value * n)


@dataclass(frozen=True)
class RoleProfile:
    """Token profile of one role (teacher or student) over a set of items."""

    role: str
    model: str
    input_tokens: TokenStats
    output_tokens: TokenStats
    counted_by: str = LOCAL_TOKENIZER
    training_row_extra: int = 0

    @property
    def training_row_tokens(self) -> float:
        """Mean tokens one training row of this role costs: request + answer + the template's row extra."""
        return self.input_tokens.mean + self.output_tokens.mean + self.training_row_extra


def gold_as_text(gold: object) -> str:
    """The gold answer as a model would write it (JSON compactly, everything else as text)."""
    if gold is None:
        return ""
    if isinstance(gold, (dict, list)):
        return json.dumps(gold, ensure_ascii=False, separators=(", ", ": "))
    return str(gold)


@functools.lru_cache(maxsize=16)
def template_ends(template: str) -> FixedEnds:
    """The fixed ends of every text ``template`` renders to, for counting many renders fast."""
    fields = template_fields(template)
    if not fields:
        return FixedEnds.around(render_template(template, {}), "")
    # Two renders that differ in every field agree exactly on the template's literal start and end.
    first = render_template(template, {name: "\x00" for name in fields})
    second = render_template(template, {name: "\x01" for name in fields})
    prefix = os.path.commonprefix([first, second])
    suffix = os.path.commonprefix([first[::-1], second[::-1]])[::-1]
    return FixedEnds.around(prefix, suffix)


def message_text_counters(model: ModelSpec) -> list[Callable[[str], int]]:
    """One exact, fast text counter per message ``build_messages`` makes for ``model`` (system first)."""
    system = model.system_text or model.system
    templates = ([system] if system else []) + [model.prompt_text or model.prompt]
    return [_text_counter(template) for template in templates]


def _text_counter(template: str) -> Callable[[str], int]:
    if template_fields(template):
        return template_ends(template).count
    # A template without fields (a rubric sent as the system message) renders to one text:
    # count it once; anything else is counted whole.
    fixed = render_template(template, {})
    fixed_tokens = count_tokens(fixed)
    return lambda text: fixed_tokens if text == fixed else count_tokens(text)


def input_token_counts(
    spec: TaskSpec, role: str, items: Sequence[Item], *, counter: TokenCounter | None = None
) -> list[int]:
    """Input tokens of each item's request under ``role``'s prompt, rendered as the runner sends it.

    With ``counter`` (the model's own tokenizer) each request is counted by it. Otherwise the
    local tokenizer counts, the rubric's fixed start and end once for all items
    (``FixedEnds``); the numbers equal counting each rendered request whole.
    """
    model = spec.models()[role]
    if counter is not None:
        return [counter.count_request(build_messages(model, item, spec.data.image_inputs, embed_images=False)) for item in items]
    if not spec.data.image_inputs:
        return text_request_counts(model, items)
    counters = message_text_counters(model)
    return [
        count_message_tokens(build_messages(model, item, spec.data.image_inputs, embed_images=False), text_counters=counters)
        for item in items
    ]


def text_request_counts(model: ModelSpec, items: Sequence[Item]) -> list[int]:
    """``count_message_tokens`` of each item's text-only request under ``model`` (no image inputs), with
    no messages built: each message's template is rendered and what varies encoded in one batch."""
    system = model.system_text or model.system
    templates = ([system] if system else []) + [model.prompt_text or model.prompt]
    totals = [TOKENS_REPLY_PRIMING + TOKENS_PER_MESSAGE * len(templates)] * len(items)
    for template in templates:
        totals = [total + count for total, count in zip(totals, _rendered_counts(template, items))]
    return totals


def _rendered_counts(template: str, items: Sequence[Item]) -> list[int]:
    if not template_fields(template):
        return [count_tokens(render_template(template, {}))] * len(items)
    render = format_string(template).format_map
    return template_ends(template).count_many([render(item.inputs) for item in items])


def answer_token_counts(items: Sequence[Item], *, counter: TokenCounter | None = None) -> list[int | None]:
    """Tokens of each item's gold answer (None where an item has no gold), each distinct answer counted once."""
    texts = {n: gold_as_text(item.gold) for n, item in enumerate(items) if item.gold is not None}
    if counter is not None:
        distinct = {text: counter.count_answer(text) for text in set(texts.values())}
        counts = [distinct[text] for text in texts.values()]
    else:
        counts = count_tokens_many(list(texts.values()))
    by_item = dict(zip(texts, counts))
    return [by_item.get(n) for n in range(len(items))]


COUNT_CHUNK = 16_384
"""Items ``count_spec_tokens`` reads and counts at a time (every role's counts of a chunk in one go)."""


@dataclass(frozen=True)
class SpecTokenCounts:
    """Every item's input tokens under each role and its gold answer's tokens, counted once.

    The counts are NumPy integer arrays (4 bytes an item and role), not lists of Python ints:
    a million items' counts stay a few megabytes.

    Attributes:
        items: the items counted, in order (held as given: a list, or ``LazyItems`` read again on access).
        inputs: role -> input tokens per item.
        outputs: role -> gold-answer tokens per item under that role's tokenizer (0 where ``answered`` is False).
        answered: per item, whether it has a gold answer.
        evals: per item, whether it is in the eval split (else the train split).
        counted_by: role -> the tokenizer that counted it.
    """

    items: Sequence[Item]
    inputs: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray]
    answered: np.ndarray
    evals: np.ndarray
    counted_by: dict[str, str]
    training_row_extra: dict[str, int] | None = None

    def answers(self, role: str) -> list[int | None]:
        """``role``'s gold-answer tokens per item as a list (None where an item has no gold)."""
        return [count if has_gold else None
                for count, has_gold in zip(self.outputs[role].tolist(), self.answered.tolist())]

    def in_split(self, split: str | None) -> np.ndarray:
        """Per item, whether it is in ``split`` (``"eval"`` or ``"train"``; every item for None)."""
        if split is None:
            return np.ones(len(self.evals), dtype=bool)
        return self.evals if split == "eval" else ~self.evals

    def training_row_tokens(self, split: str = "train") -> np.ndarray | None:
        """Tokens of each student training row the items of ``split`` would make (None when one has no gold)."""
        extra = (self.training_row_extra or {}).get("student", 0)
        chosen = self.in_split(split)
        if not self.answered[chosen].all():
            return None
        rows: np.ndarray = self.inputs["student"][chosen].astype(np.int64) + self.outputs["student"][chosen] + extra
        return rows

    def profiles(self, spec: TaskSpec, split: str | None = None) -> dict[str, RoleProfile]:
        """Each role's profile over the items of ``split`` (``"eval"`` or ``"train"``; default: all)."""
        chosen = slice(None) if split is None else self.in_split(split)  # every item: the arrays, not a copy
        answered = self.answered[chosen]
        return {
            role: RoleProfile(
                role, spec.models()[role].model, TokenStats.of(self.inputs[role][chosen]),
                TokenStats.of(self.outputs[role][chosen][answered]), self.counted_by[role],
                (self.training_row_extra or {}).get(role, 0),
            )
            for role in self.inputs
        }


def count_spec_tokens(
    spec: TaskSpec, items: Sequence[Item], *, counters: dict[str, TokenCounter] | None = None
) -> SpecTokenCounts:
    """Count every item's request to each called model (teacher, student, candidates) and its gold answer, once each.

    The items are read ``COUNT_CHUNK`` at a time, in one pass: every role is counted on a chunk
    before the next is read (lazily loaded items are read again from the file on each pass).

    Args:
        spec: the spec.
        items: the items (a list, or ``LazyItems``: no copy of them is made).
        counters: role -> the model's own tokenizer, where known (else the local tokenizer counts).
    """
    counters = counters or {}
    roles = list(spec.models())
    n = len(items)
    # Roles the local tokenizer counts share one array of answer counts, as they share the counting.
    counted_locally = any(role not in counters for role in roles)
    local = np.zeros(n if counted_locally else 0, dtype=np.int32)
    inputs = {role: np.zeros(n, dtype=np.int32) for role in roles}
    outputs = {role: np.zeros(n, dtype=np.int32) if role in counters else local for role in roles}
    answered, evals = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    for start in range(0, n, COUNT_CHUNK):
        chunk = items[start:start + COUNT_CHUNK]
        end = start + len(chunk)
        answered[start:end] = [item.gold is not None for item in chunk]
        evals[start:end] = [item.split == "eval" for item in chunk]
        if counted_locally:
            local[start:end] = _answers_or_zero(answer_token_counts(chunk))
        for role in roles:
            counter = counters.get(role)
            inputs[role][start:end] = input_token_counts(spec, role, chunk, counter=counter)
            if counter is not None:
                outputs[role][start:end] = _answers_or_zero(answer_token_counts(chunk, counter=counter))
    counted_by = {role: counters[role].name if role in counters else LOCAL_TOKENIZER for role in roles}
    extra = {role: counters[role].training_row_extra if role in counters else 0 for role in roles}
    return SpecTokenCounts(items, inputs, outputs, answered, evals, counted_by, extra)


def _answers_or_zero(counts: list[int | None]) -> list[int]:
    return [0 if count is None else count for count in counts]


def cached_input_share(spec: TaskSpec, role: str) -> float:
    """Share of ``role``'s input tokens a prompt cache serves, as the spec projects it.

    The teacher's rubric is a fixed prefix, so ``traffic.cached_input_fraction`` applies to
    it unless its provider would not cache it (``prompt_caching.teacher_cache_share``, which
    says why), and to a prompted candidate sent the same rubric; the student sees only the item
    and is projected uncached (``prompt_caching.model_cache_share``).
    """
    return model_cache_share(spec, role).share


def projection_basis(n_items: int) -> str:
    """The basis of a projected cost per request, in the words every output that shows one uses.

    ``estimate``, ``cost SPEC``, an offline run (and so ``cost RUN`` and its report) all price
    the mean request over every item of the data file, so they print the same figure.
    """
    return f"priced on all {n_items:,} items of the data file (tokens counted from the spec's rendered prompts)"


def measured_basis(n_calls: int) -> str:
    """The basis of a cost per request a run measured (its eval calls' real token counts)."""
    return f"measured on the run's {n_calls:,} eval calls"


def tokens_basis_note(models: Sequence[tuple[str, str, int]]) -> str | None:
    """One line saying what each model's tokens per request were averaged over.

    Args:
        models: (name, ``measured`` or ``projected``, number of requests or items averaged).

    Returns:
        ``Tokens per request: A and B priced on all 480 items …; C measured on …``; None for no models.
    """
    grouped: dict[str, list[str]] = {}
    for name, basis, n in models:
        text = projection_basis(n) if basis == "projected" else measured_basis(n)
        grouped.setdefault(text, []).append(name)
    if not grouped:
        return None
    return "Tokens per request: " + "; ".join(f"{' and '.join(names)} {text}" for text, names in grouped.items()) + "."


def role_cost_per_request_usd(spec: TaskSpec, pricing: PricingTable, profile: RoleProfile) -> float:
    """Projected cost of ``profile``'s mean request at the spec's cache share and batch setting.

    Raises:
        PricingError: the role's model has no price.
    """
    from distilleval.costs import cost_model

    model = spec.models()[profile.role]
    return cost_model.usage_cost_usd(
        pricing.price_for(pricing.key_for(model)),
        profile.input_tokens.mean,
        profile.output_tokens.mean,
        cached_input_share=cached_input_share(spec, profile.role),
        batch=model.batch,
    )


def training_price_key(spec: TaskSpec, pricing: PricingTable, *, base_model: str | None = None) -> str | None:
    """The pricing entry training is costed with (``distilleval train`` and every projection).

    The spec's ``training.price_as`` when it wrote one; else the base model's own row when the
    table has one (Tinker bills training per model); else the default ``price_as``. None when
    the spec has no ``training:`` block and the table prices neither, so a spec that never
    trains still prices.

    Args:
        base_model: the model trained, when a flag overrides ``training.base_model``.
    """
    training = spec.training
    if training.explicitly_set("price_as"):
        return training.price_as
    if pricing.find(base_model or training.base_model) is not None:
        return base_model or training.base_model
    if "training" not in spec.model_fields_set and pricing.find(training.price_as) is None:
        return None
    return training.price_as


@dataclass(frozen=True)
class TrainingProjection:
    """The LoRA run a spec will make and what it costs, projected with the trainer's own recipe.

    Attributes:
        schedule: epochs, batch size and steps from ``training_plan.plan_schedule``.
        labelled_examples: rows the teacher labels.
        train_rows: rows trained on (``labelled_examples`` less the held-out share).
        heldout_fraction: the share ``distilleval train`` keeps out by default.
        tokens_per_epoch: tokens of the trained rows in one pass.
        tokens_basis: ``per row`` (each row counted) or ``mean`` (rows x mean tokens per row).
        price_as, price_name: the pricing entry and its display name.
        training_price_per_mtok_usd: its training rate.
        tokens_source: for the ``mean`` basis, where the mean tokens per row come from.
    """

    schedule: Schedule
    labelled_examples: int
    train_rows: int
    heldout_fraction: float
    tokens_per_epoch: float
    tokens_basis: str
    price_as: str
    price_name: str
    training_price_per_mtok_usd: float
    tokens_source: str = "the spec's rendered prompts over all items"

    @property
    def basis_text(self) -> str:
        """How the trained tokens were counted, in the words every output that shows them uses."""
        if self.tokens_basis == "per row":
            return f"each of the {self.train_rows:,} training rows counted from the spec's rendered prompts"
        per_row = self.tokens_per_epoch / self.train_rows if self.train_rows else 0.0
        return f"{self.train_rows:,} rows × {per_row:,.1f} mean tokens per row from {self.tokens_source}"

    @property
    def trained_tokens(self) -> float:
        """Tokens sent to forward_backward over the whole run (every epoch)."""
        return self.tokens_per_epoch * self.schedule.epochs

    @property
    def cost_usd(self) -> float:
        """Trained tokens x the training rate."""
        from distilleval.costs.cost_model import training_cost_usd

        return training_cost_usd(self.tokens_per_epoch, self.schedule.epochs, self.training_price_per_mtok_usd)

    def describe(self) -> str:
        """One line naming the recipe and the rate, for the output that shows the cost."""
        from distilleval.costs.cost_model import format_usd

        s = self.schedule
        changes = [a.split(":")[0].replace(" -> ", " → ") for a in s.adaptations]
        adapted = f" (adapted: {'; '.join(changes)})" if changes else ""
        short = f", under the cookbook's {MIN_STEPS}" if s.steps < MIN_STEPS else ""
        return (
            f"training projected with the {s.recipe} recipe: {self.train_rows:,} rows "
            f"({self.labelled_examples:,} labelled, {self.heldout_fraction:.0%} held out), batch {s.batch_size}, "
            f"{s.epochs} epochs, {s.steps} steps{short}{adapted}; {self.trained_tokens:,.0f} trained tokens "
            f"({self.basis_text}) at "
            f"{self.price_name}'s training rate, {format_usd(self.training_price_per_mtok_usd)}/1M"
        )


def project_training(
    spec: TaskSpec,
    pricing: PricingTable,
    *,
    examples: int,
    tokens_per_row: float,
    row_tokens: Sequence[int] | np.ndarray | None = None,
    heldout_fraction: float = DEFAULT_HELDOUT_FRACTION,
    seed: int = 0,
    tokens_source: str = "the spec's rendered prompts over all items",
    kept_row_tokens: int | None = None,
) -> TrainingProjection | None:
    """Project the run ``distilleval train`` will make on ``examples`` labelled rows.

    Args:
        spec: the spec (its ``training:`` block and recipe).
        pricing: the pricing table.
        examples: labelled rows.
        tokens_per_row: mean tokens of one training row.
        row_tokens: each row's tokens in file order, when known: the rows the trainer keeps out
            (same seeded choice) are left out of the sum, so the figure is exact.
        heldout_fraction, seed: as ``distilleval train``'s defaults.
        tokens_source: where ``tokens_per_row`` was measured (named when the mean is used).
        kept_row_tokens: instead of ``row_tokens``, their sum over the rows the trainer keeps
            (``kept_training_tokens``), when it was counted before.

    Returns:
        None when there is no training price to use (see ``training_price_key``).

    Raises:
        PricingError: the spec's own ``training:`` block names a model with no price.
    """
    price_as = training_price_key(spec, pricing)
    if price_as is None:
        return None
    price = pricing.price_for(price_as)
    held = int(examples * heldout_fraction)
    train_rows = examples - held
    schedule = plan_schedule(train_rows, requested_by_spec(spec.training), recipe=spec.training.recipe)
    if kept_row_tokens is not None:
        tokens_per_epoch, basis = float(kept_row_tokens), "per row"
    elif row_tokens is not None and len(row_tokens) == examples:
        tokens_per_epoch, basis = float(kept_training_tokens(row_tokens, heldout_fraction, seed)), "per row"
    else:
        tokens_per_epoch, basis = tokens_per_row * train_rows, "mean"
    return TrainingProjection(
        schedule, examples, train_rows, heldout_fraction, tokens_per_epoch, basis, price_as,
        price.display_name or price_as, price.training_per_mtok_usd or 0.0, tokens_source,
    )


def kept_training_tokens(row_tokens: Sequence[int] | np.ndarray, heldout_fraction: float = DEFAULT_HELDOUT_FRACTION,
                         seed: int = 0) -> int:
    """Tokens of the training rows ``distilleval train`` keeps (the seeded held-out rows left out), each row counted."""
    kept = np.ones(len(row_tokens), dtype=bool)
    kept[list(heldout_indices(len(row_tokens), heldout_fraction, seed))] = False
    return int(np.asarray(row_tokens, dtype=np.int64)[kept].sum())


def spec_training_projection(
    spec: TaskSpec, pricing: PricingTable, student_profile: RoleProfile, *, n_train: int,
    row_tokens: Sequence[int] | np.ndarray | None = None
) -> TrainingProjection | None:
    """``project_training`` for the spec's labelled examples (``training.labelled_examples``, else ``n_train``)."""
    examples = spec.training.labelled_examples or n_train
    return project_training(
        spec, pricing, examples=examples, tokens_per_row=student_profile.training_row_tokens, row_tokens=row_tokens
    )


def spec_training_rows(spec: TaskSpec, counts: SpecTokenCounts, *, pool: bool = False) -> tuple[int, np.ndarray | None]:
    """The training split's size and, unless a separate pool is labelled, each of its rows' tokens.

    ``estimate``, ``cost SPEC``, ``curve`` and the report all size training with this, so they
    print one trained-token count for one spec.
    """
    n_train = int((~counts.evals).sum())
    rows = None if (pool or spec.data.pool) else counts.training_row_tokens("train")
    return n_train, rows


def spec_one_time_cost(
    spec: TaskSpec, pricing: PricingTable, teacher_profile: RoleProfile, student_profile: RoleProfile, *,
    n_train: int, row_tokens: Sequence[int] | np.ndarray | None = None
) -> float | None:
    """Labelling (teacher per-request cost x examples) + training (as projected) + engineering.

    Returns None when there is no training price to use (see ``training_price_key``).
    """
    projection = spec_training_projection(spec, pricing, student_profile, n_train=n_train, row_tokens=row_tokens)
    if projection is None:
        return None
    from distilleval.costs import cost_model

    return cost_model.one_time_cost_usd(
        labelled_examples=projection.labelled_examples,
        labelling_cost_per_example_usd=role_cost_per_request_usd(spec, pricing, teacher_profile),
        training_tokens=projection.tokens_per_epoch,
        epochs=projection.schedule.epochs,
        training_price_per_mtok_usd=projection.training_price_per_mtok_usd,
        engineering_cost_usd=spec.training.engineering_cost_usd,
    )


def labelling_and_training_usd(
    spec: TaskSpec, pricing: PricingTable, teacher_profile: RoleProfile, student_profile: RoleProfile, *, examples: int,
    row_tokens: Sequence[int] | np.ndarray | None = None,
) -> tuple[float, float] | None:
    """(teacher labelling, student training) cost of ``examples`` items, as ``spec_one_time_cost`` prices them.

    Args:
        row_tokens: each of the ``examples`` rows' tokens, when they are known (see ``project_training``).

    Returns None when there is no training price to use (see ``training_price_key``).
    """
    projection = project_training(spec, pricing, examples=examples, tokens_per_row=student_profile.training_row_tokens,
                                  row_tokens=row_tokens)
    if projection is None:
        return None
    return examples * role_cost_per_request_usd(spec, pricing, teacher_profile), projection.cost_usd
