"""The scripted test server answers like an OpenAI endpoint and injects the faults it is told to."""

import json

import httpx
import pytest

from distilleval.testing.openai_server import ModelScript, OpenAIServer, fail_first, prompt_text, random_faults


def _post(server, model, text, **extra):
    body = {"model": model, "messages": [{"role": "user", "content": text}], **extra}
    return httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=5, headers=extra.pop("headers", None))


def test_answer_usage_and_log():
    with OpenAIServer({"m": ModelScript(answer=lambda prompt: prompt.upper(), usage=(11, 3))}) as server:
        response = _post(server, "m", "route me")
        body = response.json()
        assert response.status_code == 200
        assert body["choices"][0]["message"]["content"] == "ROUTE ME"
        assert body["usage"] == {
            "prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14, "prompt_tokens_details": {"cached_tokens": 0}
        }
        assert body["choices"][0]["finish_reason"] == "stop"
        assert [(r.model, r.prompt, r.outcome, r.status) for r in server.log] == [("m", "route me", "ok", 200)]


def test_default_usage_counts_words():
    with OpenAIServer({"m": ModelScript(answer="two words")}) as server:
        usage = _post(server, "m", "one two three").json()["usage"]
        assert (usage["prompt_tokens"], usage["completion_tokens"]) == (3, 2)


def test_unknown_model_404_and_auth_401():
    with OpenAIServer({"m": ModelScript()}, api_key="sk-test") as server:
        assert _post(server, "nope", "x").status_code == 401  # auth is checked first
        body = {"model": "nope", "messages": [{"role": "user", "content": "x"}]}
        headers = {"Authorization": "Bearer sk-test"}
        assert httpx.post(f"{server.base_url}/chat/completions", json=body, headers=headers).status_code == 404
        body["model"] = "m"
        assert httpx.post(f"{server.base_url}/chat/completions", json=body, headers=headers).status_code == 200


def test_rate_limit_then_ok_with_retry_after():
    with OpenAIServer({"m": ModelScript(faults=fail_first("rate_limit"), retry_after_s=2)}) as server:
        first = _post(server, "m", "x")
        second = _post(server, "m", "x")
        assert first.status_code == 429 and first.headers["Retry-After"] == "2"
        assert second.status_code == 200
        assert [r.attempt for r in server.log] == [0, 1]


def test_server_error_malformed_and_drop():
    with OpenAIServer() as server:
        server.script("e", ModelScript(faults=fail_first("server_error")))
        server.script("j", ModelScript(faults=fail_first("malformed")))
        server.script("d", ModelScript(faults=fail_first("drop")))
        assert _post(server, "e", "x").status_code == 500
        malformed = _post(server, "j", "x")
        assert malformed.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(malformed.text)
        with pytest.raises(httpx.TransportError):
            _post(server, "d", "x")
        assert [r.outcome for r in server.log] == ["server_error", "malformed", "drop"]


def test_slow_passes_client_timeout():
    with OpenAIServer({"m": ModelScript(faults=fail_first("slow"), slow_s=2)}) as server:
        body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=0.2)


def test_random_faults_rate_and_determinism():
    decide = random_faults(0.2, seed=3)
    draws = [decide(f"prompt {i}", 0) for i in range(2000)]
    share = sum(d is not None for d in draws) / len(draws)
    assert 0.17 < share < 0.23
    assert draws == [random_faults(0.2, seed=3)(f"prompt {i}", 0) for i in range(2000)]
    with pytest.raises(ValueError):
        random_faults(0.1, ("meteor",))


def test_prompt_text_joins_text_parts_only():
    messages = [
        {"role": "system", "content": "rules"},
        {"role": "user", "content": [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "data:"}}]},
    ]
    assert prompt_text(messages) == "rules\nlook"


def test_anthropic_shape_excludes_cache_reads_and_writes_from_input_tokens():
    script = ModelScript(answer="one two three", usage=(1200, 3), cached_tokens=1000, cache_write_tokens=50)
    with OpenAIServer({"claude": script}) as server:
        body = {"model": "claude", "system": [{"type": "text", "text": "rubric"}], "max_tokens": 2,
                "messages": [{"role": "user", "content": [{"type": "text", "text": "item"}]}]}
        response = httpx.post(f"{server.api_base('anthropic')}/v1/messages", json=body, timeout=5).json()
        assert server.log[0].prompt == "rubric\nitem"
    assert response["content"] == [{"type": "text", "text": "one two"}]
    assert response["stop_reason"] == "max_tokens"
    assert response["usage"] == {
        "input_tokens": 150, "cache_read_input_tokens": 1000, "cache_creation_input_tokens": 50, "output_tokens": 3
    }


