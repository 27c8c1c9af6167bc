"""Contract tests: every request body distilleval sends, on every route, is one the provider's own SDK declares.

For each shipped spec (its rubric as a cacheable system block, its images) and for the spec's
teacher plus one model of each newer family, the bodies are captured where they leave
distilleval: at the scripted server for the online routes (LiteLLM ``openai/``, ``anthropic/``,
``gemini/`` and the aiohttp fast path) and as batch lines (OpenAI, Anthropic). Each is checked
against the official SDK's request type, unknown fields refused (``sdk_types.problems``):
openai ``CompletionCreateParamsNonStreaming``, anthropic ``MessageCreateParamsNonStreaming`` and
``batch_create_params.Request``, google-genai ``Content`` / ``GenerationConfig`` (pydantic,
``extra='forbid'``). Responses: bodies built with the SDKs' own response types are parsed by
distilleval's parsers, and the doubles' responses validate as those types.
"""

import asyncio
import json
from pathlib import Path

import pytest

from distilleval.backends.base import ChatRequest
from distilleval.backends.batch_anthropic import AnthropicBatchClient
from distilleval.backends.batch_openai import OpenAIBatchClient
from distilleval.backends.litellm_backend import LiteLLMBackend
from distilleval.backends.openai_compatible import OpenAICompatibleBackend
from distilleval.spec.data import load_items
from distilleval.spec.messages import build_messages
from distilleval.spec.task_spec import load_spec
from distilleval.testing.openai_server import ModelScript, OpenAIServer
from tests.backends.sdk_types import problems

anthropic_types = pytest.importorskip("anthropic.types")
genai_types = pytest.importorskip("google.genai.types")
from anthropic.types import message_create_params  # noqa: E402
from anthropic.types.messages import batch_create_params  # noqa: E402
from openai.types.chat import completion_create_params  # noqa: E402

SPECS = sorted((Path(__file__).resolve().parents[2] / "specs").glob("*/spec.yaml"))
# gpt-4.1-mini (the shipped candidate) is the OpenAI model outside the reasoning series: its bodies carry logprobs.
NEWER = ["openai/gpt-4.1-mini", "openai/gpt-5-mini", "openai/gpt-5.5", "anthropic/claude-opus-4-7", "anthropic/claude-sonnet-5",
         "gemini/gemini-2.5-flash", "gemini/gemini-3-pro-preview"]
# Reasoning settings each model is also sent with (the spec's own, None, always).
REASONING = {
    "openai": [("low", None)], "gemini": [("none", None), (None, 2048)],
    "anthropic": [("medium", None)],
}
OPENAI_PARAMS = completion_create_params.CompletionCreateParamsNonStreaming
ANTHROPIC_PARAMS = message_create_params.MessageCreateParamsNonStreaming
GEMINI_TOP_LEVEL = {"contents", "systemInstruction", "system_instruction", "generationConfig", "safetySettings",
                    "tools", "toolConfig", "cachedContent", "labels"}


