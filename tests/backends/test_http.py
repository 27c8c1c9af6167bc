"""Usage blocks, finish reasons and retry delays read the same way for every provider (backends/_http.py)."""

import pytest

from distilleval.backends._http import Usage, normalise_finish_reason, read_usage, retry_delay_seconds


def test_openai_usage_with_cached_tokens():
    usage = {"prompt_tokens": 1200, "completion_tokens": 3, "prompt_tokens_details": {"cached_tokens": 1024}}
    assert read_usage(usage) == Usage(1200, 3, 1024, 0)


def test_raw_anthropic_shape_is_normalised_to_include_cache_reads_and_writes():
    # Anthropic's input_tokens leaves out cache reads and writes; distilleval's includes them.
    usage = {"prompt_tokens": 150, "completion_tokens": 2, "cache_read_input_tokens": 1000, "cache_creation_input_tokens": 50}
    assert read_usage(usage) == Usage(1200, 2, 1000, 50)


def test_usage_already_including_the_cache_is_not_counted_twice():
    usage = {"prompt_tokens": 1200, "completion_tokens": 2, "cache_read_input_tokens": 1000, "cache_creation_input_tokens": 50}
    assert read_usage(usage) == Usage(1200, 2, 1000, 50)


def test_missing_usage_is_zero():
    assert read_usage(None) == Usage(0, 0, 0, 0)
    assert read_usage({"prompt_tokens": None, "completion_tokens": 4}) == Usage(0, 4, 0, 0)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("stop", "stop"), ("end_turn", "stop"), ("STOP", "stop"), ("stop_sequence", "stop"),
        ("length", "length"), ("max_tokens", "length"), ("MAX_TOKENS", "length"),
        ("content_filter", "content_filter"), ("SAFETY", "content_filter"),
        ("tool_use", "tool_calls"), ("tool_calls", "tool_calls"),
        ("OTHER", "other"), (None, None), ("", None),
    ],
)
def test_finish_reasons_of_every_provider(raw, expected):
    assert normalise_finish_reason(raw) == expected


def test_retry_delay_from_a_google_retry_info_body():
    body = '{"error": {"code": 429, "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "20s"}]}}'
    assert retry_delay_seconds(body) == 20
    assert retry_delay_seconds(body.replace("20s", "1.5s").encode()) == 1.5
    assert retry_delay_seconds(body.replace("20s", "9999s")) == 600  # capped like Retry-After
    assert retry_delay_seconds('{"error": {"code": 429}}') is None
    assert retry_delay_seconds(None) is None


def test_served_model_names_the_version_and_its_fingerprint():
    from distilleval.backends._http import served_model

    assert served_model("gpt-4.1-2025-04-14", "fp_44709d6fcb") == "gpt-4.1-2025-04-14 (fp_44709d6fcb)"
    assert served_model("gpt-4.1-2025-04-14", None) == "gpt-4.1-2025-04-14"
    assert served_model(None, "fp_1") is None and served_model("", None) is None
