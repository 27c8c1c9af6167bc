"""Measure a spec's token profile from its real prompts, before any model is called.

Every item's teacher and student prompt is rendered exactly as the runner will send it and
counted with the local tokenizer. Output tokens are those of the gold answer as the model
would write it (the label, the JSON, the SQL).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from distilleval.costs.tokens import count_message_tokens, count_tokens
from distilleval.spec.data import Item
from distilleval.spec.messages import build_messages
from distilleval.spec.task_spec import TaskSpec


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
    def of(cls, counts: list[int]) -> "TokenStats":
        """Count, mean, p50, p95, max and total of ``counts`` (all zero when empty)."""
        if not counts:
            return cls(0, 0.0, 0.0, 0.0, 0, 0)
        values = np.asarray(counts)
        return cls(
            n=len(counts),
            mean=float(values.mean()),
            p50=float(np.percentile(values, 50)),
            p95=float(np.percentile(values, 95)),
            max=int(values.max()),
            total=int(values.sum()),
        )


@dataclass(frozen=True)
class RoleProfile:
    """Token profile of one role (teacher or student) over a set of items."""

    role: str
    model: str
    input_tokens: TokenStats
    output_tokens: TokenStats


def gold_as_text(gold: object) -> str:
    """The gold answer as a model would write it (JSON compactly, everything else as text)."""
    if gold is None:
        return ""
    if isinstance(gold, (dict, list)):
        return json.dumps(gold, ensure_ascii=False, separators=(", ", ": "))
    return str(gold)


def output_token_counts(items: list[Item]) -> list[int]:
    """Tokens of each item's gold answer (items without gold are skipped)."""
    return [count_tokens(gold_as_text(item.gold)) for item in items if item.gold is not None]


def input_token_counts(spec: TaskSpec, role: str, items: list[Item]) -> list[int]:
    """Input tokens of each item's request under ``role``'s prompt, rendered as the runner sends it."""
    model = spec.models()[role]
    return [
        count_message_tokens(build_messages(model, item, spec.data.image_inputs, embed_images=False))
        for item in items
    ]


def measure_role(spec: TaskSpec, role: str, items: list[Item], output_counts: list[int] | None = None) -> RoleProfile:
    """Render ``role``'s prompt for every item and count its input and output tokens."""
    model = spec.models()[role]
    input_counts = input_token_counts(spec, role, items)
    if output_counts is None:
        output_counts = output_token_counts(items)
    return RoleProfile(role, model.model, TokenStats.of(input_counts), TokenStats.of(output_counts))


def measure_spec(spec: TaskSpec, items: list[Item]) -> dict[str, RoleProfile]:
    """Teacher and student token profiles over ``items``."""
    outputs = output_token_counts(items)
    return {role: measure_role(spec, role, items, outputs) for role in ("teacher", "student")}


def cached_input_share(spec: TaskSpec, role: str) -> float:
    """Share of ``role``'s input tokens a prompt cache serves, as the spec projects it.

    The teacher's rubric is a fixed prefix, so ``traffic.cached_input_fraction`` applies to
    it; the student sees only the item and is projected uncached.
    """
    return spec.traffic.cached_input_fraction if role == "teacher" else 0.0


def role_cost_per_request_usd(spec: TaskSpec, pricing, profile: RoleProfile) -> float:
    """Projected cost of ``profile``'s mean request at the spec's cache share and batch setting.

    Raises:
        PricingError: the role's model has no price.
    """
    from distilleval.costs import cost_model

    model = spec.models()[profile.role]
    return cost_model.usage_cost_usd(
        pricing.price_for(model.pricing_key),
        profile.input_tokens.mean,
        profile.output_tokens.mean,
        cached_input_share=cached_input_share(spec, profile.role),
        batch=model.batch,
    )


def training_price_per_mtok_usd(spec: TaskSpec, pricing) -> float | None:
    """The training price of ``spec.training.price_as``; None when the spec has no ``training:``
    block and the table has no price for the default, so a spec that never trains still prices.

    Raises:
        PricingError: the spec's own ``training:`` block names a model with no price.
    """
    if "training" not in spec.model_fields_set and pricing.find(spec.training.price_as) is None:
        return None
    return pricing.price_for(spec.training.price_as).training_per_mtok_usd or 0.0


def spec_one_time_cost(spec, pricing, teacher_profile, student_profile, *, n_train: int) -> float | None:
    """Labelling (teacher per-request cost x examples) + training + engineering, from the spec.

    Returns None when there is no training price to use (see ``training_price_per_mtok_usd``).
    """
    from distilleval.costs import cost_model

    training_price = training_price_per_mtok_usd(spec, pricing)
    if training_price is None:
        return None
    examples = spec.training.labelled_examples or n_train
    labelling_each = role_cost_per_request_usd(spec, pricing, teacher_profile)
    tokens_per_example = student_profile.input_tokens.mean + student_profile.output_tokens.mean
    return cost_model.one_time_cost_usd(
        labelled_examples=examples,
        labelling_cost_per_example_usd=labelling_each,
        training_tokens=tokens_per_example * examples,
        epochs=spec.training.epochs,
        training_price_per_mtok_usd=training_price,
        engineering_cost_usd=spec.training.engineering_cost_usd,
    )
