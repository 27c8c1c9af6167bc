"""Scoring while the calls are made (``pipeline.scoring_follower``): chunks are scored as their calls settle,
and the summary and item rows are those of scoring after the calls; stopped, nothing is left; resumed, rows
from before count only when final."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from distilleval.costs.pricing import load_pricing
from distilleval.pipeline import scoring_follower
from distilleval.pipeline.scoring_follower import ScoringFollower
from distilleval.pipeline.streamed_summary import write_streamed_summary
from distilleval.results.item_results import iter_items
from distilleval.results.summary_json import read_summary
from distilleval.run.runner import CallResult
from distilleval.run.store import RunStore
from distilleval.scoring import build_scorer
from tests.pipeline.test_streamed_summary import N_ITEMS, answer, model_runs, write_spec

CHUNK = 5


def call_results(items, json_task: bool) -> list[CallResult]:
    """Both roles' results, interleaved by item as the runner draws them: failed calls, a missing row."""
    results = []
    for i, item in enumerate(items):
        for role in ("teacher", "student"):
            if role == "student" and i == 7:
                continue  # never answered: counts as missing, and its chunk settles only when the calls end
            if i % 6 == 1:
                results.append(CallResult(item.id, role, 0, "error", error_kind="timeout", error_message="slow",
                                          attempts=3, latency_ms=30000.0))
                continue
            results.append(CallResult(item.id, role, 0, "ok", text=answer(item, i, role, json_task),
                                      input_tokens=100 + i, output_tokens=5, latency_ms=200.0 + 7 * i, cost_usd=0.001,
                                      cache_hit=i % 5 == 2, attempts=1))
    return results


def after_the_calls(tmp_path, spec, items, results, pricing):
    """The summary and item rows scoring gives after every call is in (``write_streamed_summary``)."""
    run_dir = tmp_path / "after" / "run"
    with RunStore(run_dir) as store:
        store.add_many(results)
    with build_scorer(spec) as scorer:
        write_streamed_summary(spec, items, model_runs(spec, pricing), [], pricing=pricing, run_dir=run_dir,
                               scorer=scorer, chunk_items=CHUNK)
    return comparable(run_dir)


def comparable(run_dir):
    summary = read_summary(run_dir)
    return summary.model_dump(exclude={"items", "item_store", "created_at"}), list(iter_items(summary))


def item_tables(run_dir) -> tuple[int, ...]:
    """Rows in each item store table (0 for a table never made)."""
    with sqlite3.connect(run_dir / "records.sqlite") as db:
        made = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return tuple(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] if table in made else 0
                     for table in ("item_sets", "item_rows", "item_model_rows"))


class Follow:
    """A follower over ``run_dir`` whose chunks are recorded (and waited for) as they are scored."""

    def __init__(self, spec, items, pricing, run_dir, on_chunk=None):
        self.scored: list[int] = []
        self.chunk_done = threading.Condition()
        self.on_chunk = on_chunk
        self.follower = ScoringFollower(spec, items, model_runs(spec, pricing), pricing=pricing, run_dir=run_dir,
                                        chunk_items=CHUNK, on_chunk=self._scored)

    def _scored(self, count: int) -> None:
        if self.on_chunk is not None:
            self.on_chunk(count)
        with self.chunk_done:
            self.scored.append(count)
            self.chunk_done.notify_all()

    def wait_scored(self, count: int) -> None:
        with self.chunk_done:
            assert self.chunk_done.wait_for(lambda: self.scored and self.scored[-1] >= count, timeout=60)


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch):
    monkeypatch.setattr(scoring_follower, "POLL_S", 0.01)


@pytest.mark.parametrize("json_task", [False, True], ids=["exact_match", "json_fields"])
def test_chunks_are_scored_while_the_calls_run_into_the_summary_scoring_after_them_gives(tmp_path, json_task):
    spec, items = write_spec(tmp_path / "spec", json_task=json_task)
    pricing = load_pricing()
    results = call_results(items, json_task)
    run_dir = tmp_path / "follow" / "run"
    follow = Follow(spec, items, pricing, run_dir)
    with RunStore(run_dir) as store:
        follow.follower.start()
        first_two_chunks = [r for r in results if int(r.item_id[1:]) < 2 * CHUNK]
        for result in first_two_chunks:
            store.add(result)
        follow.wait_scored(CHUNK)  # the first chunk (a failed call in it) is scored before the calls go on
        for result in results[len(first_two_chunks):]:
            store.add(result)
        store.flush()  # as evaluate does: cache hits are committed in batches
        written = follow.follower.finish(model_runs(spec, pricing))
    assert follow.scored == list(range(CHUNK, N_ITEMS, CHUNK)) + [N_ITEMS]
    assert set(written.models["student"].errors) == {"timeout", "missing"}
    assert comparable(run_dir) == after_the_calls(tmp_path, spec, items, results, pricing)
    assert item_tables(run_dir)[0] == 1


