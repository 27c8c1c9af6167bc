"""Score an evaluated run chunk by chunk, straight from its run store, into ``summary.json``.

A run of a million items cannot hold every answer's text and every item's row at once. Here each
chunk of eval items is read back from the run store (each model's first call on each item),
priced, scored and written to the item store before the next is read; only the compact columns
of ``results.build.SummaryBuilder`` stay, and the summary's figures are computed from them by
the same code ``build_summary`` runs, so the summary is the one an in-memory build would give.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from distilleval.spec.data import Item
from distilleval.spec.task_spec import TaskSpec

CHUNK_ITEMS = 10_000
"""Eval items read, scored and written at a time."""


def write_streamed_summary(
    spec: TaskSpec, items: Sequence[Item], runs: Sequence[Any], baseline_runs: Sequence[Any], *, pricing: Any,
    run_dir: Path, scorer: Any, student_training: str | None = None, chunk_items: int = CHUNK_ITEMS,
) -> Any:
    """Score ``runs`` (``ModelRun``s of called roles, their outputs left empty: they are read from
    ``run_dir``'s run store) and ``baseline_runs`` (outputs in memory) over ``items`` and write
    ``run_dir/summary.json`` with its item rows; returns the summary as written (``write_summary``'s).

    Raises:
        RunStoreError: the run store cannot be read.
        DataError: the item store cannot be written.
    """
    from distilleval.results.build import SummaryBuilder, aligned_outputs
    from distilleval.results.summary_json import write_summary_streamed
    from distilleval.run.store import RunStore

    builder = SummaryBuilder([*runs, *baseline_runs], scorer, expected_items=len(items))
    baselines = {run.name: {output.item_id: output for output in run.outputs} for run in baseline_runs}
    prices = {run.name: pricing.price_for(pricing.key_for(spec.models()[run.name])) for run in runs}

    def rows(store: RunStore) -> Iterator[Any]:
        for start in range(0, len(items), chunk_items):
            chunk = items[start:start + chunk_items]
            outputs: dict[str, Any] = {run.name: _chunk_outputs(store, run, chunk, prices[run.name]) for run in runs}
            outputs.update({name: aligned_outputs(by_id, chunk) for name, by_id in baselines.items()})
            # One block of the chunk's rows, ready for the item store (no object per item).
            yield builder.add(chunk, outputs).block()

    def finish() -> Any:
        return builder.summary(spec, pricing=pricing, run_id=run_dir.name, mode="online",
                               student_training=student_training)

    with RunStore(run_dir) as store:
        return write_summary_streamed(run_dir / "summary.json", rows(store), finish)


def _chunk_outputs(store: Any, run: Any, chunk: Sequence[Item], price: Any) -> Any:
    """``run``'s outputs on ``chunk``, aligned with it and priced, as one ``build.OutputChunk``
    (``call_outputs.output_chunk``)."""
    from distilleval.pipeline.call_outputs import output_chunk

    rows = store.first_rows(run.name, [item.id for item in chunk])
    return output_chunk(rows, chunk, price, batch=run.batch)
