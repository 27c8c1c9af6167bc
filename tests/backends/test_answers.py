"""Failures that say why, on every online route: refusals, null content, oversized bodies, an empty account.

Each is its own error kind, none is retried, none is cached as an answer, and an account out of
quota stops the run at once with one line. (``_http.checked_answer``, ``translate_*``, the
runner's fatal kinds.)
"""

import asyncio

import pytest

from distilleval.backends._http import MAX_RESPONSE_BYTES, checked_answer, read_usage
from distilleval.backends.base import ChatRequest
from distilleval.backends.litellm_backend import LiteLLMBackend
from distilleval.backends.openai_compatible import OpenAICompatibleBackend
from distilleval.errors import BackendError
from distilleval.run.cache import ResponseCache
from distilleval.run.runner import Call, RunAborted, Runner, RunnerOptions
from distilleval.testing.openai_server import ModelScript, OpenAIServer, fail_first

FAST = {"max_retries": 3, "backoff_base_s": 0.01, "backoff_max_s": 0.02}
ROUTES = [("fast-path", "openai/m", "openai"), ("litellm-openai", "openai/m", "openai"),
          ("litellm-anthropic", "anthropic/claude-opus-4-6", "anthropic")]


def _backend(route, model_id, server):
    provider = "anthropic" if "anthropic" in route else "openai"
    if route == "fast-path":
        return OpenAICompatibleBackend(model_id, api_base=server.base_url, price=None)
    return LiteLLMBackend(model_id, price=None, api_base=server.api_base(provider), api_key="k")


def _calls(n, max_tokens=256):
    return [
        Call(f"item-{i}", "teacher", ChatRequest(messages=({"role": "user", "content": f"ticket {i}"},), max_tokens=max_tokens))
        for i in range(n)
    ]


def _run(backend, calls, cache=None):
    async def go():
        try:
            return await Runner({"teacher": backend}, options=RunnerOptions(concurrency=2, **FAST), cache=cache).run(calls)
        finally:
            await backend.aclose()

    return asyncio.run(go())


def test_checked_answer_names_each_kind_of_missing_answer():
    with pytest.raises(BackendError) as refusal:
        checked_answer("m", None, refusal="I can't help with that.")
    with pytest.raises(BackendError) as null:
        checked_answer("m", None, finish_reason="stop")
    with pytest.raises(BackendError) as thinking:
        checked_answer("m", None, finish_reason="length", usage=read_usage({"completion_tokens": 64,
                       "completion_tokens_details": {"reasoning_tokens": 64}}))
    with pytest.raises(BackendError) as huge:
        checked_answer("m", "x" * (MAX_RESPONSE_BYTES + 1))
    kinds = [err.value.kind for err in (refusal, null, thinking, huge)]
    assert kinds == ["refusal", "empty_answer", "thinking_exhausted", "response_too_large"]
    assert not any(err.value.retryable for err in (refusal, null, thinking, huge))
    assert checked_answer("m", "", finish_reason="stop") == ""  # an empty string is an answer, if a poor one


@pytest.mark.parametrize(("fault", "kind"), [("refusal", "refusal"), ("null_content", "empty_answer")])
@pytest.mark.parametrize(("route", "model_id", "shape"), ROUTES, ids=[r[0] for r in ROUTES])
def test_refusals_and_null_content_are_recorded_as_such_and_never_cached(tmp_path, route, model_id, shape, fault, kind):
    cache = ResponseCache(tmp_path / "cache.sqlite")
    with OpenAIServer(default=ModelScript(answer="billing", faults=fail_first(fault, 1))) as server:
        results = _run(_backend(route, model_id, server), _calls(3), cache=cache)
        requests = len(server.log)
    assert [r.error_kind for r in results] == [kind] * 3
    assert requests == 3  # not retried
    # Nothing was cached: the same calls again reach the server, which now answers.
    with OpenAIServer(default=ModelScript(answer="billing")) as server:
        again = _run(_backend(route, model_id, server), _calls(3), cache=cache)
        assert len(server.log) == 3
    assert [r.text for r in again] == ["billing"] * 3 and not any(r.cache_hit for r in again)


@pytest.mark.parametrize(("route", "model_id", "shape"), ROUTES[:2], ids=[r[0] for r in ROUTES[:2]])
def test_a_response_over_the_size_limit_is_its_own_error_and_not_kept(route, model_id, shape):
    # One long word: a body over the limit either way, without the double building a log-probability
    # entry for each of a million words when the route asks for logprobs.
    huge = "w" * (MAX_RESPONSE_BYTES + 10)
    with OpenAIServer(default=ModelScript(answer=huge, usage=(5, 5))) as server:
        results = _run(_backend(route, model_id, server), _calls(1, max_tokens=1_000_000))
    assert results[0].error_kind == "response_too_large"
    assert results[0].text in (None, "") and len(results[0].error_message or "") < 500


@pytest.mark.parametrize(("route", "model_id", "shape"), ROUTES, ids=[r[0] for r in ROUTES])
def test_an_account_out_of_quota_stops_the_run_at_once_with_one_line(route, model_id, shape):
    with OpenAIServer(default=ModelScript(faults=fail_first("quota", 100))) as server:
        with pytest.raises(RunAborted) as caught:
            _run(_backend(route, model_id, server), _calls(40))
        requests = len(server.log)
    message = str(caught.value)
    assert "(quota)" in message and "\n" not in message and "credit" in message
    assert requests <= 4  # never retried, and the run stopped instead of paying for 40 failures