def test_stopped_it_leaves_no_summary_and_no_item_rows_and_the_run_resumes(tmp_path):
    spec, items = write_spec(tmp_path / "spec", json_task=False)
    pricing = load_pricing()
    results = call_results(items, json_task=False)
    run_dir = tmp_path / "follow" / "run"
    follow = Follow(spec, items, pricing, run_dir)
    with RunStore(run_dir) as store:
        follow.follower.start()
        done = [r for r in results if int(r.item_id[1:]) < CHUNK]
        store.add_many(done)
        follow.wait_scored(CHUNK)
        follow.follower.stop()  # Ctrl-C during the calls
    assert not follow.follower._thread.is_alive()
    assert not (run_dir / "summary.json").exists() and item_tables(run_dir) == (0, 0, 0)

    resumed = Follow(spec, items, pricing, run_dir)
    with RunStore(run_dir) as store:
        resumed.follower.start()
        store.add_many(results[len(done):])
        resumed.follower.finish(model_runs(spec, pricing))
    assert comparable(run_dir) == after_the_calls(tmp_path, spec, items, results, pricing)


def test_a_failed_call_from_before_is_not_scored_until_it_is_made_again(tmp_path):
    spec, items = write_spec(tmp_path / "spec", json_task=False)
    pricing = load_pricing()
    results = call_results(items, json_task=False)
    first = items[0].id
    run_dir = tmp_path / "follow" / "run"
    with RunStore(run_dir) as store:  # the run before: its first chunk done, the teacher failing on item 0
        store.add(CallResult(first, "teacher", 0, "error", error_kind="timeout", error_message="slow", attempts=3))
        store.add_many([r for r in results if int(r.item_id[1:]) < CHUNK and (r.item_id, r.model) != (first, "teacher")])
    made_again = threading.Event()

    def on_chunk(count: int) -> None:
        assert made_again.is_set(), "the first chunk was scored with the failed call from before"

    follow = Follow(spec, items, pricing, run_dir, on_chunk=on_chunk)
    with RunStore(run_dir) as store:
        follow.follower.start()
        time.sleep(0.2)  # the follower looks at the first chunk many times meanwhile
        made_again.set()
        store.add_many([r for r in results if (r.item_id, r.model) == (first, "teacher")])
        store.add_many([r for r in results if int(r.item_id[1:]) >= CHUNK])
        follow.follower.finish(model_runs(spec, pricing))
    assert comparable(run_dir) == after_the_calls(tmp_path, spec, items, results, pricing)
    assert follow.scored[0] == CHUNK


def test_first_calls_final_counts_answers_and_rows_settled_since(tmp_path):
    with RunStore(tmp_path) as store:
        store.add(CallResult("a", "m", 0, "ok", text="x"))
        store.add(CallResult("b", "m", 0, "error", error_kind="timeout"))
        store.add(CallResult("c", "m", 1, "ok", text="x"))  # not a first call
        since = time.time() + 1e-3
        while time.time() < since:
            time.sleep(1e-3)
        assert store.first_calls_final("m", ["a", "b", "c", "d"], since) == 1
        store.add(CallResult("b", "m", 0, "error", error_kind="timeout"))  # made again, failed again: final
        assert store.first_calls_final("m", ["a", "b", "c", "d"], since) == 2


def test_stopped_while_counting_the_data_it_returns_at_once_and_writes_nothing(tmp_path):
    spec, items = write_spec(tmp_path / "spec", json_task=False)
    pricing = load_pricing()
    run_dir = tmp_path / "run"
    release = threading.Event()
    follower = ScoringFollower(spec, items, model_runs(spec, pricing), pricing=pricing, run_dir=run_dir,
                               chunk_items=CHUNK, first=lambda: release.wait(60))
    with RunStore(run_dir) as store:
        follower.start()
        store.add_many(call_results(items, json_task=False))
        follower.stop()  # Ctrl-C while the data is counted: no wait for it
        assert follower._thread.is_alive()
        release.set()
        follower._thread.join(60)
    assert not follower._thread.is_alive() and follower.scored == 0
    assert not (run_dir / "summary.json").exists() and item_tables(run_dir) == (0, 0, 0)
