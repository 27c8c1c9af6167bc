"""The cost model: pure functions from prices, token counts and volumes to dollars.

No I/O here. Everything is computed in full precision; only ``format_usd`` rounds, and only
for display, so a table's rounded cells never change its totals.

All prices are USD per 1M tokens (``*_per_mtok_usd``); all costs are USD.
"""

from __future__ import annotations

import math

from distilleval.costs.pricing import ModelPrice

TOKENS_PER_PRICE_UNIT = 1_000_000


def _check_non_negative(**values: float) -> None:
    for name, value in values.items():
        if value is None or math.isnan(value) or value < 0:
            raise ValueError(f"{name} must be a non-negative number, got {value!r}")


def request_cost_usd(
    price: ModelPrice,
    input_tokens: float,
    output_tokens: float,
    *,
    cached_input_tokens: float = 0.0,
    cache_write_tokens: float = 0.0,
    batch: bool = False,
) -> float:
    """Cost of one request (or of a total of requests: the formula is linear).

    Args:
        price: the model's pricing-table entry.
        input_tokens: all input tokens of the request, cached reads and cache writes included.
        output_tokens: generated tokens.
        cached_input_tokens: the part of ``input_tokens`` read from a prompt cache; billed at
            the cached-input price when the table has one, else at the normal input price.
        cache_write_tokens: the part of ``input_tokens`` written to a prompt cache (Anthropic);
            billed at the cache-write price when the table has one, else at the input price.
        batch: price at the batch tier (raises ``PricingError`` if the model has none). The
            table has no batch cache rates, so at the batch tier every input token is billed
            at the batch input price.

    Returns:
        ``(uncached_in * p_in + cached_in * p_cached + written_in * p_write + out * p_out) / 1M``.

    >>> from distilleval.costs.pricing import load_pricing
    >>> round(request_cost_usd(load_pricing().price_for("anthropic/claude-opus-4-6"), 641, 4), 6)
    0.003305
    """
    _check_non_negative(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_input_tokens=cached_input_tokens,
        cache_write_tokens=cache_write_tokens,
    )
    if cached_input_tokens + cache_write_tokens > input_tokens * (1 + 1e-12):
        raise ValueError("cached_input_tokens + cache_write_tokens cannot exceed input_tokens")
    cached_price: float | None
    write_price: float | None
    if batch:
        input_price, output_price = price.batch_prices()
        cached_price = write_price = input_price
    else:
        input_price, output_price = price.input_per_mtok_usd, price.output_per_mtok_usd
        cached_price = price.cached_input_per_mtok_usd
        write_price = price.cache_write_per_mtok_usd
    if cached_price is None:
        cached_price = input_price
    if write_price is None:
        write_price = input_price
    uncached = max(input_tokens - cached_input_tokens - cache_write_tokens, 0.0)
    dollars = (
        uncached * input_price
        + cached_input_tokens * cached_price
        + cache_write_tokens * write_price
        + output_tokens * output_price
    )
    return dollars / TOKENS_PER_PRICE_UNIT


def cache_rates_applied(price: ModelPrice, priced_as: str, *, batch: bool = False, writes: bool = False) -> str:
    """Which rates ``request_cost_usd`` applied to prompt-cache tokens, in words, for a note.

    A cached-pricing sentence only where a cached rate was applied: a row without one bills
    cached tokens at the full input rate, and the batch tier has no cache rates at all.

    Args:
        price: the pricing-table row the model was priced as.
        priced_as: that row's name, for the sentence.
        batch: the calls were priced at the batch tier.
        writes: some input tokens were written to the prompt cache (say how those were priced too).

    >>> from distilleval.costs.pricing import load_pricing
    >>> cache_rates_applied(load_pricing().price_for("tinker/lora"), "tinker/lora")
    'priced at the full input rate: the pricing table has no cached-input rate for tinker/lora'
    """
    if batch:
        return "priced at the batch input rate: the pricing table has no batch rates for prompt-cache tokens"
    cached = price.cached_input_per_mtok_usd
    if cached is None:
        text = f"priced at the full input rate: the pricing table has no cached-input rate for {priced_as}"
    else:
        text = f"priced at the cached-input rate of {priced_as} ({format_usd(cached)}/1M tokens)"
    if writes:
        written = price.cache_write_per_mtok_usd
        if written is None:
            text += f"; writes at the full input rate (no cache-write rate for {priced_as})"
        else:
            text += f"; writes at the cache-write rate ({format_usd(written)}/1M tokens)"
    return text


def usage_cost_usd(
    price: ModelPrice,
    input_tokens: float,
    output_tokens: float,
    *,
    cached_input_share: float = 0.0,
    cache_write_share: float = 0.0,
    batch: bool = False,
) -> float:
    """The cost of a mean request described by shares of its input.

    ``estimate``, offline projections and the report's teacher configurations call this; cost
    tables call ``request_cost_usd`` with the same products (mean input x share), so ``estimate``,
    ``cost SPEC``, ``cost RUN`` and the report agree for the same inputs (a test holds them to it).

    Args:
        price: the model's pricing-table entry.
        input_tokens: mean input tokens per request (or a total).
        output_tokens: mean output tokens per request (or a total).
        cached_input_share: share of input tokens read from a prompt cache, in [0, 1]: measured
            by a run (cached tokens / input tokens) or the spec's ``traffic.cached_input_fraction``.
        cache_write_share: share of input tokens written to a prompt cache, in [0, 1].
        batch: price at the batch tier.

    Returns:
        ``request_cost_usd`` with ``cached_input_tokens = input_tokens * cached_input_share`` and
        ``cache_write_tokens = input_tokens * cache_write_share``.

    >>> from distilleval.costs.pricing import load_pricing
    >>> gpt = load_pricing().price_for("openai/gpt-5.2")
    >>> usage_cost_usd(gpt, 1000, 0, cached_input_share=0.5) == request_cost_usd(gpt, 1000, 0, cached_input_tokens=500)
    True
    """
    for name, share in (("cached_input_share", cached_input_share), ("cache_write_share", cache_write_share)):
        if share is None or math.isnan(share) or not 0 <= share <= 1:
            raise ValueError(f"{name} must be in [0, 1], got {share!r}")
    if cached_input_share + cache_write_share > 1 + 1e-9:
        raise ValueError("cached_input_share + cache_write_share cannot exceed 1")
    return request_cost_usd(
        price,
        input_tokens,
        output_tokens,
        cached_input_tokens=input_tokens * cached_input_share,
        cache_write_tokens=input_tokens * cache_write_share,
        batch=batch,
    )


