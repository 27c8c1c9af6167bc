"""OpenAI's Batch API shape: each line's body is the online path's chat body; results read back."""

from distilleval.backends._http import chat_body
from distilleval.backends.base import ChatRequest
from distilleval.backends.batch_openai import OpenAIBatchClient


def test_a_request_line_carries_the_same_chat_body_as_the_online_path():
    client = OpenAIBatchClient("openai/gpt-4.1-mini", api_base=None, api_key="k")
    request = ChatRequest(messages=({"role": "user", "content": "hi"},), max_tokens=7, stop=("x",))
    line = client.request_line("c0-0", request)
    assert line == {"custom_id": "c0-0", "method": "POST", "url": "/v1/chat/completions",
                    "body": chat_body("gpt-4.1-mini", request)}
    assert client.api_base == "https://api.openai.com/v1"


def test_results_read_usage_errors_and_expiry():
    client = OpenAIBatchClient("openai/m", api_base="http://127.0.0.1:1/v1/", api_key=None)
    ok = client._outcome({"custom_id": "a", "error": None, "response": {"status_code": 200, "body": {
        "choices": [{"message": {"content": "billing"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": 32}},
    }}})
    assert (ok.completion.text, ok.completion.input_tokens, ok.completion.cached_input_tokens) == ("billing", 50, 32)
    assert ok.completion.latency_ms is None
    refused = client._outcome({"custom_id": "b", "error": None, "response": {"status_code": 429, "body": {
        "error": {"message": "slow down", "code": "rate_limit_exceeded"}}}})
    assert refused.error.kind == "rate_limited" and "slow down" in str(refused.error)
    expired = client._outcome({"custom_id": "c", "response": None, "error": {"code": "batch_expired", "message": "late"}})
    assert expired.error.kind == "expired"


def _drive(server, model_id, requests):
    """Submit ``requests`` through the client to the batch double, poll until it ends, return (status, outcomes)."""
    import asyncio
    import json
    import tempfile
    from pathlib import Path

    client = OpenAIBatchClient(model_id, api_base=server.openai_base, api_key=None)

    async def go():
        try:
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "requests.jsonl"
                path.write_text("".join(json.dumps(client.request_line(f"c{i}", r)) + "\n" for i, r in enumerate(requests)))
                batch_id = await client.submit(path, job_token="t")
            status = await client.status(batch_id)
            while not status.ended:
                status = await client.status(batch_id)
            return status, [outcome async for outcome in client.results(batch_id)]
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_a_batch_that_failed_as_a_whole_gives_its_reason_to_every_request():
    from distilleval.testing.batch_servers import BatchServer

    reasons = [{"code": "token_limit_exceeded", "message": "Enqueued token limit reached for gpt-5.2.", "line": None},
               {"code": "invalid_value", "message": "bad image url", "line": 2}]
    requests = [ChatRequest(messages=({"role": "user", "content": f"t{i}"},), max_tokens=8) for i in range(3)]
    with BatchServer(polls_to_finish=0, fail_batch=reasons) as server:
        status, outcomes = _drive(server, "openai/gpt-5.2", requests)
    assert status.state == "failed"
    assert [o.custom_id for o in outcomes] == ["c0", "c1", "c2"]
    assert {o.error.kind for o in outcomes} == {"batch_failed"}
    assert "token_limit_exceeded" in str(outcomes[0].error) and "Enqueued token limit" in str(outcomes[2].error)
    assert "invalid_value: bad image url" in str(outcomes[1].error)  # the entry naming its line


def test_batch_lines_for_the_gpt5_family_are_taken_by_the_strict_double():
    from distilleval.testing.batch_servers import BatchServer

    requests = [ChatRequest(messages=({"role": "user", "content": f"t{i}"},), max_tokens=8) for i in range(2)]
    with BatchServer(polls_to_finish=0, answer=lambda prompt: "billing") as server:
        for model in ("openai/gpt-5.2", "openai/gpt-5-mini", "openai/gpt-5.5"):
            _, outcomes = _drive(server, model, requests)
            assert [o.completion.text for o in outcomes] == ["billing", "billing"], (model, outcomes)


def test_a_batch_line_the_model_refuses_is_an_error_with_the_services_reason():
    from distilleval.testing.batch_servers import BatchServer

    line = {"custom_id": "c0", "body": {"model": "gpt-5-mini", "messages": [{"role": "user", "content": "x"}],
                                        "max_tokens": 8, "temperature": 0.0}}
    with BatchServer(polls_to_finish=0) as server:
        import asyncio
        import json
        import tempfile
        from pathlib import Path

        client = OpenAIBatchClient("openai/gpt-5-mini", api_base=server.openai_base, api_key=None)

        async def go():
            try:
                with tempfile.TemporaryDirectory() as folder:
                    path = Path(folder) / "r.jsonl"
                    path.write_text(json.dumps(line | {"method": "POST", "url": "/v1/chat/completions"}) + "\n")
                    batch_id = await client.submit(path, job_token="t")
                while not (await client.status(batch_id)).ended:
                    pass
                return [outcome async for outcome in client.results(batch_id)]
            finally:
                await client.aclose()

        outcomes = asyncio.run(go())
    assert outcomes[0].error.kind == "bad_request" and "max_completion_tokens" in str(outcomes[0].error)


def test_refusals_and_null_content_in_batch_results_are_errors_never_answers():
    client = OpenAIBatchClient("openai/m", api_base=None, api_key=None)
    def line(message):
        return {"custom_id": "a", "error": None, "response": {"status_code": 200, "body": {
            "choices": [{"message": message, "finish_reason": "stop"}], "usage": {"prompt_tokens": 5, "completion_tokens": 1}}}}
    refused = client._outcome(line({"content": None, "refusal": "I can't help with that."}))
    empty = client._outcome(line({"content": None}))
    assert (refused.completion, refused.error.kind) == (None, "refusal")
    assert (empty.completion, empty.error.kind) == (None, "empty_answer")
    quota = client._outcome({"custom_id": "q", "response": {"status_code": 429, "body": {"error": {
        "code": "insufficient_quota", "message": "You exceeded your current quota"}}}, "error": None})
    assert quota.error.kind == "quota" and not quota.error.retryable
