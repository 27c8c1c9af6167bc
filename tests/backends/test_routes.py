"""Every route (LiteLLM openai/, anthropic/, gemini/ and the aiohttp fast path) over real HTTP.

Each route is called against the scripted server speaking that provider's wire format, and
must report what the provider reported: transport latency, cached input tokens, cache
writes (Anthropic), and the finish reason, normalised to one vocabulary.
"""

import asyncio
import statistics
import time

import pytest

from distilleval.backends.base import ChatRequest
from distilleval.backends.litellm_backend import LiteLLMBackend
from distilleval.backends.openai_compatible import OpenAICompatibleBackend
from distilleval.costs.pricing import load_pricing
from distilleval.results.build import distribution
from distilleval.results.latency import client_bound_reason
from distilleval.run.runner import Call, Runner, RunnerOptions
from distilleval.testing.openai_server import ModelScript, OpenAIServer, ServerProcess

# (route name, model id, provider shape the server must speak)
ROUTES = [
    ("litellm-openai", "openai/m", "openai"),
    ("litellm-anthropic", "anthropic/claude-sonnet-4-5", "anthropic"),
    ("litellm-gemini", "gemini/gemini-2.5-flash", "gemini"),
    ("fast-path", "openai/m", "openai"),
]
IDS = [route[0] for route in ROUTES]


def _backend(route, model_id, base_url_for):
    if route == "fast-path":
        return OpenAICompatibleBackend(model_id, api_base=base_url_for("openai"), price=None)
    provider = route.removeprefix("litellm-")
    return LiteLLMBackend(model_id, price=None, api_base=base_url_for(provider), api_key="test-key")


def _served_name(model_id):
    return model_id.split("/", 1)[1]


def _request(text="where is my parcel", max_tokens=16, system=None):
    messages = ({"role": "system", "content": system},) if system else ()
    return ChatRequest(messages=(*messages, {"role": "user", "content": text}), max_tokens=max_tokens)


async def _calls(backend, requests):
    try:
        return [await backend.complete(request, timeout_s=10) for request in requests]
    finally:
        await backend.aclose()


@pytest.mark.parametrize(("route", "model_id", "shape"), ROUTES, ids=IDS)
def test_latency_is_the_servers_delay_at_concurrency_one(route, model_id, shape):
    # The server runs in its own process (no shared GIL) and answers after 60 ms. Reported
    # latency is transport time, so a round's median must sit at the delay, within 10% + 5 ms.
    # This machine is shared: a round the scheduler stalled is measured again (up to 3 rounds).
    delay_ms = 60.0
    with ServerProcess(delay_ms=delay_ms, answer="billing") as server:
        root = server.base_url.removesuffix("/v1")
        base_url_for = {"openai": server.base_url, "anthropic": root, "gemini": f"{root}/v1beta"}.get
        for round_number in range(3):
            backend = _backend(route, model_id, base_url_for)
            requests = [_request(f"ticket {round_number}-{i}") for i in range(7)]
            completions = asyncio.run(_calls(backend, requests))
            latencies = [c.latency_ms for c in completions]
            if statistics.median(latencies) <= delay_ms * 1.1 + 5:
                break
    assert all(c.text == "billing" for c in completions)
    assert min(latencies) >= delay_ms, latencies
    assert statistics.median(latencies) <= delay_ms * 1.1 + 5, latencies
    if route != "fast-path":
        assert {c.extra["latency_basis"] for c in completions} == {"http"}


@pytest.mark.parametrize(("route", "model_id", "shape"), ROUTES, ids=IDS)
def test_cached_input_tokens_are_read_and_included_in_input_tokens(route, model_id, shape):
    # 1,200 prompt tokens, of which 1,000 came from the prompt cache. Anthropic's raw usage
    # says input_tokens=200 (it excludes cached ones); every route must report 1,200 in all.
    script = ModelScript(answer="billing", usage=(1200, 1), cached_tokens=1000, thinking_tokens=0)  # thinking: test_request_params
    with OpenAIServer({_served_name(model_id): script}) as server:
        completion = asyncio.run(_calls(_backend(route, model_id, server.api_base), [_request()]))[0]
    assert (completion.input_tokens, completion.cached_input_tokens, completion.output_tokens) == (1200, 1000, 1)
    assert completion.cache_write_tokens == 0


def test_anthropic_cache_writes_are_read_and_included_in_input_tokens():
    # Raw Anthropic usage: input_tokens 150 + cache_read 0 + cache_creation 1,050 = 1,200 in all.
    script = ModelScript(answer="billing", usage=(1200, 1), cache_write_tokens=1050)
    with OpenAIServer({"claude-sonnet-4-5": script}) as server:
        backend = _backend("litellm-anthropic", "anthropic/claude-sonnet-4-5", server.api_base)
        completion = asyncio.run(_calls(backend, [_request()]))[0]
    assert (completion.input_tokens, completion.cache_write_tokens, completion.cached_input_tokens) == (1200, 1050, 0)


