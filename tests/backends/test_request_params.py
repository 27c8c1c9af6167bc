"""Per-model request settings: one rule per model, checked against LiteLLM's own mapping and used by every route."""

import asyncio
import json
import os
import urllib.error
import urllib.request

import pytest

from distilleval.backends._http import chat_body
from distilleval.backends.base import ChatRequest
from distilleval.backends.batch_anthropic import AnthropicBatchClient
from distilleval.backends.batch_openai import OpenAIBatchClient
from distilleval.backends.litellm_backend import LiteLLMBackend
from distilleval.backends.openai_compatible import OpenAICompatibleBackend
from distilleval.backends.request_params import (
    DEFAULT_THINKING_ALLOWANCE,
    openai_fields,
    sent_settings,
)
from distilleval.errors import BackendError
from distilleval.testing.openai_server import ModelScript, OpenAIServer

ASK = ChatRequest(messages=({"role": "user", "content": "where is my parcel"},), max_tokens=8)

# Models whose settings LiteLLM's own parameter mapping decides, with their provider.
LITELLM_CHECKED = [
    ("openai/gpt-5.2", "openai"), ("openai/gpt-5-mini", "openai"), ("openai/gpt-5.5", "openai"),
    ("openai/gpt-4o-mini", "openai"), ("openai/o3-mini", "openai"), ("anthropic/claude-opus-4-7", "anthropic"),
    ("anthropic/claude-opus-4-6", "anthropic"), ("anthropic/claude-sonnet-5", "anthropic"),
    ("gemini/gemini-2.5-flash", "gemini"),
]


def test_the_gpt5_family_takes_max_completion_tokens_and_temperature_only_at_effort_none():
    assert openai_fields("openai/gpt-5.2", ASK) == {"max_completion_tokens": 8, "temperature": 0.0}
    for model in ("openai/gpt-5-mini", "openai/gpt-5.5", "openai/o3-mini"):
        fields = openai_fields(model, ASK)
        assert "max_tokens" not in fields and "temperature" not in fields, (model, fields)
        assert fields["max_completion_tokens"] > 8  # room for the reasoning on top of the answer's 8
        assert sent_settings(model, ASK).dropped == ("temperature=0",)
    assert openai_fields("openai/gpt-4o-mini", ASK) == {"max_tokens": 8, "temperature": 0.0}


def test_claude_models_get_no_temperature_since_the_sdk_declares_none():
    # LiteLLM's map still lets claude-opus-4-6 sample; anthropic SDK 2.17's request type has no
    # temperature for any model, so none is sent (and a written one is refused).
    for model in ("anthropic/claude-opus-4-7", "anthropic/claude-sonnet-5", "anthropic/claude-opus-4-6"):
        assert openai_fields(model, ASK) == {"max_tokens": 8 if model != "anthropic/claude-sonnet-5" else 8 + DEFAULT_THINKING_ALLOWANCE}
        assert sent_settings(model, ASK).dropped == ("temperature=0",)


def test_unknown_and_self_hosted_models_keep_the_plain_openai_fields():
    for model in ("openai/teacher", "hosted_vllm/qwen", "tinker://run/sampler_weights/final"):
        assert openai_fields(model, ASK) == {"max_tokens": 8, "temperature": 0.0}


def test_gemini_25_gets_a_thinking_budget_on_top_of_the_answers_room_by_default():
    fields = openai_fields("gemini/gemini-2.5-flash", ASK)
    assert fields["thinking"] == {"type": "enabled", "budget_tokens": DEFAULT_THINKING_ALLOWANCE}
    assert fields["max_tokens"] == 8 + DEFAULT_THINKING_ALLOWANCE


def test_a_reasoning_setting_maps_to_each_providers_field():
    low = ChatRequest(messages=ASK.messages, max_tokens=8, reasoning_effort="low")
    off = ChatRequest(messages=ASK.messages, max_tokens=8, reasoning_effort="none")
    budget = ChatRequest(messages=ASK.messages, max_tokens=8, thinking_budget_tokens=3000)
    assert openai_fields("openai/gpt-5-mini", low)["reasoning_effort"] == "low"
    assert openai_fields("openai/gpt-5.2", off) == {"max_completion_tokens": 8, "temperature": 0.0, "reasoning_effort": "none"}
    assert openai_fields("anthropic/claude-opus-4-6", budget) == {
        "max_tokens": 3008, "thinking": {"type": "enabled", "budget_tokens": 3000}
    }
    assert openai_fields("gemini/gemini-2.5-flash", off)["thinking"] == {"type": "disabled", "budget_tokens": 0}
    assert openai_fields("gemini/gemini-2.5-flash", budget)["max_tokens"] == 3008
    assert openai_fields("anthropic/claude-opus-4-7", low)["reasoning_effort"] == "low"


@pytest.fixture(scope="module")
def litellm_optional_params():
    os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "true")
    from litellm.utils import get_optional_params

    return get_optional_params


@pytest.mark.parametrize(("model", "provider"), LITELLM_CHECKED)
def test_the_rules_agree_with_litellms_own_parameter_mapping(model, provider, litellm_optional_params):
    # LiteLLM (offline) refuses a temperature the model does not take and renames the token
    # limit; our rule, read from the same map without importing LiteLLM, must say the same.
    bare = model.split("/", 1)[1]
    try:
        mapped = litellm_optional_params(model=bare, custom_llm_provider=provider, temperature=0.0, max_tokens=8)
        litellm_takes_temperature = "temperature" in mapped
    except Exception as err:  # LiteLLM's UnsupportedParamsError
        assert type(err).__name__ == "UnsupportedParamsError", err
        litellm_takes_temperature = False
        mapped = litellm_optional_params(model=bare, custom_llm_provider=provider, max_tokens=8)
    ours = sent_settings(model, ASK)
    if provider == "anthropic":
        assert ours.temperature is None  # stricter than LiteLLM: the anthropic SDK declares no temperature
    else:
        assert (ours.temperature is not None) == litellm_takes_temperature
    if provider == "openai":
        assert ours.token_limit_field in mapped










