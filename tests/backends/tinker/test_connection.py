"""Key checks before any work, SDK errors translated, blocking calls abandoned at a deadline."""

import socket
import time

import httpx
import pytest

from distilleval.backends.tinker.connection import (
    call_with_deadline,
    connect,
    import_tinker,
    require_api_key,
    translate_error,
)
from distilleval.errors import (
    AuthenticationError,
    BackendError,
    ConfigurationError,
    RateLimitedError,
    ServiceUnavailableError,
)


@pytest.fixture
def tinker():
    return pytest.importorskip("tinker")


def test_missing_sdk_names_the_extra(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "tinker", None)  # makes `import tinker` fail
    with pytest.raises(ConfigurationError, match=r"pip install 'distilleval\[tinker\]'"):
        import_tinker()


def test_missing_key_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="TINKER_API_KEY is not set"):
        require_api_key({})


def test_key_without_tml_prefix_is_refused_without_echoing_it():
    with pytest.raises(ConfigurationError, match="start with 'tml-'") as info:
        require_api_key({"TINKER_API_KEY": "sk-secret-123"})
    assert "sk-secret-123" not in str(info.value)


def test_good_key_is_returned():
    assert require_api_key({"TINKER_API_KEY": " tml-abc "}) == "tml-abc"


def test_connect_checks_the_key_before_building_a_client():
    built = []
    with pytest.raises(ConfigurationError):
        connect(service_factory=lambda: built.append(1), environ={})
    assert built == []


def test_deadline_abandons_a_blocked_call_quickly():
    started = time.perf_counter()
    with pytest.raises(ServiceUnavailableError, match=r"did not answer within 0.2 s while creating the training client"):
        call_with_deadline(lambda: time.sleep(30), deadline_s=0.2, doing="creating the training client")
    assert time.perf_counter() - started < 2


def test_deadline_returns_value_and_translates_errors(tinker):
    assert call_with_deadline(lambda: 42, deadline_s=5, doing="x") == 42
    request = httpx.Request("POST", "https://tinker.test")
    limited = tinker.RateLimitError("slow down", response=httpx.Response(429, request=request), body=None)

    def raise_limited():
        raise limited

    with pytest.raises(RateLimitedError, match="Tinker failed while saving"):
        call_with_deadline(raise_limited, deadline_s=5, doing="saving")


def _request():
    return httpx.Request("GET", "https://tinker.test")


@pytest.mark.parametrize(
    "name, status, expected",
    [
        ("AuthenticationError", 401, AuthenticationError),
        ("PermissionDeniedError", 403, AuthenticationError),
        ("RateLimitError", 429, RateLimitedError),
        ("InternalServerError", 500, ServiceUnavailableError),
        ("BadRequestError", 400, BackendError),
        ("NotFoundError", 404, BackendError),
        ("BillingError", 402, AuthenticationError),
        ("APIConnectionError", None, ServiceUnavailableError),
    ],
)
def test_sdk_errors_map_to_our_tree(tinker, name, status, expected):
    cls = getattr(tinker, name)
    error = cls(request=_request()) if status is None else cls("x", response=httpx.Response(status, request=_request()), body=None)
    translated = translate_error(error, "doing it")
    assert type(translated) is expected
    assert "doing it" in str(translated)
    if name == "NotFoundError":
        assert translated.kind == "not_found" and not translated.retryable


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_real_sdk_against_an_unreachable_service_stops_at_the_deadline(tinker):
    # The real ServiceClient keeps retrying a refused connection for minutes; the deadline
    # turns that into a prompt, clear error.
    service = tinker.ServiceClient(api_key="tml-test", base_url=f"http://127.0.0.1:{_closed_port()}")
    started = time.perf_counter()
    with pytest.raises(ServiceUnavailableError, match="did not answer within 1 s"):
        call_with_deadline(
            lambda: service.create_lora_training_client(base_model="Qwen/Qwen3-8B", rank=8).result(),
            deadline_s=1.0,
            doing="creating a LoRA training client",
        )
    assert time.perf_counter() - started < 3
