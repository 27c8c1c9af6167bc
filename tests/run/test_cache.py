"""The response cache: content-addressed keys, hits at $0 with original figures, errors never stored."""

import asyncio
import sqlite3

from distilleval.backends.base import ChatRequest, Completion
from distilleval.backends.openai_compatible import OpenAICompatibleBackend
from distilleval.costs.pricing import load_pricing
from distilleval.run.cache import LOOKUP_CHUNK, CachedResponse, KeyMaker, ResponseCache, cache_key
from distilleval.run.runner import Call, Runner, RunnerOptions
from distilleval.testing.openai_server import ModelScript, OpenAIServer
from tests.file_faults import damage_a_page

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


def test_a_key_maker_gives_cache_key_for_every_request_of_a_role():
    system = {"role": "system", "content": 'Rubric: {"messages": null} é'}
    for settings in ({}, {"max_tokens": 3, "temperature": 0.7, "stop": ("\n", '"messages":null')},
                     {"reasoning_effort": "low"}, {"thinking_budget_tokens": 1024}):
        maker = KeyMaker('openai/"messages":null', ChatRequest(messages=(), **settings), repeat=2)
        for content in ("Where is order 1234?", [{"type": "text", "text": "x"}, {"type": "image_url", "image_url": {"url": "d"}}]):
            messages = (system, {"role": "user", "content": content})
            expected = cache_key('openai/"messages":null', ChatRequest(messages=messages, **settings), 2)
            assert maker.key(messages) == expected == maker.digest(messages).hex()


def test_bulk_lookups_answer_as_single_ones(tmp_path):
    keys = [f"k{i}" for i in range(LOOKUP_CHUNK + 5)]  # more than one query's worth
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        cache.put_many("m", [(key, Completion(key, 10, 2, 5.0, 0.001, finish_reason="stop")) for key in keys[::2]])
        cache.put("batch", "m", Completion("late", 10, 2, None, 0.0005))
        wanted = [*keys, "batch", "absent"]
        found = cache.get_many(wanted)
        assert set(found) == set(keys[::2]) | {"batch"} == cache.present(wanted)
        assert {key: CachedResponse(*row) for key, row in found.items()} == {key: cache.get(key) for key in found}
        assert found["batch"][3] is None  # no measured latency: replayed as None, as get does
    with ResponseCache(tmp_path / "cache.sqlite", refresh=True) as refreshing:
        assert refreshing.get_many(wanted) == {} and refreshing.present(wanted) == set()


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
        # It gained the confidence columns: the old answer has none; a new one replays its own.
        cache.put("new", "m", Completion("billing", 640, 3, 90.0, 0.003, confidence=0.8125, confidence_basis="token_logprobs:mean"))
        again = cache.get("new")
    assert (hit.text, hit.input_tokens, hit.cached_input_tokens, hit.finish_reason) == ("billing", 640, 0, None)
    assert (hit.confidence, hit.confidence_basis) == (None, None)
    assert (again.confidence, again.confidence_basis) == (0.8125, "token_logprobs:mean")


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


# -- a cache that is damaged or cannot be written never costs a paid answer or stops a run ----


def _filled(path, n=120, text_words=30):
    """A real cache file with ``n`` answers (long enough to span several pages)."""
    with ResponseCache(path) as cache:
        for i in range(n):
            cache.put(f"k{i}", "m", Completion(" ".join(["billing"] * text_words) + f" {i}", 10, text_words, 12.0, 0.001))
    return path


def test_a_file_that_is_not_sqlite_is_set_aside_and_a_new_cache_takes_its_place(tmp_path):
    path = tmp_path / "cache.sqlite"
    path.write_bytes(b"these are not the bytes of an SQLite database\n" * 100)
    warnings = []
    with ResponseCache(path, warn=warnings.append) as cache:
        assert cache.get("k") is None
        cache.put("k", "m", Completion("billing", 1, 1, 5.0, 0.0))
        assert cache.get("k").text == "billing"
    [aside] = [p for p in tmp_path.glob("cache.sqlite.damaged-*") if not p.name.endswith(("-wal", "-shm"))]
    assert aside.read_bytes().startswith(b"these are not the bytes")  # moved aside, not deleted
    assert len(warnings) == 1 and "is damaged" in warnings[0] and aside.name in warnings[0] and "\n" not in warnings[0]


def test_a_damaged_page_is_set_aside_and_every_readable_answer_is_kept(tmp_path):
    path = _filled(tmp_path / "cache.sqlite")
    damage_a_page(path)
    warnings = []
    with ResponseCache(path, warn=warnings.append) as cache:
        served = {}
        for i in range(120):
            hit = cache.get(f"k{i}")
            if hit is not None:
                served[f"k{i}"] = hit.text
    assert len(warnings) == 1 and "is damaged" in warnings[0] and "malformed" in warnings[0]
    assert served and len(served) < 120  # the damaged page failed a lookup, then the new file served the rest
    assert len([p for p in tmp_path.glob("cache.sqlite.damaged-*") if not p.name.endswith(("-wal", "-shm"))]) == 1
    # The new file holds every answer still readable in the old one: only one page's rows are lost.
    with ResponseCache(path) as fresh:
        assert {key: fresh.get(key).text for key in served} == served
        readable = sum(fresh.get(f"k{i}") is not None for i in range(120))
    assert 120 - 20 <= readable <= 120