@pytest.mark.parametrize(("route", "model_id", "shape"), ROUTES, ids=IDS)
def test_finish_reason_is_length_when_max_tokens_cuts_the_answer(route, model_id, shape):
    script = ModelScript(answer="billing because the invoice shows a double charge")
    with OpenAIServer({_served_name(model_id): script}) as server:
        cut, whole = asyncio.run(_calls(_backend(route, model_id, server.api_base), [_request(max_tokens=2), _request()]))
    assert (cut.text, cut.finish_reason) == ("billing because", "length")
    assert (whole.text, whole.finish_reason) == ("billing because the invoice shows a double charge", "stop")


def test_anthropic_call_is_priced_with_cache_reads_and_writes_at_their_own_rates():
    # Opus 4.6: input $5, cache read $0.50, 5-minute cache write $6.25, output $25 per 1M tokens.
    price = load_pricing().price_for("anthropic/claude-opus-4-6")
    script = ModelScript(answer="billing", usage=(1200, 4), cached_tokens=1000, cache_write_tokens=150)
    with OpenAIServer({"claude-opus-4-6": script}) as server:
        backend = LiteLLMBackend("anthropic/claude-opus-4-6", price=price, api_base=server.api_base("anthropic"), api_key="k")
        completion = asyncio.run(_calls(backend, [_request()]))[0]
    expected = (50 * 5.00 + 1000 * 0.50 + 150 * 6.25 + 4 * 25.00) / 1e6
    assert completion.cost_usd == pytest.approx(expected)


async def _lean_client_latencies(base_url, n, concurrency):
    """What a bare aiohttp loop measures against the same server: the truth a route is held to."""
    import aiohttp

    gate = asyncio.Semaphore(concurrency)
    latencies = []
    async with aiohttp.ClientSession() as session:

        async def one(i):
            async with gate:
                body = {"model": "m", "messages": [{"role": "user", "content": f"lean {i}"}], "max_tokens": 16}
                started = time.perf_counter()
                async with session.post(f"{base_url}/chat/completions", json=body) as response:
                    await response.read()
                latencies.append((time.perf_counter() - started) * 1000.0)

        await asyncio.gather(*(one(i) for i in range(n)))
    return latencies


def _within(latency, truth, slack_p50_ms=0.0, slack_p95_ms=0.0):
    """Whether ``latency``'s p50 and p95 are within 10% + 5 ms (+ the slack given) of ``truth``'s."""
    return (latency.p50 <= truth.p50 * 1.1 + 5 + slack_p50_ms
            and latency.p95 <= truth.p95 * 1.1 + 5 + slack_p95_ms)


@pytest.mark.parametrize(("route", "model_id", "shape"), ROUTES, ids=IDS)
def test_latency_at_concurrency_64_is_within_the_bound_widened_only_by_the_measured_loop_lag(route, model_id, shape):
    # 128 calls, 64 in flight, to a server answering after 35 ms. A Python server on two cores
    # cannot answer 64 calls at once in exactly 35 ms, so the truth is what a lean client (a bare
    # aiohttp loop) measures against the same server in the same round. The route's p50 and p95
    # must be within 10% + 5 ms of the lean client's; never faster than the server's delay.
    # When the runner's event-loop lag says the client was the bottleneck, a call waits for the
    # busy loop at most twice while its timer runs (after the timer starts, before the request
    # leaves; after the answer arrives, before the timer stops): the bound then grows by twice the
    # measured lag (its p95 for the p50, its largest sample for the p95), and a latency that grew
    # for any other reason (e.g. time queued for a connection) still fails. The machine is
    # shared: a round outside its bound is measured again (up to 3 rounds).
    delay_ms = 35.0
    with ServerProcess(delay_ms=delay_ms, answer="billing") as server:
        root = server.base_url.removesuffix("/v1")
        base_url_for = {"openai": server.base_url, "anthropic": root, "gemini": f"{root}/v1beta"}.get
        for round_number in range(3):
            truth = distribution(asyncio.run(_lean_client_latencies(server.base_url, 128, 64)))
            backend = _backend(route, model_id, base_url_for)
            calls = [Call(f"i{i}", "teacher", _request(f"ticket {round_number}-{i}")) for i in range(128)]
            runner = Runner({"teacher": backend}, options=RunnerOptions(concurrency=64))

            async def run(backend=backend, runner=runner, calls=calls):
                try:
                    return await runner.run(calls)
                finally:
                    await backend.aclose()

            results = asyncio.run(run())
            assert all(r.ok for r in results)
            assert min(r.latency_ms for r in results) >= delay_ms
            latency = distribution([r.latency_ms for r in results])
            lag_samples = runner.loop_lag_ms.get("teacher", [])
            lag = distribution(lag_samples)
            if client_bound_reason(lag, latency) is None:
                within = _within(latency, truth)
            else:
                within = _within(latency, truth, slack_p50_ms=2 * lag.p95, slack_p95_ms=2 * max(lag_samples))
            if within:
                break
    assert within, (latency, truth, lag)
