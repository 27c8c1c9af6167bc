"""The LiteLLM backend over real HTTP against the scripted server."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from distilleval.backends.base import ChatRequest
from distilleval.backends.litellm_backend import LiteLLMBackend, import_litellm, translate_litellm_error
from distilleval.costs.pricing import load_pricing
from distilleval.errors import BackendError, RateLimitedError
from distilleval.run.runner import Call, Runner, RunnerOptions
from distilleval.testing.openai_server import ModelScript, OpenAIServer, fail_first

REPO_ROOT = Path(__file__).resolve().parents[2]
REQUEST = ChatRequest(messages=({"role": "user", "content": "where is my parcel"},), max_tokens=8)


def _call(backend, request=REQUEST, timeout_s=5.0):
    return asyncio.run(backend.complete(request, timeout_s=timeout_s))


def test_import_is_offline_and_quiet():
    # A fresh interpreter with every outbound connection refused: importing LiteLLM the
    # backend's way must not try the network (no cost-map fetch).
    probe = """
import os, socket
attempts = []
def refuse(self, address):
    attempts.append(address)
    raise OSError("network disabled for this test")
def no_dns(host, *args, **kwargs):
    attempts.append(host)
    raise socket.gaierror("network disabled for this test")
socket.socket.connect = refuse
socket.getaddrinfo = no_dns
os.environ.pop("LITELLM_OFFLINE_MODE", None)
from distilleval.backends.litellm_backend import import_litellm
litellm = import_litellm()
print(os.environ["LITELLM_OFFLINE_MODE"], litellm.suppress_debug_info, len(attempts))
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert done.stdout.split() == ["true", "True", "0"], done.stderr[-2000:]


def test_user_setting_of_offline_mode_is_respected(monkeypatch):
    monkeypatch.setenv("LITELLM_OFFLINE_MODE", "false")
    import_litellm()
    assert os.environ["LITELLM_OFFLINE_MODE"] == "false"


def test_completion_tokens_latency_and_cost_from_pricing_table():
    price = load_pricing().price_for("anthropic/claude-opus-4-6")
    script = ModelScript(answer="shipping", usage=(641, 4), delay_ms=60)
    with OpenAIServer({"teacher-m": script}) as server:
        backend = LiteLLMBackend("openai/teacher-m", price=price, api_base=server.base_url)
        completion = _call(backend)
        sent = server.log[0].body
    assert completion.text == "shipping"
    assert (completion.input_tokens, completion.output_tokens) == (641, 4)
    # 641 * $5/M + 4 * $25/M, from the table rather than LiteLLM's cost map
    assert completion.cost_usd == pytest.approx(641 * 5e-6 + 4 * 25e-6)
    assert 60 <= completion.latency_ms < 400
    assert sent["max_tokens"] == 8 and sent["temperature"] == 0.0


def test_api_key_sent_as_bearer_and_never_in_repr():
    with OpenAIServer({"m": ModelScript()}, api_key="sk-secret-123") as server:
        good = LiteLLMBackend("openai/m", price=None, api_base=server.base_url, api_key="sk-secret-123")
        assert _call(good).text == "ok"
        assert "sk-secret" not in repr(good)
        bad = LiteLLMBackend("openai/m", price=None, api_base=server.base_url, api_key="wrong")
        with pytest.raises(BackendError) as caught:
            _call(bad)
    assert caught.value.kind == "auth" and not caught.value.retryable


@pytest.mark.parametrize(
    "fault, kind",
    [("rate_limit", "rate_limited"), ("server_error", "unavailable"), ("slow", "timeout"),
     ("drop", "unavailable"), ("malformed", "unavailable")],
)
def test_faults_translate_to_distilleval_errors(fault, kind):
    with OpenAIServer({"m": ModelScript(faults=fail_first(fault), slow_s=3, retry_after_s=1.5)}) as server:
        backend = LiteLLMBackend("openai/m", price=None, api_base=server.base_url)
        with pytest.raises(BackendError) as caught:
            _call(backend, timeout_s=0.5)
        assert caught.value.kind == kind
        assert caught.value.retryable
        if fault == "rate_limit":
            assert caught.value.retry_after_s == pytest.approx(1.5)
        # num_retries=0: LiteLLM made exactly one attempt
        assert len(server.log) == 1


def test_unknown_model_is_not_retryable():
    with OpenAIServer({}) as server:
        backend = LiteLLMBackend("openai/missing", price=None, api_base=server.base_url)
        with pytest.raises(BackendError) as caught:
            _call(backend)
    assert caught.value.kind == "not_found" and not caught.value.retryable


def test_translation_of_plain_python_errors():
    assert translate_litellm_error(ConnectionRefusedError("refused"), "m").kind == "unavailable"
    assert translate_litellm_error(TimeoutError(), "m").kind == "timeout"
    assert translate_litellm_error(RuntimeError("?"), "m").kind == "error"
    assert isinstance(translate_litellm_error(type("RateLimitError", (Exception,), {})("x"), "m"), RateLimitedError)


