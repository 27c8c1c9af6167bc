"""Anthropic's Message Batches shape: requests built from the online path's messages, results read back."""

from distilleval.backends.base import ChatRequest
from distilleval.backends.batch_anthropic import AnthropicBatchClient, anthropic_params


def test_system_messages_are_lifted_and_images_become_image_blocks():
    request = ChatRequest(
        messages=(
            {"role": "system", "content": "the rubric"},
            {"role": "user", "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            ]},
        ),
        max_tokens=5,
        stop=("\n",),
    )
    params = anthropic_params("claude-opus-4-6", request)
    assert params["system"] == "the rubric"
    assert params["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
    ]}]
    assert (params["max_tokens"], params["stop_sequences"], "temperature" in params) == (5, ["\n"], False)  # SDK 2.17: no temperature


def test_the_request_names_the_model_without_its_provider_prefix():
    client = AnthropicBatchClient("anthropic/claude-opus-4-6", api_base=None, api_key=None)
    line = client.request_line("c0-1", ChatRequest(messages=({"role": "user", "content": "hi"},)))
    assert line["custom_id"] == "c0-1" and line["params"]["model"] == "claude-opus-4-6"
    assert client.batches_url == "https://api.anthropic.com/v1/messages/batches"


def test_results_read_usage_with_cache_tokens_errors_and_expiry():
    client = AnthropicBatchClient("anthropic/m", api_base="http://127.0.0.1:1/v1", api_key=None)
    assert client.batches_url == "http://127.0.0.1:1/v1/messages/batches"
    ok = client._outcome({"custom_id": "a", "result": {"type": "succeeded", "message": {
        "content": [{"type": "text", "text": "billing"}], "stop_reason": "max_tokens",
        "usage": {"input_tokens": 10, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 5, "output_tokens": 2},
    }}})
    completion = ok.completion
    # Anthropic's input_tokens excludes cache reads and writes; ours includes them
    assert (completion.input_tokens, completion.cached_input_tokens, completion.cache_write_tokens) == (115, 100, 5)
    assert (completion.text, completion.finish_reason, completion.latency_ms) == ("billing", "length", None)
    errored = client._outcome({"custom_id": "b", "result": {"type": "errored", "error": {
        "type": "error", "error": {"type": "overloaded_error", "message": "busy"}}}})
    assert errored.error.kind == "unavailable" and "busy" in str(errored.error)
    assert client._outcome({"custom_id": "c", "result": {"type": "expired"}}).error.kind == "expired"
    assert client._outcome({"custom_id": "d", "result": {"type": "canceled"}}).error.kind == "canceled"


def test_a_long_rubric_is_marked_cacheable_as_online_and_a_short_one_is_not():
    """Batches read and write Anthropic's prompt cache too: the rubric gets the same marker the
    online path gives it (only past the model's minimum cacheable length)."""
    long_rubric = "Route the ticket carefully to the right team. " * 600  # well over 1,024 tokens
    request = ChatRequest(messages=({"role": "system", "content": long_rubric}, {"role": "user", "content": "t1"}))
    client = AnthropicBatchClient("anthropic/claude-sonnet-4-5", api_base=None, api_key=None)
    system = client.request_line("c0-0", request)["params"]["system"]
    assert system == [{"type": "text", "text": long_rubric, "cache_control": {"type": "ephemeral"}}]
    short = ChatRequest(messages=({"role": "system", "content": "short rubric"}, {"role": "user", "content": "t1"}))
    assert client.request_line("c0-1", short)["params"]["system"] == "short rubric"
    off = AnthropicBatchClient("anthropic/claude-sonnet-4-5", api_base=None, api_key=None, prompt_cache="off")
    assert off.request_line("c0-2", request)["params"]["system"] == long_rubric


def test_a_refusal_or_an_answer_with_no_text_is_an_error_not_an_empty_answer():
    client = AnthropicBatchClient("anthropic/claude-opus-4-6", api_base=None, api_key=None)

    def line(stop_reason, content):
        return {"custom_id": "a", "result": {"type": "succeeded", "message": {
            "content": content, "stop_reason": stop_reason, "usage": {"input_tokens": 5, "output_tokens": 0}}}}

    assert client._outcome(line("refusal", [])).error.kind == "refusal"
    assert client._outcome(line("end_turn", [])).error.kind == "empty_answer"
    credit = client._outcome({"custom_id": "b", "result": {"type": "errored", "error": {"type": "error", "error": {
        "type": "invalid_request_error", "message": "Your credit balance is too low to access the Anthropic API."}}}})
    assert credit.error.kind == "quota"
