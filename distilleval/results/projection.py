"""Projected results for models a run did not call (offline runs).

A projected model has no metric: nothing was asked of it. Its token profile is measured from
the spec's real prompts (rendered per item, counted locally: a Tinker student with its own
tokenizer and chat template where that ships offline, everything else with cl100k) and its
cost per request comes from the pricing table, so the cost tables stay honest about what was
measured and what was not, and name the tokenizer that counted.
"""

from __future__ import annotations

from typing import Literal

from distilleval.costs import cost_model
from distilleval.costs.estimates import answer_token_counts, input_token_counts, projection_basis
from distilleval.costs.pricing import PricingTable, priced_as
from distilleval.costs.prompt_caching import model_cache_share
from distilleval.costs.tokens import LOCAL_TOKENIZER
from distilleval.results.build import distribution
from distilleval.results.summary_json import ModelResult
from distilleval.spec.data import Item
from distilleval.spec.task_spec import TaskSpec


def projected_model_result(spec: TaskSpec, role: str, items: list[Item], pricing: PricingTable) -> ModelResult:
    """A ``ModelResult`` with basis ``projected`` for ``role`` over ``items``.

    Output tokens are those of the gold answers (what a correct model would write).

    Raises:
        PricingError: the model has no price in ``pricing``.
    """
    from distilleval.backends.tinker.token_counts import spec_token_counters

    model = spec.models()[role]
    price = pricing.price_for(pricing.key_for(model))
    counter = spec_token_counters(spec).get(role)
    counted_by = counter.name if counter is not None else LOCAL_TOKENIZER
    inputs = input_token_counts(spec, role, items, counter=counter)
    outputs = [n for n in answer_token_counts(items, counter=counter) if n is not None]
    input_dist, output_dist = distribution(inputs), distribution(outputs)
    mean_in = (input_dist.mean if input_dist else None) or 0.0
    mean_out = (output_dist.mean if output_dist else None) or 0.0
    cache = model_cache_share(spec, role)
    cached_share = cache.share
    per_request = cost_model.usage_cost_usd(price, mean_in, mean_out, cached_input_share=cached_share, batch=model.batch)
    summary_role: Literal["teacher", "student", "candidate"] = (
        "teacher" if role == "teacher" else "student" if role == "student" else "candidate")
    candidate = summary_role == "candidate"
    return ModelResult(
        role=summary_role,
        model=model.model,
        display_name=role if candidate else price.display_name,
        basis="projected",
        metric=None,
        n=0,
        input_tokens=input_dist,
        output_tokens=output_dist,
        cached_input_tokens_total=cached_share * sum(inputs),
        batch=model.batch,
        priced_as=priced_as(model, pricing),
        cost_per_request_usd=per_request,
        cost_basis="projected",
        tokens_counted_by=counted_by,
        notes=[
            f"not called in this run: {projection_basis(len(inputs))} ({counted_by}), output tokens from the "
            f"gold answers, prices from {pricing.label}",
            *([f"prompt cache: {cache.dropped}"] if cache.dropped else []),
        ],
    )