def daily_cost_usd(cost_per_request_usd: float, requests_per_day: float) -> float:
    """Cost of a day of traffic: per-request cost times requests per day."""
    _check_non_negative(cost_per_request_usd=cost_per_request_usd, requests_per_day=requests_per_day)
    return cost_per_request_usd * requests_per_day


def monthly_cost_usd(cost_per_request_usd: float, requests_per_day: float, days_per_month: float = 30.0) -> float:
    """Cost of a month of traffic (30 days unless told otherwise)."""
    _check_non_negative(days_per_month=days_per_month)
    return daily_cost_usd(cost_per_request_usd, requests_per_day) * days_per_month


def savings_ratio(teacher_cost_usd: float, student_cost_usd: float) -> float:
    """How many times cheaper the student is: teacher cost / student cost.

    Returns ``math.inf`` when the student costs nothing and the teacher something, and 1.0
    when both cost nothing. A ratio below 1 means the student is dearer.
    """
    _check_non_negative(teacher_cost_usd=teacher_cost_usd, student_cost_usd=student_cost_usd)
    if student_cost_usd == 0:
        return 1.0 if teacher_cost_usd == 0 else math.inf
    return teacher_cost_usd / student_cost_usd


def training_cost_usd(training_tokens: float, epochs: float, training_price_per_mtok_usd: float) -> float:
    """Cost of fine-tuning: tokens per epoch x epochs x training price."""
    _check_non_negative(
        training_tokens=training_tokens, epochs=epochs, training_price_per_mtok_usd=training_price_per_mtok_usd
    )
    return training_tokens * epochs * training_price_per_mtok_usd / TOKENS_PER_PRICE_UNIT


def one_time_cost_usd(
    *,
    labelled_examples: float,
    labelling_cost_per_example_usd: float,
    training_tokens: float,
    epochs: float,
    training_price_per_mtok_usd: float,
    engineering_cost_usd: float = 0.0,
) -> float:
    """What moving to the student costs once: teacher labelling + training + engineering."""
    _check_non_negative(
        labelled_examples=labelled_examples,
        labelling_cost_per_example_usd=labelling_cost_per_example_usd,
        engineering_cost_usd=engineering_cost_usd,
    )
    labelling = labelled_examples * labelling_cost_per_example_usd
    training = training_cost_usd(training_tokens, epochs, training_price_per_mtok_usd)
    return labelling + training + engineering_cost_usd


def break_even_days(one_time_cost_usd: float, daily_saving_usd: float) -> float | None:
    """Days until the daily saving pays back the one-time cost.

    Returns:
        ``one_time_cost_usd / daily_saving_usd``; ``0.0`` when there is nothing to pay back;
        ``None`` ("never") when the student saves nothing or costs more per day.
    """
    _check_non_negative(one_time_cost_usd=one_time_cost_usd)
    if math.isnan(daily_saving_usd):
        raise ValueError("daily_saving_usd must be a number")
    if one_time_cost_usd == 0:
        return 0.0
    if daily_saving_usd <= 0:
        return None
    return one_time_cost_usd / daily_saving_usd


def cpu_cost_per_request_usd(cpu_usd_per_hour: float, cpu_seconds: float) -> float:
    """Cost of a local CPU prediction: hourly CPU price x measured seconds / 3600."""
    _check_non_negative(cpu_usd_per_hour=cpu_usd_per_hour, cpu_seconds=cpu_seconds)
    return cpu_usd_per_hour * cpu_seconds / 3600.0


def format_usd(value: float | None) -> str:
    """Dollars for a table cell; display only, never fed back into a calculation.

    Under a cent: two significant figures; under $10: cents; otherwise whole dollars with
    thousands separators.

    >>> [format_usd(v) for v in (0.0025, 3.305, 330.5, 3305.0, 0.0, 2.5e-06)]
    ['$0.0025', '$3.31', '$331', '$3,305', '$0', '$0.0000025']
    """
    if value is None:
        return "n/a"
    if math.isinf(value):
        return "∞"
    if value == 0:
        return "$0"
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value < 0.01:
        decimals = 1 - math.floor(math.log10(value))
        return f"{sign}${value:.{decimals}f}"
    if value < 10:
        return f"{sign}${_round_half_up(value, 2):.2f}"
    return f"{sign}${_round_half_up(value, 0):,.0f}"


def _round_half_up(value: float, digits: int) -> float:
    """Round half away from zero (3.305 -> 3.31), as people round money, not banker's rounding.

    The small epsilon absorbs binary representation error (3.305 is stored as 3.30499...).
    """
    scale = float(10**digits)
    return math.floor(value * scale + 0.5 + 1e-9) / scale
