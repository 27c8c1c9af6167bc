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
    from distilleval.results.summary_json import write_summary_streamed
    from distilleval.run.store import RunStore

    scoring = ChunkScoring(spec, len(items), runs, baseline_runs, pricing=pricing, scorer=scorer)

    def rows(store: RunStore) -> Iterator[Any]:
        for start in range(0, len(items), chunk_items):
            yield from scoring.score(store, items[start:start + chunk_items])

    def finish() -> Any:
        return scoring.summary(run_id=run_dir.name, student_training=student_training)

    with RunStore(run_dir) as store:
        return write_summary_streamed(run_dir / "summary.json", rows(store), finish)


class ChunkScoring:
    """One streamed summary in the making: ``score`` takes one chunk of eval items at a time (in eval
    order), reads the called models' outputs on it from the run store, scores them and returns the
    chunk's item rows; ``summary`` then gives the summary of every chunk scored.

    Args:
        spec: the spec being evaluated.
        n_items: how many eval items will be scored in all.
        runs: ``ModelRun``s of the called roles (outputs left empty: read from the run store).
        baseline_runs: ``ModelRun``s of the baselines (outputs in memory).
        pricing: the pricing table.
        scorer: the spec's scorer (the caller owns it).
    """

    def __init__(self, spec: TaskSpec, n_items: int, runs: Sequence[Any], baseline_runs: Sequence[Any], *,
                 pricing: Any, scorer: Any):
        from distilleval.results.build import SummaryBuilder

        self.spec, self.pricing, self.runs = spec, pricing, list(runs)
        self.builder = SummaryBuilder([*runs, *baseline_runs], scorer, expected_items=n_items)
        self.baselines = {run.name: {output.item_id: output for output in run.outputs} for run in baseline_runs}
        self.prices = {run.name: pricing.price_for(pricing.key_for(spec.models()[run.name])) for run in runs}

    def score(self, store: Any, chunk: Sequence[Item]) -> list[Any]:
        """Score ``chunk`` (the next eval items, in order) from ``store``; returns its item rows (one
        ``item_store.RowBlock``: no object per item)."""
        from distilleval.results.build import aligned_outputs

        outputs: dict[str, Any] = {run.name: _chunk_outputs(store, run, chunk, self.prices[run.name]) for run in self.runs}
        outputs.update({name: aligned_outputs(by_id, chunk) for name, by_id in self.baselines.items()})
        return [self.builder.add(chunk, outputs).block()]

    def summary(self, *, run_id: str, student_training: str | None, runs: Sequence[Any] | None = None) -> Any:
        """The summary of every chunk scored; ``runs``: the called roles' ``ModelRun``s as known now
        (same names, with what only the end of the calls tells, such as their latency), else as given."""
        if runs is not None:
            by_name = {run.name: run for run in runs}
            self.builder.runs = [by_name.get(run.name, run) for run in self.builder.runs]
        return self.builder.summary(self.spec, pricing=self.pricing, run_id=run_id, mode="online",
                                    student_training=student_training)


def _chunk_outputs(store: Any, run: Any, chunk: Sequence[Item], price: Any) -> Any:
    """``run``'s outputs on ``chunk``, aligned with it and priced, as one ``build.OutputChunk``
    (``call_outputs.output_chunk``)."""
    from distilleval.pipeline.call_outputs import output_chunk

    rows = store.first_rows(run.name, [item.id for item in chunk])
    return output_chunk(rows, chunk, price, batch=run.batch)
