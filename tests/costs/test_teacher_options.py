"""The teacher configurations a student is compared with: list, prompt caching, batch tier."""

from __future__ import annotations

import pytest

from distilleval.costs import cost_model
from distilleval.costs.pricing import load_pricing
from distilleval.costs.teacher_options import cheapest_option, teacher_options

PRICING = load_pricing()
GPT52 = PRICING.price_for("openai/gpt-5.2")
TINKER = PRICING.price_for("tinker/lora")


def test_list_price_only_when_nothing_is_cached_and_traffic_cannot_wait():
    (only,) = teacher_options(GPT52, 1459, 138)
    assert only.key == "list" and only.cost_per_request_usd == cost_model.request_cost_usd(GPT52, 1459, 138)


def test_caching_and_batch_rows_priced_by_the_one_formula():
    options = {o.key: o for o in teacher_options(
        GPT52, 1459, 138, cached_input_share=0.76, cache_share_source="measured in this run", batch_allowed=True)}
    assert list(options) == ["list", "prompt_cache", "batch"]
    assert options["prompt_cache"].cost_per_request_usd == cost_model.usage_cost_usd(GPT52, 1459, 138, cached_input_share=0.76)
    assert options["batch"].cost_per_request_usd == pytest.approx(options["list"].cost_per_request_usd / 2)
    assert "76% of input cached, measured in this run" in options["prompt_cache"].label
    assert "50% off" in options["batch"].label


def test_cheapest_depends_on_the_request_shape():
    # Input-heavy requests: caching 90% of input at 0.1x beats half price; output-heavy: batch wins.
    input_heavy = teacher_options(GPT52, 5000, 10, cached_input_share=0.9, batch_allowed=True)
    output_heavy = teacher_options(GPT52, 500, 2000, cached_input_share=0.9, batch_allowed=True)
    assert cheapest_option(input_heavy).key == "prompt_cache"
    assert cheapest_option(output_heavy).key == "batch"


def test_no_row_the_table_cannot_price():
    # The Tinker entry has neither a cached-input price nor a batch tier.
    assert [o.key for o in teacher_options(TINKER, 100, 10, cached_input_share=0.5, batch_allowed=True)] == ["list"]
    with pytest.raises(ValueError):
        cheapest_option([])
