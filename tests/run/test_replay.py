"""Replaying cache hits in bulk: the rows the runner would write for them, misses passed on in order."""

import asyncio
import collections
import dataclasses
import sqlite3

import pytest

from distilleval.backends.base import ChatRequest, Completion
from distilleval.run.cache import ResponseCache, cache_key
from distilleval.run.replay import _JoinedReplay, replay_hits
from distilleval.run.runner import Call, CallResult, Runner, RunnerOptions
from distilleval.run.store import RunStore

ANSWER = Completion("billing", 640, 3, 451.5, 0.0033, cached_input_tokens=512, cache_write_tokens=64,
                    finish_reason="stop", confidence=0.9, confidence_basis="token_logprobs:mean")


def _filled_cache(path, keys):
    cache = ResponseCache(path)
    cache.put_many("openai/t", [(key, ANSWER) for key in keys])
    return cache


def test_hits_are_stored_as_the_runner_stores_them_and_misses_pass_on_in_order(tmp_path):
    cache = _filled_cache(tmp_path / "cache.sqlite", ["k1", "k3", "k4"])
    chunks = [[("a", "teacher", 0, "k1", None, "pa"), ("b", "teacher", 0, "k2", None, "pb")],
              [("c", "teacher", 0, "k3", None, "pc"), ("c", "student", 0, "k4", None, "pc")], [],
              [("d", "teacher", 0, "k5", None, "pd")]]
    counted = []
    with RunStore(tmp_path / "run") as store:
        misses = list(replay_hits(chunks, cache, store, on_hits=lambda role, n: counted.append((role, n))))
        replayed = store.results()
    assert misses == [("b", "teacher", 0, "k2", None, "pb"), ("d", "teacher", 0, "k5", None, "pd")]
    assert counted == [("teacher", 1), ("teacher", 1), ("student", 1)]
    hit = cache.get("k1")
    expected = [
        CallResult(item, role, 0, "ok", text=hit.text, input_tokens=hit.input_tokens, output_tokens=hit.output_tokens,
                   latency_ms=hit.latency_ms, cost_usd=0.0, cache_hit=True, cached_input_tokens=hit.cached_input_tokens,
                   cache_write_tokens=hit.cache_write_tokens, finish_reason=hit.finish_reason, confidence=hit.confidence,
                   confidence_basis=hit.confidence_basis)
        for item, role in (("a", "teacher"), ("c", "teacher"), ("c", "student"))
    ]
    assert replayed == expected  # what Runner._run_one makes of a hit, field for field


def test_a_batch_answer_replays_without_a_latency(tmp_path):
    cache = ResponseCache(tmp_path / "cache.sqlite")
    cache.put("k", "openai/t", Completion("billing", 640, 3, None, 0.0016))
    with RunStore(tmp_path / "run") as store:
        assert list(replay_hits([[("a", "teacher", 0, "k", None, None)]], cache, store)) == []
        [row] = store.results()
    assert (row.latency_ms, row.cache_hit, row.text) == (None, True, "billing")


def test_a_refreshing_cache_answers_nothing_and_nothing_is_stored(tmp_path):
    _filled_cache(tmp_path / "cache.sqlite", ["k1"]).close()
    with ResponseCache(tmp_path / "cache.sqlite", refresh=True) as cache, RunStore(tmp_path / "run") as store:
        chunk = [("a", "teacher", 0, "k1", None, None)]
        assert list(replay_hits([chunk], cache, store)) == chunk
        assert store.results() == []


