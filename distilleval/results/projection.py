"""Projected results for models a run did not call (offline runs).

A projected model has no metric: nothing was asked of it. Its token profile is measured from
the spec's real prompts (rendered per item, counted locally) and its cost per request comes
from the pricing table, so the cost tables stay honest about what was measured and what was not.
"""

from __future__ import annotations

from distilleval.costs import cost_model
from distilleval.costs.estimates import gold_as_text, input_token_counts
from distilleval.costs.pricing import PricingTable
from distilleval.costs.tokens import ENCODING_NAME, count_tokens
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
    model = spec.models()[role]
    price = pricing.price_for(model.pricing_key)
    inputs = input_token_counts(spec, role, items)
    outputs = [count_tokens(gold_as_text(item.gold)) for item in items if item.gold is not None]
    input_dist, output_dist = distribution(inputs), distribution(outputs)
    mean_in = input_dist.mean if input_dist else 0.0
    mean_out = output_dist.mean if output_dist else 0.0
    cached_share = spec.traffic.cached_input_fraction if role == "teacher" else 0.0
    per_request = cost_model.usage_cost_usd(price, mean_in, mean_out, cached_input_share=cached_share, batch=model.batch)
    return ModelResult(
        role=role,
        model=model.model,
        display_name=price.display_name,
        basis="projected",
        metric=None,
        n=0,
        input_tokens=input_dist,
        output_tokens=output_dist,
        cached_input_tokens_total=cached_share * sum(inputs),
        batch=model.batch,
        cost_per_request_usd=per_request,
        cost_basis="projected",
        notes=[
            f"not called in this run: input tokens counted from the spec's rendered prompts ({ENCODING_NAME}, "
            f"{len(inputs)} items), output tokens from the gold answers, prices from {pricing.label}"
        ],
    )