def test_every_route_sends_the_same_settings_for_one_model():
    model = "openai/gpt-5-mini"
    online = chat_body("gpt-5-mini", ASK, rules_model=model)
    line = OpenAIBatchClient(model, api_base=None, api_key=None).request_line("c1", ASK)["body"]
    assert {k: v for k, v in online.items() if k != "messages"} == {k: v for k, v in line.items() if k != "messages"}
    claude = AnthropicBatchClient("anthropic/claude-opus-4-6", api_base=None, api_key=None).request_line(
        "c1", ChatRequest(messages=ASK.messages, max_tokens=8, thinking_budget_tokens=2048)
    )["params"]
    assert (claude["max_tokens"], claude["thinking"], "temperature" in claude) == (2056, {"type": "enabled", "budget_tokens": 2048}, False)
    adaptive = AnthropicBatchClient("anthropic/claude-sonnet-5", api_base=None, api_key=None).request_line(
        "c1", ChatRequest(messages=ASK.messages, max_tokens=8, reasoning_effort="medium")
    )["params"]
    assert (adaptive["thinking"], adaptive["output_config"]) == ({"type": "adaptive"}, {"effort": "medium"})


def _post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_the_strict_double_refuses_what_the_real_gpt5_and_claude_models_refuse():
    with OpenAIServer(default=ModelScript(answer="billing")) as server:
        messages = [{"role": "user", "content": "hi"}]
        status, body = _post(f"{server.base_url}/chat/completions", {"model": "gpt-5-mini", "messages": messages, "max_tokens": 8})
        assert status == 400 and "max_completion_tokens" in body["error"]["message"]
        status, _ = _post(f"{server.base_url}/chat/completions",
                          {"model": "gpt-5.5", "messages": messages, "max_completion_tokens": 8, "temperature": 0})
        assert status == 400
        status, _ = _post(f"{server.base_url}/chat/completions",
                          {"model": "gpt-5.2", "messages": messages, "max_completion_tokens": 8, "temperature": 0})
        assert status == 200
        root = server.api_base("anthropic")
        status, _ = _post(f"{root}/v1/messages", {"model": "claude-opus-4-7", "messages": messages, "max_tokens": 8, "temperature": 0})
        assert status == 400


@pytest.mark.parametrize("route", ["litellm", "fast-path"])
@pytest.mark.parametrize("model", ["openai/gpt-5-mini", "openai/gpt-5.5", "openai/gpt-5.2"])
def test_gpt5_family_calls_pass_the_strict_double_on_every_online_route(route, model):
    with OpenAIServer(default=ModelScript(answer="billing")) as server:
        if route == "fast-path":
            backend = OpenAICompatibleBackend(model, api_base=server.base_url, price=None)
        else:
            backend = LiteLLMBackend(model, price=None, api_base=server.base_url, api_key="k")

        async def call():
            try:
                return await backend.complete(ASK, timeout_s=10)
            finally:
                await backend.aclose()

        completion = asyncio.run(call())
        assert completion.text == "billing"
        assert [r.outcome for r in server.log] == ["ok"]


def _gemini_call(server, model, request):
    async def call():
        backend = LiteLLMBackend(model, price=None, api_base=server.api_base("gemini"), api_key="k")
        try:
            return await backend.complete(request, timeout_s=10)
        finally:
            await backend.aclose()

    return asyncio.run(call())


def test_gemini_thinking_gets_its_own_room_and_is_counted_as_output():
    with OpenAIServer(default=ModelScript(answer="billing")) as server:
        # Default: a 1,024-token thinking budget on top of the answer's 8 tokens; the double thinks all of it.
        completion = _gemini_call(server, "gemini/gemini-2.5-flash", ASK)
        body = server.log[-1].body["generationConfig"]
        assert body["thinkingConfig"]["thinkingBudget"] == DEFAULT_THINKING_ALLOWANCE
        assert body.get("maxOutputTokens", body.get("max_output_tokens")) == 8 + DEFAULT_THINKING_ALLOWANCE
    assert completion.text == "billing"
    assert completion.reasoning_tokens == DEFAULT_THINKING_ALLOWANCE
    assert completion.output_tokens == DEFAULT_THINKING_ALLOWANCE + 1  # thinking is priced as output


def test_an_answer_lost_to_thinking_is_reported_as_exactly_that():
    # Gemini 3 takes a level, not a budget: a model that thinks past the whole limit (a script
    # that thinks 50,000 tokens at 'low') leaves a candidate with no parts, finishReason
    # MAX_TOKENS and thoughtsTokenCount set.
    with OpenAIServer(default=ModelScript(answer="billing", thinking_tokens=50_000)) as server:
        with pytest.raises(BackendError) as err:
            _gemini_call(server, "gemini/gemini-3-pro-preview", ASK)
        sent = server.log[-1]
    assert sent.outcome == "ok"  # the provider answered (and billed); the answer was lost to thinking
    assert err.value.kind == "thinking_exhausted" and not err.value.retryable
    assert "thinking tokens filled the token limit" in str(err.value)