def test_replayed_hits_are_committed_in_large_batches_and_before_a_miss_is_handed_on(tmp_path, monkeypatch):
    monkeypatch.setattr("distilleval.run.store.BULK_HIT_BATCH", 3)
    cache = _filled_cache(tmp_path / "cache.sqlite", ["k1", "k2", "k3", "k4", "k5"])
    store = RunStore(tmp_path / "run")
    other = sqlite3.connect(tmp_path / "run" / "records.sqlite")

    def committed():
        return other.execute("SELECT COUNT(*) FROM records").fetchone()[0]

    seen = []

    def chunks():
        for chunk in ([("a", "t", 0, "k1", None, None), ("b", "t", 0, "k2", None, None)], [("c", "t", 0, "k3", None, None)],
                      [("d", "t", 0, "k4", None, None)], [("e", "t", 0, "k5", None, None), ("f", "t", 0, "miss", None, None)]):
            seen.append(committed())
            yield chunk

    stream = replay_hits(chunks(), cache, store)
    assert next(stream)[0] == "f"
    assert seen == [0, 0, 3, 3]  # a batch of 3 rows once it is full
    assert committed() == 5  # every hit before the miss goes to the runner
    store.add(CallResult("f", "t", 0, "ok", text="paid", cost_usd=0.01, attempts=1))
    assert committed() == 6
    assert list(stream) == []
    store.close()


# -- the bulk replay writes exactly the rows the runner writes serving the same calls one by one --------------------

ANSWERS = [ANSWER, Completion("técnico \"quoted\"\n", 12, 4, None, 0.0016),  # a batch answer: no latency
           Completion("other", 7, 2, 88.0, 0.0004, finish_reason="length")]
PAID = Completion("paid", 9, 1, 20.0, 0.002, served_model="m-2026")


class _Model:
    """A backend that answers every request it gets with ``PAID`` and counts them."""

    def __init__(self, model_id):
        self.model_id, self.requests = model_id, []

    async def complete(self, request, *, timeout_s):
        self.requests.append(request)
        return PAID

    async def aclose(self):
        pass


def _calls():
    """Items a..f x two roles x repeats 0 and 1: keys of distinct requests."""
    return [Call(item, role, ChatRequest(messages=({"role": "user", "content": f"{item} for {role}"},)), repeat)
            for item in "abcdef" for role in ("teacher", "student") for repeat in (0, 1)]


def _key(call):
    return cache_key(f"openai/{call.model}", call.request, call.repeat)


def _cache_for(path, calls):
    """Every third call uncached; the others hold one of ``ANSWERS``."""
    cache = ResponseCache(path)
    for index, call in enumerate(calls):
        if index % 3:
            cache.put(_key(call), f"openai/{call.model}", ANSWERS[index % len(ANSWERS)])
    return cache


def _rows(store):
    """Every stored row but its time stamp, in a fixed order (the paths may write them in another)."""
    store.flush()
    cursor = store.db.execute("SELECT * FROM records")
    kept = [index for index, column in enumerate(cursor.description) if column[0] != "finished_at"]
    return sorted((tuple(row[index] for index in kept) for row in cursor), key=lambda row: row[:3])


def _seeded(path, calls):
    """A resumed run: an earlier attempt of a cached call and of an uncached one ended in an error."""
    store = RunStore(path)
    for call in (calls[1], calls[3]):
        store.add(CallResult(call.item_id, call.model, call.repeat, "error", error_kind="timeout", error_message="slow",
                             attempts=5))
    return store


def _one_by_one(cache, store, calls):
    backends = {role: _Model(f"openai/{role}") for role in ("teacher", "student")}
    runner = Runner(backends, cache=cache, on_result=store.add, options=RunnerOptions(concurrency=3))
    asyncio.run(runner.run(calls))
    return sum(len(backend.requests) for backend in backends.values())


def _in_bulk(cache, store, calls, chunk=5):
    rows = cache.rows_of([_key(call) for call in calls])
    # Row hints as the backend scan leaves them: most right, some unknown, one stale (another key's row).
    hints = [rows.get(_key(call)) if index % 4 else None for index, call in enumerate(calls)]
    hints[2] = rows.get(_key(calls[1]), 1)  # calls[2] is cached too, at another row
    planned = [(call.item_id, call.model, call.repeat, _key(call), hint, call) for call, hint in zip(calls, hints)]
    counted = collections.Counter()

    def on_hits(role, count):
        counted[role] += count

    chunks = (planned[start:start + chunk] for start in range(0, len(planned), chunk))
    misses = [dataclasses.replace(call, miss_key=key) for _, _, _, key, _, call in
              replay_hits(chunks, cache, store, on_hits=on_hits)]
    return _one_by_one(cache, store, misses), counted


