"""A run's stored calls as priced outputs: ``output_chunk`` (plain rows into one chunk) gives the records
``model_outputs`` gives, aligned with the items."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from distilleval.costs.pricing import load_pricing
from distilleval.pipeline.call_outputs import model_outputs, output_chunk
from distilleval.results.build import aligned_outputs
from distilleval.run.runner import CallResult
from distilleval.run.store import RunStore


def fill(store: RunStore) -> None:
    """Every kind of row: answered, a cache hit, truncated, with and without confidence or tokens, failed,
    lost with its batch (billed), and a later repeat."""
    store.add(CallResult("a", "m", 0, "ok", text="pos", input_tokens=100, output_tokens=5, latency_ms=210.0,
                         cost_usd=0.5, attempts=1, cached_input_tokens=40, finish_reason="stop",
                         confidence=0.75, confidence_basis="class_probability"))
    store.add(CallResult("b", "m", 0, "ok", text="neg", input_tokens=100, output_tokens=5, latency_ms=90.0,
                         cache_hit=True, cached_input_tokens=40, finish_reason="length"))
    store.add(CallResult("c", "m", 0, "ok", text="neg", latency_ms=80.0, cost_usd=0.25))  # no token counts
    store.add(CallResult("d", "m", 0, "error", error_kind="timeout", error_message="slow", attempts=3,
                         latency_ms=30000.0))
    store.add(CallResult("e", "m", 0, "error", error_kind="expired", input_tokens=50, output_tokens=0,
                         cost_usd=0.01, error_message="m: the batch b-1 ended before answering"))
    store.add(CallResult("f", "m", 0, "ok", text="", input_tokens=7, output_tokens=0, cache_write_tokens=3,
                         confidence=0.1, confidence_basis="token_logprobs:mean"))
    store.add(CallResult("a", "m", 1, "ok", text="second", input_tokens=1, output_tokens=1))


@pytest.mark.parametrize("batch", [False, True])
@pytest.mark.parametrize("wanted", [["f", "missing", "e", "d", "c", "b", "a", "a"], ["f", "c", "b", "a"]],
                         ids=["every_case", "answered_in_order"])
def test_output_chunk_is_model_outputs_aligned(tmp_path, batch, wanted):
    """Any rows (the general path) and one answered first call per item in order (the column path)."""
    price = load_pricing().price_for("openai/gpt-4.1-mini")
    items = [SimpleNamespace(id=item_id) for item_id in wanted]
    with RunStore(tmp_path) as store:
        fill(store)
        ids = [item.id for item in items]
        chunk = output_chunk(store.first_rows("m", ids), items, price, batch=batch)
        expected = model_outputs(store.first_results("m", ids), items, price, batch=batch)
    assert list(chunk) == aligned_outputs({output.item_id: output for output in expected}, items)
    by_id = {output.item_id: output for output in chunk}
    assert by_id["f"].cost_usd > 0 and by_id["c"].cost_usd == 0.25  # priced from its tokens; else as recorded
    if len(wanted) > 4:
        assert chunk[1].error_kind == "missing" and chunk[2].error_reason == "the batch ended before answering"
    assert [chunk[i] for i in range(-len(chunk), len(chunk))] == list(chunk) * 2 and chunk[1:3] == list(chunk)[1:3]