def test_a_damaged_page_met_by_a_bulk_lookup_is_set_aside_and_the_lookup_made_again(tmp_path):
    path = _filled(tmp_path / "cache.sqlite")
    damage_a_page(path)
    warnings = []
    keys = [f"k{i}" for i in range(120)]
    with ResponseCache(path, warn=warnings.append) as cache:
        found = cache.get_many(keys)
        assert cache.present(keys) == set(found)
    assert len(warnings) == 1 and "is damaged" in warnings[0]
    assert 120 - 20 <= len(found) < 120  # only the damaged page's answers are lost, not the whole look-up


def test_a_full_disk_stops_writing_the_cache_but_never_raises(tmp_path):
    """SQLITE_FULL from real SQLite: the file may not grow past its current pages."""
    path = _filled(tmp_path / "cache.sqlite", n=5)
    warnings = []
    with ResponseCache(path, warn=warnings.append) as cache:
        pages = cache._db.execute("PRAGMA page_count").fetchone()[0]
        cache._db.execute(f"PRAGMA max_page_count = {pages}")
        cache.put("big", "m", Completion("x" * 200_000, 1, 1, 5.0, 0.0))
        cache.put("big2", "m", Completion("x" * 200_000, 1, 1, 5.0, 0.0))  # not tried again: one warning
        assert cache.get("k1") is not None  # still read
        assert cache.get("big") is None
    assert len(warnings) == 1 and "cannot write the response cache" in warnings[0] and "full" in warnings[0]
    assert path.exists() and not list(tmp_path.glob("*.damaged-*"))  # not damaged: left in place


def test_a_read_only_folder_still_serves_hits_and_stores_nothing(tmp_path):
    from tests.file_faults import read_only_folder

    folder = tmp_path / "cache"
    folder.mkdir()
    path = _filled(folder / "cache.sqlite", n=3)
    warnings = []
    with read_only_folder(folder), ResponseCache(path, warn=warnings.append) as cache:
        assert cache.get("k2") is not None and not cache.writable
        cache.put("new", "m", Completion("x", 1, 1, 5.0, 0.0))
    assert len(warnings) == 1 and "cannot write the response cache" in warnings[0]
    with ResponseCache(path) as cache:
        assert cache.get("new") is None and cache.get("k0") is not None


def test_the_runner_stores_each_answer_before_caching_it_and_keeps_it_when_the_cache_is_damaged(tmp_path):
    events = []

    class Recording(ResponseCache):
        def put(self, key, model_id, completion):
            events.append(("cache", key))
            super().put(key, model_id, completion)

    def run(cache, stored):
        backend = OpenAICompatibleBackend("openai/s", api_base=server.base_url, price=None)

        def on_result(result):
            events.append(("store", cache_key("openai/s", by_item[result.item_id].request)))
            stored.append(result)

        async def go():
            try:
                await Runner({"student": backend}, options=RunnerOptions(**FAST), cache=cache, on_result=on_result).run(calls)
            finally:
                await backend.aclose()

        asyncio.run(go())

    calls = _calls(40)
    by_item = {call.item_id: call for call in calls}
    path = tmp_path / "c.sqlite"
    with OpenAIServer({"s": ModelScript(answer=lambda p: "billing " * 40)}) as server:
        first = []
        with Recording(path, warn=lambda line: None) as cache:
            run(cache, first)
        stored_at = {key: index for index, (where, key) in enumerate(events) if where == "store"}
        cached_at = {key: index for index, (where, key) in enumerate(events) if where == "cache"}
        assert set(cached_at) == set(stored_at) and len(stored_at) == 40
        assert all(stored_at[key] < cached_at[key] for key in cached_at)

        damage_a_page(path)
        warnings, second = [], []
        with ResponseCache(path, warn=warnings.append) as damaged:
            run(damaged, second)
        paid_twice = len([r for r in server.log if r.outcome == "ok"]) - 40
        third = []
        with ResponseCache(path, warn=warnings.append) as fresh:
            run(fresh, third)
        paid_in_third = len([r for r in server.log if r.outcome == "ok"]) - 40 - paid_twice
    assert len(second) == 40 and all(r.ok for r in second)  # every answer stored in spite of the damage
    # Paid again: at most the answers on the damaged page (about 12 of these fit a 4 KiB page).
    assert paid_twice <= 15 and len(warnings) == 1 and "is damaged" in warnings[0]
    assert paid_in_third == 0 and all(r.cache_hit for r in third)  # the new cache holds all 40
