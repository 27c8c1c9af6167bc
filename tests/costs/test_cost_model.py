"""The cost model: the seed's "Cost at Scale" figures and the properties every figure must keep."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distilleval.costs import cost_model
from distilleval.costs.pricing import ModelPrice, load_pricing

PRICING = load_pricing()
OPUS = PRICING.price_for("anthropic/claude-opus-4-6")
GPT52 = PRICING.price_for("openai/gpt-5.2")
FLASH = PRICING.price_for("gemini/gemini-2.5-flash")
TINKER = PRICING.price_for("tinker://any/sampler_weights/final")


@pytest.mark.parametrize(
    ("price", "tokens_in", "tokens_out", "expected_per_day"),
    [
        (OPUS, 641, 4, ("$3.31", "$331", "$3,305")),
        (GPT52, 641, 4, ("$1.18", "$118", "$1,178")),
        (FLASH, 641, 4, ("$0.20", "$20", "$202")),
        (TINKER, 24, 1, ("$0.0025", "$0.25", "$2.50")),
    ],
)
def test_seed_cost_at_scale_per_day(price, tokens_in, tokens_out, expected_per_day):
    per_request = cost_model.request_cost_usd(price, tokens_in, tokens_out)
    shown = tuple(cost_model.format_usd(cost_model.daily_cost_usd(per_request, v)) for v in (1_000, 100_000, 1_000_000))
    assert shown == expected_per_day


def test_seed_monthly_and_savings():
    opus = cost_model.request_cost_usd(OPUS, 641, 4)
    tinker = cost_model.request_cost_usd(TINKER, 24, 1)
    assert cost_model.monthly_cost_usd(opus, 1_000_000) == pytest.approx(99_150.0)
    assert cost_model.monthly_cost_usd(tinker, 1_000_000) == pytest.approx(75.0)
    # The seed's "~$76" is a 30.4-day month: 365 / 12.
    assert cost_model.format_usd(cost_model.monthly_cost_usd(tinker, 1_000_000, 365 / 12)) == "$76"
    assert round(cost_model.savings_ratio(opus, tinker)) == 1322


def test_cached_input_billed_at_cached_price():
    full = cost_model.request_cost_usd(OPUS, 1000, 0)
    half_cached = cost_model.request_cost_usd(OPUS, 1000, 0, cached_input_tokens=500)
    assert full == pytest.approx(0.005)
    assert half_cached == pytest.approx((500 * 5.0 + 500 * 0.5) / 1e6)


def test_cache_writes_billed_at_the_cache_write_price():
    # Anthropic: 5-minute cache writes cost 1.25x input; reads 0.1x.
    assert OPUS.cache_write_per_mtok_usd == pytest.approx(1.25 * OPUS.input_per_mtok_usd)
    cost = cost_model.request_cost_usd(OPUS, 1000, 0, cached_input_tokens=300, cache_write_tokens=600)
    assert cost == pytest.approx((100 * 5.0 + 300 * 0.5 + 600 * 6.25) / 1e6)
    # A table without a cache-write rate bills writes as plain input.
    assert cost_model.request_cost_usd(GPT52, 1000, 0, cache_write_tokens=600) == pytest.approx(cost_model.request_cost_usd(GPT52, 1000, 0))
    with pytest.raises(ValueError, match="cannot exceed input_tokens"):
        cost_model.request_cost_usd(OPUS, 1000, 0, cached_input_tokens=600, cache_write_tokens=600)


def test_usage_cost_prices_shares_of_input_like_token_counts():
    by_share = cost_model.usage_cost_usd(OPUS, 1459, 138.2, cached_input_share=0.6, cache_write_share=0.1)
    by_tokens = cost_model.request_cost_usd(OPUS, 1459, 138.2, cached_input_tokens=1459 * 0.6, cache_write_tokens=145.9)
    assert by_share == pytest.approx(by_tokens, rel=1e-15)
    for bad in ({"cached_input_share": 1.2}, {"cached_input_share": 0.7, "cache_write_share": 0.4}, {"cache_write_share": math.nan}):
        with pytest.raises(ValueError):
            cost_model.usage_cost_usd(OPUS, 1000, 0, **bad)


def test_batch_tier_uses_discount_and_refuses_missing_tier():
    assert cost_model.request_cost_usd(OPUS, 641, 4, batch=True) == pytest.approx(cost_model.request_cost_usd(OPUS, 641, 4) / 2)
    from distilleval.errors import PricingError

    with pytest.raises(PricingError, match="no batch price"):
        cost_model.request_cost_usd(TINKER, 24, 1, batch=True)


def test_rounding_is_display_only():
    # 1,000 requests at $0.0033045 each is $3.3045 whatever a table cell shows per request.
    per_request = 0.0033045
    assert cost_model.daily_cost_usd(per_request, 1000) == pytest.approx(3.3045)
    assert cost_model.format_usd(per_request) == "$0.0033"
    assert cost_model.format_usd(3.305) == "$3.31"  # half-up, despite 3.305 being stored as 3.30499...


def test_break_even_and_never():
    assert cost_model.break_even_days(100.0, 25.0) == 4.0
    assert cost_model.break_even_days(100.0, 0.0) is None
    assert cost_model.break_even_days(100.0, -5.0) is None
    assert cost_model.break_even_days(0.0, -5.0) == 0.0


def test_one_time_cost_sums_labelling_training_engineering():
    total = cost_model.one_time_cost_usd(
        labelled_examples=1000,
        labelling_cost_per_example_usd=0.003,
        training_tokens=25_000,
        epochs=4,
        training_price_per_mtok_usd=0.30,
        engineering_cost_usd=500.0,
    )
    assert total == pytest.approx(3.0 + 0.03 + 500.0)


def test_cpu_cost():
    assert cost_model.cpu_cost_per_request_usd(0.05, 0.0036) == pytest.approx(0.00000005)


def test_negative_or_nan_inputs_are_refused():
    with pytest.raises(ValueError):
        cost_model.request_cost_usd(OPUS, -1, 0)
    with pytest.raises(ValueError):
        cost_model.daily_cost_usd(float("nan"), 10)
    with pytest.raises(ValueError):
        cost_model.request_cost_usd(OPUS, 10, 0, cached_input_tokens=11)


prices = st.floats(min_value=0, max_value=100, allow_nan=False)
tokens = st.floats(min_value=0, max_value=1e6, allow_nan=False)
volumes = st.integers(min_value=0, max_value=10**8)


def _price(p_in: float, p_out: float) -> ModelPrice:
    return ModelPrice.model_validate(
        {"display_name": "x", "input": p_in, "output": p_out, "source": "test", "as_of": "2026-01-01"}
    )


@given(prices, prices, tokens, tokens, volumes, st.integers(min_value=1, max_value=1000))
def test_daily_cost_is_linear_in_volume(p_in, p_out, n_in, n_out, volume, factor):
    per_request = cost_model.request_cost_usd(_price(p_in, p_out), n_in, n_out)
    assert cost_model.daily_cost_usd(per_request, volume * factor) == pytest.approx(
        cost_model.daily_cost_usd(per_request, volume) * factor, rel=1e-9, abs=1e-12
    )


@given(prices, prices, st.floats(min_value=0, max_value=50), tokens, tokens, tokens)
def test_cost_is_monotone_in_price_and_tokens(p_in, p_out, extra, n_in, n_out, more):
    base = cost_model.request_cost_usd(_price(p_in, p_out), n_in, n_out)
    assert cost_model.request_cost_usd(_price(p_in + extra, p_out), n_in, n_out) >= base
    assert cost_model.request_cost_usd(_price(p_in, p_out + extra), n_in, n_out) >= base
    assert cost_model.request_cost_usd(_price(p_in, p_out), n_in + more, n_out) >= base
    assert cost_model.request_cost_usd(_price(p_in, p_out), n_in, n_out + more) >= base


@given(st.floats(min_value=1e-9, max_value=10), st.floats(min_value=1e-9, max_value=10), st.integers(1, 10**7))
def test_savings_ratio_matches_per_request_and_per_day(teacher, student, volume):
    ratio = cost_model.savings_ratio(teacher, student)
    assert ratio == pytest.approx(teacher / student)
    assert cost_model.savings_ratio(cost_model.daily_cost_usd(teacher, volume), cost_model.daily_cost_usd(student, volume)) == pytest.approx(ratio)


@given(st.floats(min_value=0, max_value=1e7), st.floats(min_value=-1e4, max_value=1e4))
def test_break_even_is_cost_over_saving_never_negative_or_nan(one_time, daily_saving):
    days = cost_model.break_even_days(one_time, daily_saving)
    if one_time == 0:
        assert days == 0.0
    elif daily_saving <= 0:
        assert days is None  # "never", not a negative number of days
    else:
        assert days == pytest.approx(one_time / daily_saving)
    # The branches above cannot give a negative or NaN number of days from valid inputs; the
    # inputs that would (a negative cost, a NaN saving) must be refused, not turned into one.
    with pytest.raises(ValueError, match="one_time_cost_usd"):
        cost_model.break_even_days(-1.0 - one_time, daily_saving)
    with pytest.raises(ValueError, match="daily_saving_usd"):
        cost_model.break_even_days(one_time, math.nan)


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False))
def test_format_usd_never_fails_and_starts_with_dollar(value):
    assert cost_model.format_usd(value).startswith("$")


def _row(**rates) -> ModelPrice:
    return ModelPrice.model_validate({"display_name": "m", "input": 2.0, "output": 8.0, "source": "test",
                                      "as_of": "2026-02-01", **rates})


@pytest.mark.parametrize("row, batch, writes, said", [
    ({"cached_input": 0.2}, False, False, "priced at the cached-input rate of m ($0.20/1M tokens)"),
    ({}, False, False, "priced at the full input rate: the pricing table has no cached-input rate for m"),
    ({"cached_input": 0.2, "cache_write": 2.5}, False, True,
     "priced at the cached-input rate of m ($0.20/1M tokens); writes at the cache-write rate ($2.50/1M tokens)"),
    ({"cached_input": 0.2}, False, True,
     "priced at the cached-input rate of m ($0.20/1M tokens); writes at the full input rate (no cache-write rate for m)"),
    ({"cached_input": 0.2, "batch_discount": 0.5}, True, False,
     "priced at the batch input rate: the pricing table has no batch rates for prompt-cache tokens"),
])
def test_the_cache_rates_sentence_says_the_rate_request_cost_applied(row, batch, writes, said):
    price = _row(**row)
    assert cost_model.cache_rates_applied(price, "m", batch=batch, writes=writes) == said
    # The sentence and the arithmetic agree: cached tokens cost the rate it names.
    per_cached_token = cost_model.request_cost_usd(price, 1e6, 0, cached_input_tokens=1e6, batch=batch)
    named = {"cached-input rate": 0.2, "full input rate": 2.0, "batch input rate": 1.0}
    assert per_cached_token == pytest.approx(next(v for k, v in named.items() if said.startswith(f"priced at the {k}")))


# -- pinned by mutation testing (docs/mutation.md): each check below failed to notice a mutant --------------------
@pytest.mark.parametrize(("function", "arguments", "negative"), [
    (cost_model.request_cost_usd, {"price": OPUS, "input_tokens": 10, "output_tokens": 1}, "input_tokens"),
    (cost_model.request_cost_usd, {"price": OPUS, "input_tokens": 10, "output_tokens": 1}, "output_tokens"),
    (cost_model.request_cost_usd, {"price": OPUS, "input_tokens": 10, "output_tokens": 1}, "cached_input_tokens"),
    (cost_model.request_cost_usd, {"price": OPUS, "input_tokens": 10, "output_tokens": 1}, "cache_write_tokens"),
    (cost_model.daily_cost_usd, {"cost_per_request_usd": 1.0, "requests_per_day": 1.0}, "cost_per_request_usd"),
    (cost_model.daily_cost_usd, {"cost_per_request_usd": 1.0, "requests_per_day": 1.0}, "requests_per_day"),
    (cost_model.monthly_cost_usd, {"cost_per_request_usd": 1.0, "requests_per_day": 1.0}, "days_per_month"),
    (cost_model.savings_ratio, {"teacher_cost_usd": 1.0, "student_cost_usd": 1.0}, "teacher_cost_usd"),
    (cost_model.savings_ratio, {"teacher_cost_usd": 1.0, "student_cost_usd": 1.0}, "student_cost_usd"),
    (cost_model.training_cost_usd, {"training_tokens": 1.0, "epochs": 1.0, "training_price_per_mtok_usd": 1.0},
     "training_tokens"),
    (cost_model.training_cost_usd, {"training_tokens": 1.0, "epochs": 1.0, "training_price_per_mtok_usd": 1.0}, "epochs"),
    (cost_model.training_cost_usd, {"training_tokens": 1.0, "epochs": 1.0, "training_price_per_mtok_usd": 1.0},
     "training_price_per_mtok_usd"),
    *[(cost_model.one_time_cost_usd, {"labelled_examples": 1.0, "labelling_cost_per_example_usd": 1.0,
                                      "training_tokens": 1.0, "epochs": 1.0, "training_price_per_mtok_usd": 1.0}, name)
      for name in ("labelled_examples", "labelling_cost_per_example_usd", "engineering_cost_usd")],
    (cost_model.cpu_cost_per_request_usd, {"cpu_usd_per_hour": 1.0, "cpu_seconds": 1.0}, "cpu_usd_per_hour"),
    (cost_model.cpu_cost_per_request_usd, {"cpu_usd_per_hour": 1.0, "cpu_seconds": 1.0}, "cpu_seconds"),
])
def test_every_negative_argument_is_refused_by_its_own_name(function, arguments, negative):
    # Each argument is checked itself: a negative count or price is named in the error, not caught
    # later (or never) by some other check it happens to break.
    with pytest.raises(ValueError, match=rf"^{negative} must be a non-negative number, got -1\.0$"):
        function(**{**arguments, negative: -1.0})


def test_the_exact_error_messages_of_shares_and_token_parts():
    with pytest.raises(ValueError, match=r"^cached_input_tokens \+ cache_write_tokens cannot exceed input_tokens$"):
        cost_model.request_cost_usd(OPUS, 1000, 0, cached_input_tokens=600, cache_write_tokens=600)
    for name in ("cached_input_share", "cache_write_share"):
        for bad in (1.2, -0.1, None):
            with pytest.raises(ValueError, match=rf"^{name} must be in \[0, 1\], got {bad!r}$"):
                cost_model.usage_cost_usd(OPUS, 1000, 0, **{name: bad})
    for shares in ((0.7, 0.4), (1.0, 1.0)):
        with pytest.raises(ValueError, match=r"^cached_input_share \+ cache_write_share cannot exceed 1$"):
            cost_model.usage_cost_usd(OPUS, 1000, 0, cached_input_share=shares[0], cache_write_share=shares[1])
    with pytest.raises(ValueError, match=r"^daily_saving_usd must be a number$"):
        cost_model.break_even_days(1.0, math.nan)


def test_usage_cost_defaults_and_the_edges_of_its_shares():
    # No shares: nothing cached, nothing written.
    assert cost_model.usage_cost_usd(OPUS, 1000, 10) == cost_model.request_cost_usd(OPUS, 1000, 10)
    # 0 and 1 are valid shares, and shares summing to exactly 1 are accepted.
    assert cost_model.usage_cost_usd(OPUS, 1000, 0, cached_input_share=0.0, cache_write_share=0.0) == pytest.approx(0.005)
    assert cost_model.usage_cost_usd(OPUS, 1000, 0, cached_input_share=1.0) == pytest.approx(1000 * 0.5 / 1e6)
    assert cost_model.usage_cost_usd(OPUS, 1000, 0, cache_write_share=1.0) == pytest.approx(1000 * 6.25 / 1e6)
    assert cost_model.usage_cost_usd(OPUS, 1000, 0, cached_input_share=0.6, cache_write_share=0.4) == pytest.approx(
        (600 * 0.5 + 400 * 6.25) / 1e6)
    # The batch tier is passed through.
    assert cost_model.usage_cost_usd(OPUS, 641, 4, batch=True) == pytest.approx(cost_model.request_cost_usd(OPUS, 641, 4) / 2)


def test_cache_rates_sentence_defaults_to_the_standard_tier_without_writes():
    assert cost_model.cache_rates_applied(_row(cached_input=0.2, cache_write=2.5), "m") == (
        "priced at the cached-input rate of m ($0.20/1M tokens)")


def test_savings_ratio_at_zero_and_one():
    assert cost_model.savings_ratio(0.0, 0.0) == 1.0
    assert cost_model.savings_ratio(2.0, 0.0) == math.inf
    assert cost_model.savings_ratio(3.0, 1.0) == 3.0
    assert cost_model.savings_ratio(1.0, 4.0) == 0.25


def test_one_time_cost_without_engineering_is_labelling_plus_training():
    total = cost_model.one_time_cost_usd(labelled_examples=1000, labelling_cost_per_example_usd=0.003,
                                         training_tokens=25_000, epochs=4, training_price_per_mtok_usd=0.30)
    assert total == pytest.approx(3.0 + 0.03)


@pytest.mark.parametrize(("value", "shown"), [
    (None, "n/a"), (math.inf, "∞"),
    # Each band's lower edge belongs to that band: a cent shows as cents, ten dollars as whole dollars.
    (0.01, "$0.01"), (0.025, "$0.03"), (9.994, "$9.99"), (10.0, "$10"), (10.5, "$11"),
    # Half-up at two decimals: just below the half rounds down (no rounding at a finer scale first).
    (1.0049, "$1.00"), (3.3049, "$3.30"), (1.005, "$1.01"),
    # Negative amounts (a student that costs more) keep their sign in every band.
    (-0.0025, "-$0.0025"), (-3.305, "-$3.31"), (-3305.0, "-$3,305"),
])
def test_format_usd_bands_edges_and_signs(value, shown):
    assert cost_model.format_usd(value) == shown
