"""A run's stored calls as the summary's ``ModelOutput`` records, priced at this run's pricing table.

``eval`` prices every answered call from its measured tokens, so a cache hit made under an older
table is costed at today's prices; ``pipeline.evaluate`` (the judge's calls, the latency probe)
and ``pipeline.streamed_summary`` (each chunk of a run) price through here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from distilleval.spec.data import Item

if TYPE_CHECKING:
    from distilleval.results.build import OutputChunk


def priced_cost(result: Any, price: Any, *, batch: bool) -> float:
    """A call's cost from its measured tokens at this run's pricing table (its recorded cost
    when the tokens are unknown)."""
    from distilleval.costs.cost_model import request_cost_usd

    if not (result.ok and result.input_tokens is not None and result.output_tokens is not None):
        return result.cost_usd
    return request_cost_usd(
        price,
        result.input_tokens,
        result.output_tokens,
        cached_input_tokens=result.cached_input_tokens,
        cache_write_tokens=result.cache_write_tokens,
        batch=batch,
    )


def model_outputs(results: list[Any], items: Sequence[Item], price: Any, *, batch: bool) -> list[Any]:
    """The run store's rows for ``items`` as ``results.build.ModelOutput`` records.

    Every answered call is priced from its measured tokens with this run's pricing table, so
    a cache hit made under an older table is costed at today's prices (and spent nothing).
    """
    from distilleval.results.build import ModelOutput
    from distilleval.run.batch import batch_loss_reason

    wanted = {item.id for item in items}
    outputs = []
    # The cost is a function of the four token counts: each distinct combination is priced once.
    costs: dict[tuple[Any, ...], float] = {}
    for r in results:
        if r.item_id not in wanted or r.repeat != 0:
            continue
        if r.ok and r.input_tokens is not None and r.output_tokens is not None:
            tokens = (r.input_tokens, r.output_tokens, r.cached_input_tokens, r.cache_write_tokens)
            cost_usd = costs.get(tokens)
            if cost_usd is None:
                cost_usd = costs[tokens] = priced_cost(r, price, batch=batch)
        else:
            cost_usd = priced_cost(r, price, batch=batch)
        outputs.append(
            ModelOutput(
                item_id=r.item_id,
                text=r.text if r.ok else None,
                error_kind=None if r.ok else r.error_kind,
                input_tokens=r.input_tokens,
                output_tokens=r.output_tokens,
                latency_ms=r.latency_ms,
                cost_usd=cost_usd,
                cache_hit=r.cache_hit,
                cached_input_tokens=r.cached_input_tokens or 0,
                cache_write_tokens=r.cache_write_tokens or 0,
                finish_reason=r.finish_reason,
                error_reason=None if r.ok else batch_loss_reason(r.error_kind, r.error_message),
                confidence=r.confidence if r.ok else None,
                confidence_basis=r.confidence_basis if r.ok else None,
            )
        )
    return outputs


def output_chunk(rows: Sequence[Sequence[Any]], items: Sequence[Item], price: Any, *, batch: bool) -> OutputChunk:
    """``model_outputs`` aligned with ``items`` (``build.aligned_outputs``), straight from the run store's
    plain rows (``RunStore.first_rows``: ``CallResult``'s field order) into one ``OutputChunk``: a chunk of
    a large run priced and read without a ``CallResult`` or a ``ModelOutput`` per call."""
    from distilleval.costs.cost_model import request_cost_usd
    from distilleval.results.build import OutputChunk
    from distilleval.run.batch import batch_loss_reason

    ids = [item.id for item in items]
    answered = _answered_in_order(rows, ids, price, batch=batch)
    if answered is not None:
        return answered
    by_id = {row[0]: row for row in rows if row[2] == 0}
    costs: dict[tuple[Any, ...], float] = {}
    records = []
    for item in items:
        row = by_id.get(item.id)
        if row is None:
            records.append(OutputChunk.missing(item.id))
            continue
        (item_id, _, _, status, text, error_kind, error_message, tokens_in, tokens_out, latency, cost, hit, _,
         cached, written, finish, _, sure, basis) = row
        if status != "ok":
            records.append((item_id, None, error_kind, tokens_in, tokens_out, latency, cost, bool(hit), cached or 0,
                            written or 0, finish, batch_loss_reason(error_kind, error_message), None, None))
            continue
        if tokens_in is not None and tokens_out is not None:
            # The cost is a function of the four token counts: each distinct combination is priced once.
            tokens = (tokens_in, tokens_out, cached, written)
            cost = costs.get(tokens)
            if cost is None:
                cost = costs[tokens] = request_cost_usd(price, tokens_in, tokens_out, cached_input_tokens=cached,
                                                        cache_write_tokens=written, batch=batch)
        records.append((item_id, text, None, tokens_in, tokens_out, latency, cost, bool(hit), cached or 0,
                        written or 0, finish, None, sure, basis))
    return OutputChunk.of_records(records)


def _answered_in_order(rows: Sequence[Sequence[Any]], ids: list[str], price: Any, *, batch: bool) -> OutputChunk | None:
    """``output_chunk`` of the common case, column by column: ``rows`` are one answered first call per item,
    in the items' order (a cached re-run). None when they are not."""
    from distilleval.costs.cost_model import request_cost_usd
    from distilleval.results.build import OutputChunk

    if not rows or len(rows) != len(ids):
        return None
    (item_id, _, repeat, status, text, _, _, tokens_in, tokens_out, latency, recorded, hit, _, read, wrote, finish,
     _, sure, basis) = zip(*rows)
    n = len(ids)
    if status.count("ok") != n or repeat.count(0) != n or list(item_id) != ids:
        return None
    cached = [value or 0 for value in read] if None in read else read
    written = [value or 0 for value in wrote] if None in wrote else wrote
    tokens = list(zip(tokens_in, tokens_out, cached, written))
    # Each distinct combination of token counts is priced once; a call without counts keeps its recorded cost.
    prices = {key: request_cost_usd(price, key[0], key[1], cached_input_tokens=key[2], cache_write_tokens=key[3],
                                    batch=batch)
              for key in set(tokens) if key[0] is not None and key[1] is not None}
    none = (None,) * n
    return OutputChunk({
        "item_id": item_id, "text": text, "error_kind": none, "input_tokens": tokens_in, "output_tokens": tokens_out,
        "latency_ms": latency, "cost_usd": [prices.get(key, cost) for key, cost in zip(tokens, recorded)],
        "cache_hit": list(map(bool, hit)), "cached_input_tokens": cached, "cache_write_tokens": written,
        "finish_reason": finish, "error_reason": none, "confidence": sure, "confidence_basis": basis,
    })