def test_image_parts_reach_the_server_as_data_urls():
    url = "data:image/png;base64,iVBORw0KGgo="
    content = [{"type": "text", "text": "What is the total?"}, {"type": "image_url", "image_url": {"url": url}}]
    with OpenAIServer({"vision": ModelScript(answer="12.50")}) as server:
        backend = LiteLLMBackend("openai/vision", price=None, api_base=server.base_url)
        completion = _call(backend, ChatRequest(messages=({"role": "user", "content": content},)))
        [sent] = server.log[0].body["messages"]
    assert completion.text == "12.50"
    assert sent["content"][1]["image_url"]["url"] == url
    assert server.log[0].prompt == "What is the total?"


def _gemini(server, model="gemini-2.5-flash"):
    return LiteLLMBackend(f"gemini/{model}", price=None, api_base=server.api_base("gemini"), api_key="test-key")


def test_gemini_429_carries_the_retry_delay_of_its_body():
    # Gemini sends no Retry-After header: only google.rpc.RetryInfo's retryDelay in the body.
    with OpenAIServer({"gemini-2.5-flash": ModelScript(faults=fail_first("rate_limit"), retry_after_s=20)}) as server:
        with pytest.raises(RateLimitedError) as caught:
            _call(_gemini(server))
    assert caught.value.retry_after_s == pytest.approx(20)


def test_runner_waits_out_geminis_retry_delay_before_the_next_attempt():
    # Three 429s each saying "come back in 20 s": every pause the runner takes before
    # attempts 2-4 is at least 20 s (recorded, not slept, so the test is fast).
    slept = []

    async def record(seconds):
        slept.append(seconds)

    script = ModelScript(answer="billing", faults=fail_first("rate_limit", 3), retry_after_s=20)
    with OpenAIServer({"gemini-2.5-flash": script}) as server:
        runner = Runner({"teacher": _gemini(server)}, options=RunnerOptions(max_retries=4), sleep=record)
        [result] = asyncio.run(runner.run([Call("i1", "teacher", REQUEST)]))
        outcomes = [r.outcome for r in server.log]
    assert result.ok and result.text == "billing"
    assert outcomes == ["rate_limit", "rate_limit", "rate_limit", "ok"]
    assert len(slept) >= 3 and min(slept) >= 20


@pytest.mark.parametrize("provider", ["anthropic", "gemini"])
def test_malformed_200_body_is_a_retryable_bad_response(provider):
    model = {"anthropic": "claude-sonnet-4-5", "gemini": "gemini-2.5-flash"}[provider]
    with OpenAIServer({model: ModelScript(faults=fail_first("malformed"))}) as server:
        backend = LiteLLMBackend(f"{provider}/{model}", price=None, api_base=server.api_base(provider), api_key="k")
        with pytest.raises(BackendError) as caught:
            _call(backend)
        assert _call(backend).text == "ok"  # the second attempt is answered
    assert (caught.value.kind, caught.value.retryable) == ("bad_response", True)


LONG_RUBRIC = "Route each support ticket to exactly one queue. " * 200  # ~1,800 tokens


@pytest.mark.parametrize(
    ("model", "rubric", "prompt_cache", "marked"),
    [
        ("claude-sonnet-4-5", LONG_RUBRIC, "auto", True),
        ("claude-sonnet-4-5", LONG_RUBRIC, "off", False),
        ("claude-sonnet-4-5", "Route the ticket.", "auto", False),  # under the 1,024-token minimum
        ("claude-opus-4-6", LONG_RUBRIC, "auto", False),  # Opus 4.6 caches from 4,096 tokens
    ],
)
def test_anthropic_rubric_is_marked_cacheable_when_long_enough(model, rubric, prompt_cache, marked):
    request = ChatRequest(messages=({"role": "system", "content": rubric}, {"role": "user", "content": "my parcel"}))
    with OpenAIServer({model: ModelScript()}) as server:
        backend = LiteLLMBackend(
            f"anthropic/{model}", price=None, api_base=server.api_base("anthropic"), api_key="k", prompt_cache=prompt_cache
        )
        _call(backend, request)
        sent = server.log[0].body
    [system_block] = sent["system"]
    assert system_block["text"] == rubric
    assert ("cache_control" in system_block) is marked
    if marked:
        assert system_block["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in str(sent["messages"])  # the item is never marked


def test_logprobs_are_asked_of_an_openai_model_and_give_the_answers_confidence():
    import math

    script = ModelScript(answer="two words", logprob=math.log(0.81))
    with OpenAIServer({"teacher-m": script, "claude-sonnet-4-5": ModelScript(answer="shipping")}) as server:
        completion = _call(LiteLLMBackend("openai/teacher-m", price=None, api_base=server.base_url))
        sent = server.log[0].body
        # Anthropic's Messages API refuses a 'logprobs' field (the double too): never asked, no confidence.
        claude = _call(LiteLLMBackend("anthropic/claude-sonnet-4-5", price=None,
                                      api_base=server.api_base("anthropic"), api_key="k"))
        claude_sent = server.log[1].body
    assert sent["logprobs"] is True and completion.confidence == pytest.approx(0.81, abs=1e-12)
    assert completion.confidence_basis == "token_logprobs:mean"
    assert "logprobs" not in claude_sent and claude.text == "shipping" and claude.confidence is None
