"""Score a run while its calls are still being made, so that little is left to do after the last one.

The runner draws calls in eval order, interleaved by item, so items finish roughly in order. A
``ScoringFollower`` is a thread with its own run store connection (the store is in WAL mode: it
reads what the runner has committed, without blocking it) that scores the eval items a chunk at a
time, as ``pipeline.streamed_summary`` does after the calls, waiting before each chunk until every
called role's first call on each of its items is settled. Once the calls are over (``finish``),
it scores what is left without waiting, then writes the summary; the summary and the item store
are the ones ``write_streamed_summary`` writes after the calls.

The item rows go into the run store's item tables a chunk at a time (``item_store.ChunkedSetWriter``:
one short transaction each, so the runner's commits are not held up), as a set no summary names
until the summary is written. Stopped early (``stop``: the calls failed, Ctrl-C), the follower
deletes that set: the run is resumed as if no scoring had started (a process killed outright leaves
it unnamed, and the next summary written drops it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

from distilleval.errors import DataError
from distilleval.pipeline import streamed_summary
from distilleval.spec.task_spec import TaskSpec

POLL_S = 0.5
"""How often a waiting follower looks at the run store again."""


class _Stopped(Exception):
    """The follower was told to stop."""


class ScoringFollower:
    """Scores ``items`` from ``run_dir``'s run store in a thread while the calls run, then writes the summary.

    Args:
        spec: the spec being evaluated (a scorer other than the judge).
        items: the eval items, in the order the calls are drawn (a sequence: sliced, never held by identity).
        runs: ``ModelRun``s of the called roles (outputs empty), as known before the calls.
        pricing: the pricing table.
        run_dir: the run directory; its run store is being written by the calls.
        student_training: for the summary (``EvalOptions.student_training``).
        chunk_items: eval items scored at a time (default ``streamed_summary.CHUNK_ITEMS``).
        on_chunk: called (in the follower's thread) with the number of items scored so far after each chunk.
        first: work that needs only the run's inputs, done in the follower's thread before it scores (the
            decision's data counts; the follower is as busy during the calls whichever comes first, and this
            way a stop need not wait for it). Its result is ``first_result`` (None when it raised a
            ``DistillevalError``).
    """

    def __init__(self, spec: TaskSpec, items: Sequence[Any], runs: Sequence[Any], *, pricing: Any, run_dir: Path,
                 student_training: str | None = None, chunk_items: int | None = None,
                 on_chunk: Callable[[int], None] | None = None, first: Callable[[], Any] | None = None):
        self.spec, self.items, self.runs, self.pricing = spec, items, list(runs), pricing
        self.run_dir, self.student_training = run_dir, student_training
        self.chunk_items = chunk_items or streamed_summary.CHUNK_ITEMS
        self.on_chunk, self.first = on_chunk, first
        self.first_result: Any = None
        self.scored = 0
        self._calls_over = threading.Event()
        self._stop = threading.Event()
        self._writing = threading.Event()
        self._final_runs: Sequence[Any] | None = None
        self._written: Any = None
        self._error: BaseException | None = None
        self._since = 0.0
        self._thread = threading.Thread(target=self._work, name="distilleval-scoring", daemon=True)

    def start(self) -> None:
        """Start following; call before the run's calls start (rows settled from then on are this run's)."""
        from distilleval.run.store import RunStore

        with RunStore(self.run_dir) as store:
            latest = store.last_finished_at()
        # A row stamped after now (a clock set back since an earlier attempt) would look settled while its
        # call is made again; counting only rows stamped later than every earlier one rules that out.
        self._since = max(time.time(), latest + 1e-3 if latest is not None else 0.0)
        self._thread.start()

    def finish(self, runs: Sequence[Any]) -> Any:
        """The calls are over: score the rest, write the summary with ``runs`` (the called roles' ``ModelRun``s
        as known now, with their latency); returns the summary as written (``write_summary_streamed``'s).

        Raises:
            RunStoreError, DataError, or any error scoring raised in the follower's thread.
        """
        self._final_runs = runs
        self._calls_over.set()
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._written

    def stop(self) -> None:
        """Stop following: the item rows it wrote are deleted (unless the summary naming them was written
        already) before this returns; a thread still doing ``first`` writes nothing and ends after it."""
        self._stop.set()
        self._calls_over.set()
        if self._writing.is_set():
            self._thread.join()

    def _work(self) -> None:
        from distilleval.pipeline.streamed_summary import ChunkScoring
        from distilleval.results.item_store import ChunkedSetWriter, store_path_for
        from distilleval.results.summary_json import write_summary_naming_set
        from distilleval.run.store import RunStore
        from distilleval.scoring import build_scorer

        path = self.run_dir / "summary.json"
        rows: ChunkedSetWriter | None = None
        try:
            self._do_first()
            self._writing.set()  # before looking at ``_stop``: ``stop`` then waits for what follows, or nothing follows
            if self._stop.is_set():
                raise _Stopped
            with build_scorer(self.spec) as scorer, RunStore(self.run_dir) as store:
                scoring = ChunkScoring(self.spec, len(self.items), self.runs, [], pricing=self.pricing, scorer=scorer)
                rows = ChunkedSetWriter(store_path_for(path), path.name)
                for start in range(0, len(self.items), self.chunk_items):
                    chunk = self.items[start:start + self.chunk_items]
                    self._wait_settled(store, chunk)
                    rows.add(scoring.score(store, chunk))
                    self.scored += len(chunk)
                    if self.on_chunk is not None:
                        self.on_chunk(self.scored)
                set_id, count = rows.close()
                self._calls_over.wait()  # every chunk may settle before the calls (the latency probe) are over
                summary = scoring.summary(run_id=self.run_dir.name, student_training=self.student_training,
                                          runs=self._final_runs)
                if self._stop.is_set():
                    raise _Stopped
                self._written = write_summary_naming_set(path, set_id, count, summary)
        except BaseException as err:  # handed to the main thread by ``finish``
            if rows is not None and self._written is None:
                with suppress(DataError):  # left unnamed: the next summary written drops it
                    rows.discard()
            if not isinstance(err, _Stopped):
                self._error = err

    def _do_first(self) -> None:
        from distilleval.errors import DistillevalError

        if self.first is None:
            return
        first, self.first = self.first, None
        try:
            self.first_result = first()
        except DistillevalError:
            pass  # done again where it is needed, which reports the error as it always did

    def _wait_settled(self, store: Any, chunk: Sequence[Any]) -> None:
        """Wait until every called role's first call on each item of ``chunk`` is settled, or the calls are over."""
        ids = [item.id for item in chunk]
        while not self._calls_over.is_set():
            # The chunk's last item first: one row to look up while the calls are still far behind.
            if all(store.first_calls_final(run.name, ids[-1:], self._since) == 1 for run in self.runs) and all(
                    store.first_calls_final(run.name, ids, self._since) == len(ids) for run in self.runs):
                break
            self._calls_over.wait(POLL_S)
        if self._stop.is_set():
            raise _Stopped