def _requests(spec_path, model_id):
    """Two eval items of the spec as requests to ``model_id``, with the spec's settings and each reasoning variant."""
    spec = load_spec(spec_path)
    teacher = spec.teacher.model_copy(update={"model": model_id})
    items = [item for item in load_items(spec)][:2]
    provider = model_id.split("/", 1)[0]
    variants = [(None, None), *REASONING.get(provider, [])]
    if model_id in ("anthropic/claude-opus-4-6",):
        variants.append((None, 2048))
    requests = []
    for effort, budget in variants:
        if effort == "none" and model_id in ("openai/gpt-5-mini",):
            continue
        for item in items:
            requests.append(ChatRequest(
                messages=build_messages(teacher, item, spec.data.image_inputs), max_tokens=teacher.max_tokens,
                temperature=teacher.temperature, stop=tuple(teacher.stop), reasoning_effort=effort,
                thinking_budget_tokens=budget,
            ))
    # And a rubric long enough for every provider's prompt cache (the shipped rubric, repeated to ~8,000 tokens).
    rubric = (teacher.system_text or teacher.prompt_text) + "\n"
    long_rubric = rubric * (32_000 // max(len(rubric), 1) + 1)
    requests.append(ChatRequest(messages=({"role": "system", "content": long_rubric}, {"role": "user", "content": "ticket"}),
                                max_tokens=teacher.max_tokens, temperature=teacher.temperature))
    return requests


def _online(route, model_id, requests):
    """The bodies ``requests`` arrive as at the scripted server on ``route``; every one must be answered."""
    provider = model_id.split("/", 1)[0]
    with OpenAIServer(default=ModelScript(answer="billing")) as server:
        if route == "fast-path":
            backend = OpenAICompatibleBackend(model_id, api_base=server.base_url, price=None)
        else:
            backend = LiteLLMBackend(model_id, price=None, api_base=server.api_base(provider), api_key="k")

        async def go():
            try:
                return [await backend.complete(request, timeout_s=30) for request in requests]
            finally:
                await backend.aclose()

        completions = asyncio.run(go())
        log = list(server.log)
    assert [entry.outcome for entry in log] == ["ok"] * len(requests), [(e.outcome, e.status) for e in log]
    assert all(c.text == "billing" for c in completions)
    return [entry.body for entry in log]


def _gemini_problems(body):
    found = [f"body.{key}: not a field of a generateContent request" for key in body if key not in GEMINI_TOP_LEVEL]
    for index, content in enumerate(body.get("contents", [])):
        found += problems(content, genai_types.Content, f"body.contents[{index}]")
    system = body.get("systemInstruction") or body.get("system_instruction")
    if system is not None:
        found += problems(system, genai_types.Content, "body.systemInstruction")
    config = body.get("generationConfig")
    if config is not None:
        found += problems(config, genai_types.GenerationConfig, "body.generationConfig")
    return found


def _cases():
    for spec_path in SPECS:
        spec = load_spec(spec_path)
        for model_id in dict.fromkeys([spec.teacher.model, "anthropic/claude-opus-4-6", *NEWER]):
            provider = model_id.split("/", 1)[0]
            routes = {"openai": ["litellm", "fast-path", "batch"], "anthropic": ["litellm", "batch"],
                      "gemini": ["litellm"]}[provider]
            for route in routes:
                yield pytest.param(spec_path, model_id, route, id=f"{spec_path.parent.name}-{model_id}-{route}")


@pytest.mark.parametrize(("spec_path", "model_id", "route"), list(_cases()))
def test_every_request_body_is_one_the_providers_sdk_declares(spec_path, model_id, route):
    requests = _requests(spec_path, model_id)
    provider = model_id.split("/", 1)[0]
    if route == "batch" and provider == "openai":
        client = OpenAIBatchClient(model_id, api_base=None, api_key=None)
        lines = [client.request_line(f"c{i}", r) for i, r in enumerate(requests)]
        found = [p for line in lines for p in problems(line["body"], OPENAI_PARAMS)]
        assert {tuple(sorted(line)) for line in lines} == {("body", "custom_id", "method", "url")}
        assert {line["url"] for line in lines} == {"/v1/chat/completions"}
    elif route == "batch":
        client = AnthropicBatchClient(model_id, api_base=None, api_key=None)
        lines = [client.request_line(f"c{i}", r) for i, r in enumerate(requests)]
        found = [p for line in lines for p in problems(line, batch_create_params.Request)]
        assert "cache_control" in json.dumps(lines[-1]["params"].get("system", ""))
    else:
        bodies = _online(route, model_id, requests)
        check = {"openai": lambda b: problems(b, OPENAI_PARAMS), "anthropic": lambda b: problems(b, ANTHROPIC_PARAMS),
                 "gemini": _gemini_problems}[provider]
        found = [p for body in bodies for p in check(body)]
        if provider == "anthropic":
            # The long rubric reaches the model as a cacheable system block.
            assert "cache_control" in json.dumps(bodies[-1].get("system", ""))
    assert not found, found[:5]
    if model_id == "openai/gpt-4.1-mini":
        sent = [line["body"] for line in lines] if route == "batch" else bodies
        assert sent and all(body.get("logprobs") is True for body in sent)


def test_the_checker_refuses_what_the_sdks_do_not_declare():
    # The contract test would pass vacuously if the checker took anything; it does not.
    assert problems({"model": "m", "messages": [{"role": "user", "content": "x"}], "thinking": {}}, OPENAI_PARAMS)
    assert problems({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 8,
                     "reasoning_effort": "low"}, ANTHROPIC_PARAMS)
    assert problems({"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "x", "extra": 1}]},
                    ANTHROPIC_PARAMS)
    assert _gemini_problems({"contents": [], "generationConfig": {"maxOutputTokens": 8, "thinking": {}}})
    assert not problems({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_completion_tokens": 8},
                        OPENAI_PARAMS)


def test_responses_built_with_the_sdks_own_types_are_parsed():
    from openai.types.chat import ChatCompletion

    openai_body = ChatCompletion.model_validate({
        "id": "c", "object": "chat.completion", "created": 0, "model": "gpt-5.2",
        "choices": [{"index": 0, "finish_reason": "length", "logprobs": None,
                     "message": {"role": "assistant", "content": "billing", "refusal": None}}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 40, "total_tokens": 90,
                  "prompt_tokens_details": {"cached_tokens": 32}, "completion_tokens_details": {"reasoning_tokens": 39}},
    }).model_dump(mode="json")
    outcome = OpenAIBatchClient("openai/gpt-5.2", api_base=None, api_key=None)._outcome(
        {"custom_id": "a", "error": None, "response": {"status_code": 200, "body": openai_body}})
    completion = outcome.completion
    assert (completion.text, completion.input_tokens, completion.cached_input_tokens) == ("billing", 50, 32)
    assert (completion.output_tokens, completion.reasoning_tokens, completion.finish_reason) == (40, 39, "length")

    message = anthropic_types.Message.model_validate({
        "id": "m", "type": "message", "role": "assistant", "model": "claude-opus-4-6", "stop_reason": "end_turn",
        "stop_sequence": None, "content": [{"type": "thinking", "thinking": "...", "signature": "s"},
                                           {"type": "text", "text": "billing"}],
        "usage": {"input_tokens": 20, "output_tokens": 7, "cache_read_input_tokens": 1000,
                  "cache_creation_input_tokens": 0},
    }).model_dump(mode="json")
    outcome = AnthropicBatchClient("anthropic/claude-opus-4-6", api_base=None, api_key=None)._outcome(
        {"custom_id": "a", "result": {"type": "succeeded", "message": message}})
    assert (outcome.completion.text, outcome.completion.input_tokens, outcome.completion.cached_input_tokens) == (
        "billing", 1020, 1000)


def test_the_doubles_answer_with_bodies_the_sdks_accept():
    from openai.types.chat import ChatCompletion

    from distilleval.testing.provider_shapes import ANTHROPIC, GEMINI, OPENAI, Usage

    usage = Usage(prompt=30, output=2, cached=10, cache_write=5, thoughts=0)
    ChatCompletion.model_validate(OPENAI.completion("gpt-5.2", "billing ok", False, usage))
    anthropic_types.Message.model_validate(ANTHROPIC.completion("claude-opus-4-6", "billing ok", True, usage))
    lost = genai_types.GenerateContentResponse.model_validate(
        GEMINI.completion("gemini-2.5-flash", "", True, Usage(prompt=30, output=0, thoughts=64)))
    assert lost.candidates[0].content.parts is None and lost.usage_metadata.thoughts_token_count == 64
    assert lost.candidates[0].finish_reason == genai_types.FinishReason.MAX_TOKENS