def test_gemini_shape_model_in_url_cached_count_and_retry_info():
    script = ModelScript(answer="billing", usage=(1200, 1), cached_tokens=1000, faults=fail_first("rate_limit"),
                         retry_after_s=20)
    with OpenAIServer({"gemini-x": script}) as server:
        url = f"{server.api_base('gemini')}/models/gemini-x:generateContent"
        body = {"contents": [{"role": "user", "parts": [{"text": "item"}]}], "generationConfig": {"maxOutputTokens": 5}}
        limited = httpx.post(url, json=body, timeout=5)
        answered = httpx.post(url, json=body, timeout=5).json()
    assert limited.status_code == 429 and "retry-after" not in limited.headers
    assert limited.json()["error"]["details"][0]["retryDelay"] == "20s"
    assert answered["candidates"][0]["content"]["parts"] == [{"text": "billing"}]
    assert answered["candidates"][0]["finishReason"] == "STOP"
    assert answered["usageMetadata"]["promptTokenCount"] == 1200
    assert answered["usageMetadata"]["cachedContentTokenCount"] == 1000


# -- token log-probabilities: sent when asked, refused where the real service refuses them ---------


def test_logprobs_are_sent_only_when_asked_with_the_scripted_value_per_token():
    import math

    script = ModelScript(answer="two words", logprob=lambda prompt: math.log(0.5) if "half" in prompt else -0.1)
    with OpenAIServer({"m": script}) as server:
        asked = _post(server, "m", "half sure", logprobs=True).json()["choices"][0]
        plain = _post(server, "m", "half sure").json()["choices"][0]
        other = _post(server, "m", "fairly sure", logprobs=True).json()["choices"][0]
    assert [t["token"] for t in asked["logprobs"]["content"]] == ["two", "words"]
    assert [t["logprob"] for t in asked["logprobs"]["content"]] == [math.log(0.5)] * 2
    assert [t["logprob"] for t in other["logprobs"]["content"]] == [-0.1, -0.1]
    assert "logprobs" not in plain


def test_logprobs_are_refused_where_the_provider_refuses_them():
    with OpenAIServer({"gpt-5.2": ModelScript(), "m": ModelScript(), "claude-sonnet-4-5": ModelScript()}) as server:
        reasoning = _post(server, "gpt-5.2", "x", logprobs=True, max_completion_tokens=5)
        wrong_type = _post(server, "m", "x", logprobs="yes")
        anthropic = httpx.post(f"{server.api_base('anthropic')}/v1/messages", timeout=5, json={
            "model": "claude-sonnet-4-5", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "logprobs": True})
    assert reasoning.status_code == 400 and "'logprobs' is not supported" in reasoning.json()["error"]["message"]
    assert wrong_type.status_code == 400 and "boolean" in wrong_type.json()["error"]["message"]
    assert anthropic.status_code == 400 and "logprobs" in anthropic.text


def test_without_the_log_only_counts_are_kept_and_faults_still_see_attempts():
    scripts = {"plain": ModelScript(answer="ok"), "flaky": ModelScript(faults=fail_first("server_error"))}
    with OpenAIServer(scripts, keep_log=False) as server:
        for i in range(5):
            assert _post(server, "plain", f"item {i}").status_code == 200
        assert [_post(server, "flaky", "x").status_code for _ in range(2)] == [500, 200]
        assert server.log == []
        assert server.counts == {("plain", "ok"): 5, ("flaky", "server_error"): 1, ("flaky", "ok"): 1}
        # A fault-free model's prompts are not remembered: memory stays flat at a million requests.
        assert set(server._attempts) == {("flaky", "x")}


def test_first_and_last_stamps_are_kept_without_the_log():
    with OpenAIServer({"m": ModelScript(delay_ms=20)}, keep_log=False) as server:
        assert server.first_received_at is None
        _post(server, "m", "a")
        first, last = server.first_received_at, server.last_finished_at
        _post(server, "m", "b")
        assert server.first_received_at == first and server.last_finished_at > last >= first + 0.02
