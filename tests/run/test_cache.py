"""The response cache: content-addressed keys, hits at $0 with original figures, errors never stored."""

import asyncio
import sqlite3

from distilleval.backends.base import ChatRequest, Completion
from distilleval.backends.openai_compatible import OpenAICompatibleBackend
from distilleval.costs.pricing import load_pricing
from distilleval.run.cache import ResponseCache, cache_key
from distilleval.run.runner import Call, Runner, RunnerOptions
from distilleval.testing.openai_server import ModelScript, OpenAIServer

MESSAGES = ({"role": "user", "content": "Where is order 1234?"},)
FAST = dict(backoff_base_s=0.01, backoff_max_s=0.05, seed=0)


def test_key_depends_on_output_deciding_fields_only():
    base = ChatRequest(messages=MESSAGES, max_tokens=16, temperature=0.0)
    key = cache_key("openai/gpt-4.1-mini", base)
    assert key == cache_key("openai/gpt-4.1-mini", ChatRequest(messages=MESSAGES, max_tokens=16, temperature=0.0))
    different = [
        cache_key("openai/gpt-5.2", base),
        cache_key("openai/gpt-4.1-mini", ChatRequest(messages=({"role": "user", "content": "Where is order 1235?"},), max_tokens=16)),
        cache_key("openai/gpt-4.1-mini", ChatRequest(messages=MESSAGES, max_tokens=17)),
        cache_key("openai/gpt-4.1-mini", ChatRequest(messages=MESSAGES, max_tokens=16, temperature=0.7)),
        cache_key("openai/gpt-4.1-mini", ChatRequest(messages=MESSAGES, max_tokens=16, stop=("\n",))),
        cache_key("openai/gpt-4.1-mini", base, repeat=1),
    ]
    assert len({key, *different}) == 1 + len(different)


def test_put_get_roundtrip_and_refresh_misses(tmp_path):
    path = tmp_path / "cache.sqlite"
    with ResponseCache(path) as cache:
        cache.put("k", "m", Completion(text="billing", input_tokens=640, output_tokens=3, latency_ms=451.5, cost_usd=0.0033))
        hit = cache.get("k")
    assert (hit.text, hit.input_tokens, hit.output_tokens, hit.latency_ms, hit.cost_usd) == ("billing", 640, 3, 451.5, 0.0033)
    with ResponseCache(path, refresh=True) as refreshing:
        assert refreshing.get("k") is None
        assert len(refreshing) == 1
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _run(server, cache, calls, options, price=None):
    backend = OpenAICompatibleBackend("openai/s", api_base=server.base_url, price=price)

    async def go():
        try:
            return await Runner({"student": backend}, options=options, cache=cache).run(calls)
        finally:
            await backend.aclose()

    return asyncio.run(go())


def _calls(n):
    return [Call(f"i{i}", "student", ChatRequest(messages=({"role": "user", "content": f"q {i}"},))) for i in range(n)]


def test_second_run_is_free_and_keeps_measured_figures(tmp_path):
    with OpenAIServer({"s": ModelScript(usage=(50, 2), delay_ms=20)}) as server, ResponseCache(tmp_path / "c.sqlite") as cache:
        first = _run(server, cache, _calls(6), RunnerOptions(**FAST), price=load_pricing().price_for("openai/gpt-4.1-mini"))
        requests_after_first = len(server.log)
        second = _run(server, cache, _calls(6), RunnerOptions(**FAST))
        assert len(server.log) == requests_after_first == 6  # the replay made no request
    assert not any(r.cache_hit for r in first)
    assert all(r.cost_usd > 0 for r in first)
    assert all(r.cache_hit and r.cost_usd == 0.0 and r.attempts == 0 for r in second)
    # The replay keeps what the original call measured, for projections.
    assert [(r.text, r.input_tokens, r.output_tokens, r.latency_ms) for r in second] == [
        (r.text, r.input_tokens, r.output_tokens, r.latency_ms) for r in first
    ]


def test_timeouts_and_retries_do_not_change_the_key(tmp_path):
    with OpenAIServer({"s": ModelScript()}) as server, ResponseCache(tmp_path / "c.sqlite") as cache:
        _run(server, cache, _calls(3), RunnerOptions(default_timeout_s=60, max_retries=4, **FAST))
        again = _run(server, cache, _calls(3), RunnerOptions(default_timeout_s=7, max_retries=0, concurrency=1, **FAST))
        assert len(server.log) == 3
    assert all(r.cache_hit for r in again)


def test_errors_are_not_cached(tmp_path):
    # Every prompt's first attempt gets a 429; with no retries that is the final result.
    script = ModelScript(faults=lambda prompt, attempt: "rate_limit" if attempt == 0 else None, retry_after_s=None)
    with OpenAIServer({"s": script}) as server, ResponseCache(tmp_path / "c.sqlite") as cache:
        failed = _run(server, cache, _calls(2), RunnerOptions(max_retries=0, **FAST))
        assert len(cache) == 0
        again = _run(server, cache, _calls(2), RunnerOptions(max_retries=0, **FAST))
    assert all(r.error_kind == "rate_limited" for r in failed)
    assert all(r.ok and not r.cache_hit for r in again)


def test_prompt_cache_figures_and_finish_reason_survive_the_cache(tmp_path):
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        cache.put("k", "m", Completion(text="{", input_tokens=700, output_tokens=256, latency_ms=90.0, cost_usd=0.001,
                                       cached_input_tokens=640, cache_write_tokens=0, finish_reason="length"))
        hit = cache.get("k")
    assert (hit.cached_input_tokens, hit.cache_write_tokens, hit.finish_reason) == (640, 0, "length")


def test_a_cache_file_from_before_the_prompt_cache_columns_still_serves_hits(tmp_path):
    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE responses (key TEXT PRIMARY KEY, model_id TEXT NOT NULL, text TEXT NOT NULL,"
                " input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, latency_ms REAL NOT NULL,"
                " cost_usd REAL NOT NULL, created_at REAL NOT NULL)")
    old.execute("INSERT INTO responses VALUES ('k', 'm', 'billing', 640, 3, 451.5, 0.0033, 0)")
    old.commit()
    old.close()
    with ResponseCache(path) as cache:
        hit = cache.get("k")
    assert (hit.text, hit.input_tokens, hit.cached_input_tokens, hit.finish_reason) == ("billing", 640, 0, None)


def test_an_answer_without_latency_replays_none_and_older_files_gain_the_column(tmp_path):
    """A provider-batch answer has no per-request latency: a hit must not invent one (0 ms would
    drag every latency figure down)."""
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:  # a cache written before latency_measured existed
        db.execute("CREATE TABLE responses (key TEXT PRIMARY KEY, model_id TEXT NOT NULL, text TEXT NOT NULL,"
                   " input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, latency_ms REAL NOT NULL,"
                   " cost_usd REAL NOT NULL, created_at REAL NOT NULL)")
        db.execute("INSERT INTO responses VALUES ('old', 'm', 'billing', 10, 1, 321.0, 0.001, 0)")
    with ResponseCache(path) as cache:
        assert cache.get("old").latency_ms == 321.0
        cache.put_many("m", [("batch", Completion("billing", 10, 1, None, 0.0005)),
                             ("online", Completion("billing", 10, 1, 250.0, 0.001))])
        assert cache.get("batch").latency_ms is None
        assert cache.get("online").latency_ms == 250.0
        cache.put("batch2", "m", Completion("x", 1, 1, None, 0.0))
        assert cache.get("batch2").latency_ms is None
