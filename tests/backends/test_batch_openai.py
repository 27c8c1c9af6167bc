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
