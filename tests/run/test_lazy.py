"""Lazy backends: a role the cache answers entirely never builds (or imports) its backend."""

import asyncio

from distilleval.backends.base import ChatRequest, Completion
from distilleval.run.cache import ResponseCache, cache_key
from distilleval.run.lazy import LazyBackend, roles_with_misses
from distilleval.run.runner import Call, Runner


def _call(item, role):
    return Call(item, role, ChatRequest(messages=({"role": "user", "content": f"ticket {item}"},)))


class Recording:
    model_id = "openai/s"

    def __init__(self):
        self.calls = 0
        self.closed = False

    async def complete(self, request, *, timeout_s):
        self.calls += 1
        return Completion("billing", 5, 1, 12.0, 0.0)

    async def aclose(self):
        self.closed = True


def test_roles_with_misses_reads_the_cache(tmp_path):
    calls = [_call("a", "teacher"), _call("b", "teacher"), _call("a", "student")]
    ids = {"teacher": "openai/t", "student": "openai/s"}
    assert roles_with_misses(calls, ids, None) == {"teacher", "student"}
    assert roles_with_misses(calls, ids, tmp_path / "absent.sqlite") == {"teacher", "student"}
    assert not (tmp_path / "absent.sqlite").exists()  # looking never creates a cache
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        for call in calls[:2]:
            cache.put(cache_key("openai/t", call.request), "openai/t", Completion("billing", 5, 1, 12.0, 0.0))
    assert roles_with_misses(calls, ids, tmp_path / "cache.sqlite") == {"student"}
    # The key holds the model id: the same prompt under another model id is a miss.
    assert roles_with_misses(calls, {"teacher": "openai/other", "student": "openai/s"}, tmp_path / "cache.sqlite") == {
        "teacher", "student"}


def test_lazy_backend_is_built_once_on_the_first_miss_only(tmp_path):
    built = []

    def build():
        built.append(Recording())
        return built[-1]

    calls = [_call(str(i), "student") for i in range(4)]
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        for call in calls[:3]:
            cache.put(cache_key("openai/s", call.request), "openai/s", Completion("billing", 5, 1, 12.0, 0.0))

        async def replay(subset):
            lazy = LazyBackend("openai/s", build)
            results = await Runner({"student": lazy}, cache=cache).run(subset)
            await lazy.aclose()
            return lazy, results

        lazy, results = asyncio.run(replay(calls[:3]))
        assert not lazy.built and built == [] and all(r.cache_hit for r in results)
        lazy, results = asyncio.run(replay(calls))
    assert lazy.built and len(built) == 1 and built[0].calls == 1 and built[0].closed
    assert [r.cache_hit for r in results] == [True, True, True, False]
