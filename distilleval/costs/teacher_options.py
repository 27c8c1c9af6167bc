"""The teacher configurations a team could run instead of fine-tuning, and the cheapest of them.

A team's real alternative to a student is rarely the teacher at list price: it can cache the
rubric (a fixed prefix) and send what can wait through the provider's batch tier. Each option
is priced with ``cost_model.usage_cost_usd`` from the same mean request, so the student is
compared with the cheapest one the pricing table and the traffic honestly allow.
"""

from __future__ import annotations

from dataclasses import dataclass

from distilleval.costs import cost_model
from distilleval.costs.pricing import ModelPrice


@dataclass(frozen=True)
class TeacherOption:
    """One way of running the teacher and what its mean request costs (USD, unrounded).

    Attributes:
        key: ``list``, ``prompt_cache`` or ``batch``.
        label: how reports name it, with the share or discount it assumes.
        cost_per_request_usd: the mean request priced that way.
    """

    key: str
    label: str
    cost_per_request_usd: float


def teacher_options(
    price: ModelPrice,
    input_tokens: float,
    output_tokens: float,
    *,
    cached_input_share: float = 0.0,
    cache_write_share: float = 0.0,
    cache_share_source: str = "",
    batch_allowed: bool = False,
) -> list[TeacherOption]:
    """The teacher at list price, with prompt caching, and at the batch tier, where each applies.

    Args:
        price: the teacher's pricing-table entry.
        input_tokens: mean input tokens per request.
        output_tokens: mean output tokens per request.
        cached_input_share: share of input a prompt cache serves (measured or spec'd); the
            caching option is listed only when it is above 0 and the table has a cached price.
        cache_write_share: share of input written to the cache (measured on Anthropic routes).
        cache_share_source: where the share comes from, for the label ("measured in this run").
        batch_allowed: the traffic can wait for the batch tier; listed only when the model has one.
            The table has no batch cache rates, so the batch option is priced uncached.

    Returns:
        The options, list price first.
    """
    options = [TeacherOption("list", "list price (no prompt cache)", cost_model.usage_cost_usd(price, input_tokens, output_tokens))]
    if cached_input_share > 0 and price.cached_input_per_mtok_usd is not None:
        source = f", {cache_share_source}" if cache_share_source else ""
        label = f"prompt caching ({cached_input_share:.0%} of input cached{source})"
        cost = cost_model.usage_cost_usd(
            price, input_tokens, output_tokens, cached_input_share=cached_input_share, cache_write_share=cache_write_share
        )
        options.append(TeacherOption("prompt_cache", label, cost))
    if batch_allowed and price.has_batch_tier:
        cost = cost_model.usage_cost_usd(price, input_tokens, output_tokens, batch=True)
        options.append(TeacherOption("batch", f"batch tier ({price.batch_discount:.0%} off, no prompt cache)" if price.batch_discount else "batch tier (no prompt cache)", cost))
    return options


def cheapest_option(options: list[TeacherOption]) -> TeacherOption:
    """The option with the lowest cost per request (the first of equals).

    Raises:
        ValueError: ``options`` is empty.
    """
    if not options:
        raise ValueError("no teacher options to choose from")
    return min(options, key=lambda option: option.cost_per_request_usd)