@pytest.mark.parametrize("refresh", [False, True])
def test_bulk_replay_writes_the_rows_the_runner_writes_one_by_one(tmp_path, refresh):
    calls = _calls()
    for name in ("one", "bulk"):  # each run puts its paid answers in its own copy of the cache
        _cache_for(tmp_path / f"{name}.sqlite", calls).close()
    with ResponseCache(tmp_path / "one.sqlite", refresh=refresh) as cache, _seeded(tmp_path / "one", calls) as store:
        paid_one = _one_by_one(cache, store, calls)
        expected = _rows(store)
    with ResponseCache(tmp_path / "bulk.sqlite", refresh=refresh) as cache, _seeded(tmp_path / "bulk", calls) as store:
        paid_bulk, counted = _in_bulk(cache, store, calls)
        replayed = _rows(store)
    assert replayed == expected and len(expected) == len(calls)
    assert paid_bulk == paid_one == (len(calls) if refresh else len(calls) // 3)
    hits = collections.Counter(row[1] for row in expected if row[11])
    assert counted == hits and sum(hits.values()) == (0 if refresh else len(calls) - len(calls) // 3)


def test_a_failed_statement_sends_what_is_not_committed_the_plain_way(tmp_path, monkeypatch):
    calls = _calls()
    with _cache_for(tmp_path / "one.sqlite", calls) as cache, _seeded(tmp_path / "one", calls) as store:
        _one_by_one(cache, store, calls)
        expected = _rows(store)
    with _cache_for(tmp_path / "bulk.sqlite", calls) as cache:
        sent = []

        def fails_on_third(db, chunk, real=_JoinedReplay.add):
            sent.append(chunk)
            if len(sent) == 3:
                db._db.execute("INSERT INTO no_such_table VALUES (1)")  # what a damaged page would do
            return real(db, chunk)

        monkeypatch.setattr(_JoinedReplay, "add", _failing(fails_on_third))
        with _seeded(tmp_path / "bulk", calls) as store:
            _, counted = _in_bulk(cache, store, calls, chunk=2)
            replayed = _rows(store)
    assert len(sent) == 3  # the rest went the plain way
    assert replayed == expected
    assert counted == collections.Counter(row[1] for row in expected if row[11])


def _failing(add):
    """``add`` with its SQLite error turned into the failure ``_JoinedReplay.add`` reports (None)."""
    def wrapped(replay, chunk):
        try:
            return add(replay, chunk)
        except sqlite3.Error:
            return None
    return wrapped


def test_a_row_hint_that_now_holds_another_key_is_not_trusted(tmp_path):
    cache = ResponseCache(tmp_path / "cache.sqlite")
    cache.put("k1", "openai/t", ANSWERS[0])
    cache.put("k2", "openai/t", ANSWERS[2])
    row_of_k2 = cache.rows_of(["k2"])["k2"]
    with RunStore(tmp_path / "run") as store:
        # Every call has a row to read (no miss, no unknown row), but k1's points at k2's answer.
        assert list(replay_hits([[("a", "t", 0, "k1", row_of_k2, None), ("b", "t", 0, "k2", row_of_k2, None)]],
                                cache, store)) == []
        texts = {row.item_id: row.text for row in store.results()}
    assert texts == {"a": ANSWERS[0].text, "b": ANSWERS[2].text}


def test_hits_written_before_a_ctrl_c_stay_committed(tmp_path):
    cache = _filled_cache(tmp_path / "cache.sqlite", ["k1", "k2", "k3"])

    def chunks():
        yield [("a", "t", 0, "k1", None, None), ("b", "t", 0, "k2", None, None)]
        raise KeyboardInterrupt

    with RunStore(tmp_path / "run") as store:
        with pytest.raises(KeyboardInterrupt):
            list(replay_hits(chunks(), cache, store))
    with RunStore(tmp_path / "run") as reopened:
        assert sorted(row.item_id for row in reopened.results()) == ["a", "b"]
