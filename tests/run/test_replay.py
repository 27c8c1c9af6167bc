"""Replaying cache hits in bulk: the rows the runner would write for them, misses passed on in order."""

import sqlite3

from distilleval.backends.base import Completion
from distilleval.run.cache import ResponseCache
from distilleval.run.replay import replay_hits
from distilleval.run.runner import CallResult
from distilleval.run.store import RunStore

ANSWER = Completion("billing", 640, 3, 451.5, 0.0033, cached_input_tokens=512, cache_write_tokens=64,
                    finish_reason="stop", confidence=0.9, confidence_basis="token_logprobs:mean")


def _filled_cache(path, keys):
    cache = ResponseCache(path)
    cache.put_many("openai/t", [(key, ANSWER) for key in keys])
    return cache


def test_hits_are_stored_as_the_runner_stores_them_and_misses_pass_on_in_order(tmp_path):
    cache = _filled_cache(tmp_path / "cache.sqlite", ["k1", "k3", "k4"])
    chunks = [[("a", "teacher", 0, "k1", "pa"), ("b", "teacher", 0, "k2", "pb")],
              [("c", "teacher", 0, "k3", "pc"), ("c", "student", 0, "k4", "pc")], [],
              [("d", "teacher", 0, "k5", "pd")]]
    counted = []
    with RunStore(tmp_path / "run") as store:
        misses = list(replay_hits(chunks, cache, store, on_hits=lambda role, n: counted.append((role, n))))
        replayed = store.results()
    assert misses == [("b", "teacher", 0, "k2", "pb"), ("d", "teacher", 0, "k5", "pd")]
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
        assert list(replay_hits([[("a", "teacher", 0, "k", None)]], cache, store)) == []
        [row] = store.results()
    assert (row.latency_ms, row.cache_hit, row.text) == (None, True, "billing")


def test_a_refreshing_cache_answers_nothing_and_nothing_is_stored(tmp_path):
    _filled_cache(tmp_path / "cache.sqlite", ["k1"]).close()
    with ResponseCache(tmp_path / "cache.sqlite", refresh=True) as cache, RunStore(tmp_path / "run") as store:
        chunk = [("a", "teacher", 0, "k1", None)]
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
        for chunk in ([("a", "t", 0, "k1", None), ("b", "t", 0, "k2", None)], [("c", "t", 0, "k3", None)],
                      [("d", "t", 0, "k4", None)], [("e", "t", 0, "k5", None), ("f", "t", 0, "miss", None)]):
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
