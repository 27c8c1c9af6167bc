"""The aiohttp fast path over real HTTP against the scripted server."""

import asyncio
import math

import pytest

from distilleval.backends.base import ChatRequest
from distilleval.backends.openai_compatible import OpenAICompatibleBackend, served_model_name
from distilleval.costs.pricing import load_pricing
from distilleval.errors import BackendError
from distilleval.testing.openai_server import ModelScript, OpenAIServer, fail_first

REQUEST = ChatRequest(messages=({"role": "user", "content": "refund please"},), max_tokens=4, stop=("\n",))


async def _call_and_close(backend, timeout_s=5.0):
    try:
        return await backend.complete(REQUEST, timeout_s=timeout_s)
    finally:
        await backend.aclose()


def test_served_model_name_strips_provider_prefix():
    assert served_model_name("openai/qwen3-8b-lora") == "qwen3-8b-lora"
    assert served_model_name("my-model") == "my-model"


def test_completion_and_wire_format():
    price = load_pricing().price_for("openai/gpt-4.1-mini")
    with OpenAIServer({"student": ModelScript(answer="billing", usage=(24, 2), logprob=-0.25)}, api_key="k1") as server:
        backend = OpenAICompatibleBackend("openai/student", api_base=server.base_url, price=price, api_key="k1")
        completion = asyncio.run(_call_and_close(backend))
        sent = server.log[0].body
    assert completion.text == "billing"
    # Asked for token log-probabilities (an OpenAI non-reasoning model takes them): confidence exp(mean).
    assert completion.confidence == pytest.approx(math.exp(-0.25), abs=1e-12)
    assert completion.confidence_basis == "token_logprobs:mean"
    assert (completion.input_tokens, completion.output_tokens) == (24, 2)
    assert completion.cost_usd == pytest.approx(24 * 0.4e-6 + 2 * 1.6e-6)
    assert sent == {"model": "student", "messages": [{"role": "user", "content": "refund please"}],
                    "max_tokens": 4, "temperature": 0.0, "stop": ["\n"], "logprobs": True}
    assert "k1" not in repr(backend)


@pytest.mark.parametrize(
    "fault, kind",
    [("rate_limit", "rate_limited"), ("server_error", "unavailable"), ("slow", "timeout"),
     ("drop", "unavailable"), ("malformed", "bad_response")],
)
def test_faults_translate(fault, kind):
    with OpenAIServer({"m": ModelScript(faults=fail_first(fault), slow_s=3, retry_after_s=0.25)}) as server:
        backend = OpenAICompatibleBackend("openai/m", api_base=server.base_url, price=None)
        with pytest.raises(BackendError) as caught:
            asyncio.run(_call_and_close(backend, timeout_s=0.5))
    assert caught.value.kind == kind and caught.value.retryable
    if fault == "rate_limit":
        assert caught.value.retry_after_s == pytest.approx(0.25)


def test_auth_and_unknown_model_are_final():
    with OpenAIServer({"m": ModelScript()}, api_key="right") as server:
        wrong = OpenAICompatibleBackend("openai/m", api_base=server.base_url, price=None, api_key="wrong")
        with pytest.raises(BackendError) as auth:
            asyncio.run(_call_and_close(wrong))
        missing = OpenAICompatibleBackend("openai/x", api_base=server.base_url, price=None, api_key="right")
        with pytest.raises(BackendError) as not_found:
            asyncio.run(_call_and_close(missing))
    assert (auth.value.kind, auth.value.retryable) == ("auth", False)
    assert (not_found.value.kind, not_found.value.retryable) == ("not_found", False)


def test_connection_refused_is_unavailable():
    backend = OpenAICompatibleBackend("openai/m", api_base="http://127.0.0.1:9/v1", price=None)
    with pytest.raises(BackendError) as caught:
        asyncio.run(_call_and_close(backend))
    assert caught.value.kind == "unavailable"


def test_a_reasoning_model_is_never_asked_for_logprobs_and_gives_no_confidence():
    # OpenAI's reasoning series answers 400 to 'logprobs' (the scripted server too): never sent.
    with OpenAIServer({"gpt-5.2": ModelScript(answer="billing")}) as server:
        backend = OpenAICompatibleBackend("openai/gpt-5.2", api_base=server.base_url, price=None)
        completion = asyncio.run(_call_and_close(backend))
        sent = server.log[0].body
    assert "logprobs" not in sent and completion.confidence is None and completion.confidence_basis is None
