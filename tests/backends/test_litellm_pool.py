"""LiteLLM calls in worker processes: same answers, same errors, honest latency, no LiteLLM in the parent."""

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from distilleval.backends.base import ChatRequest
from distilleval.backends.litellm_pool import PooledLiteLLMBackend, _pools
from distilleval.errors import RateLimitedError
from distilleval.testing.openai_server import ModelScript, OpenAIServer

REPO_ROOT = Path(__file__).resolve().parents[2]


def _request(text, max_tokens=16):
    return ChatRequest(messages=({"role": "user", "content": text},), max_tokens=max_tokens)


def test_calls_spread_over_the_workers_and_come_back_as_in_process():
    # One pool for every check (each worker start imports LiteLLM: seconds on a busy machine).
    def faults(prompt, attempt):
        return "rate_limit" if prompt == "limit me" and attempt == 0 else None

    script = ModelScript(answer="billing queue", delay_ms=50, faults=faults, retry_after_s=7, cached_tokens=1)
    with OpenAIServer({"m": script, "other": ModelScript(answer="other model")}) as server:

        async def scenario():
            backend = PooledLiteLLMBackend("openai/m", workers=2, price=None, api_base=server.base_url)
            other = PooledLiteLLMBackend("openai/other", workers=2, price=None, api_base=server.base_url)
            try:
                many = await asyncio.gather(*(backend.complete(_request(f"ticket {i}"), timeout_s=10) for i in range(24)))
                # A second model shares the same workers (no second LiteLLM import per worker).
                assert (await other.complete(_request("hello"), timeout_s=10)).text == "other model"
                assert other._pool is backend._pool and len(backend._pool.processes) == 2
                await other.aclose()
                assert backend._pool is not None  # the first model still uses the workers
                with pytest.raises(RateLimitedError) as caught:
                    await backend.complete(_request("limit me"), timeout_s=10)
                cut = await backend.complete(_request("limit me", max_tokens=1), timeout_s=10)
                # A worker that dies takes no call with it: the next calls go to the other one.
                backend._pool.processes[0].kill()
                await asyncio.to_thread(backend._pool.processes[0].wait)
                await asyncio.sleep(0.2)  # the pipe's end is seen by the event loop
                after = await asyncio.gather(*(backend.complete(_request(f"late {i}"), timeout_s=10) for i in range(4)))
                lag = list(backend.loop_lag_ms)
            finally:
                await backend.aclose()
            assert backend.loop_lag_ms == [] and not _pools  # the last model to leave stopped the workers
            return many, caught.value, cut, after, lag

        many, error, cut, after, backend_lag = asyncio.run(scenario())
    assert [(c.text, c.extra["worker"]) for c in after] == [("billing queue", 1)] * 4
    assert [c.text for c in many] == ["billing queue"] * 24
    # The workers' own event-loop lag came back with the answers (50 ms calls, a sample every 20 ms).
    assert len(backend_lag) >= 2 and all(lag >= 0 for lag in backend_lag)
    assert {c.extra["worker"] for c in many} == {0, 1}
    assert {c.extra["latency_basis"] for c in many} == {"http"}
    assert all(c.latency_ms >= 50 for c in many)
    assert all((c.input_tokens, c.cached_input_tokens, c.output_tokens) == (2, 1, 2) for c in many)
    # Errors cross the process boundary with their class, kind and Retry-After.
    assert (type(error), error.kind, error.retryable, error.retry_after_s) == (RateLimitedError, "rate_limited", True, 7)
    assert str(error).startswith("openai/m:")
    assert (cut.text, cut.finish_reason) == ("billing", "length")


def test_the_parent_process_never_imports_litellm():
    probe = """
import asyncio, sys
from distilleval.backends.base import ChatRequest
from distilleval.backends.litellm_pool import PooledLiteLLMBackend, _pools
from distilleval.testing.openai_server import OpenAIServer, ModelScript

async def main(url):
    backend = PooledLiteLLMBackend("openai/m", workers=1, price=None, api_base=url)
    request = ChatRequest(messages=({"role": "user", "content": "hi"},))
    completion = await backend.complete(request, timeout_s=10)
    await backend.aclose()
    return completion.text

with OpenAIServer(default=ModelScript(answer="pong")) as server:
    print(asyncio.run(main(server.base_url)), "litellm" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    assert done.stdout.split() == ["pong", "False"], done.stderr[-2000:]
