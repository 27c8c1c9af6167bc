"""Key checks before any work, SDK errors translated, blocking calls abandoned at a deadline."""

import socket
import time

import httpx
import pytest

from distilleval.backends.tinker.connection import (
    SDK_ERROR_KINDS,
    call_with_deadline,
    connect,
    deadline_from_env,
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


@pytest.fixture
def no_tinker_credentials(monkeypatch, tmp_path):
    """No key, no credential command, and a home directory with no key stored by `tinker auth login`."""
    monkeypatch.delenv("TINKER_API_KEY", raising=False)
    monkeypatch.delenv("TINKER_CREDENTIAL_CMD", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def test_missing_credentials_say_every_way_to_give_one(no_tinker_credentials):
    with pytest.raises(ConfigurationError, match="no Tinker credential") as info:
        require_api_key()
    assert "TINKER_CREDENTIAL_CMD" in str(info.value) and "tinker auth login" in str(info.value)


def test_a_key_the_sdk_refuses_is_refused_without_echoing_it(no_tinker_credentials, monkeypatch):
    monkeypatch.setenv("TINKER_API_KEY", "sk-secret-123")
    with pytest.raises(ConfigurationError, match="does not accept it") as info:
        require_api_key()
    assert "sk-secret-123" not in str(info.value)


def test_good_key_is_returned(no_tinker_credentials, monkeypatch):
    monkeypatch.setenv("TINKER_API_KEY", "tml-abc")
    assert require_api_key() == "tml-abc"


def test_every_credential_the_sdk_resolves_is_accepted(no_tinker_credentials, monkeypatch):
    import base64
    import json
    import time

    # A JWT key (what TINKER_CREDENTIAL_CMD prints; also accepted in TINKER_API_KEY).
    claims = base64.urlsafe_b64encode(json.dumps({"exp": int(time.time()) + 3600}).encode()).decode().rstrip("=")
    monkeypatch.setenv("TINKER_API_KEY", f"eyJhbGciOiJIUzI1NiJ9.{claims}.c2ln")
    assert require_api_key().startswith("eyJ")
    monkeypatch.delenv("TINKER_API_KEY")
    # A credential command: the SDK runs it later; the check runs nothing.
    monkeypatch.setenv("TINKER_CREDENTIAL_CMD", "false")
    assert require_api_key() is None
    monkeypatch.delenv("TINKER_CREDENTIAL_CMD")
    # A key stored by `tinker auth login`, written with the SDK's own credential store.
    from tinker.lib import credentials

    store = credentials.JsonCredentialStore(credentials.default_credentials_path())
    store.add_key("laptop", credentials.ManualKey(key="tml-stored", name="laptop"))
    store.set_default("laptop")
    assert str(credentials.default_credentials_path()).startswith(str(no_tinker_credentials))
    assert require_api_key() is None  # the SDK finds the stored key itself


def test_connect_checks_the_key_before_building_a_client(no_tinker_credentials):
    built = []
    with pytest.raises(ConfigurationError):
        connect(service_factory=lambda: built.append(1))
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

    with pytest.raises(RateLimitedError, match="Tinker rate-limited the request while saving"):
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
        ("BillingError", 402, BackendError),
        ("ConflictError", 409, BackendError),
        ("UnprocessableEntityError", 422, BackendError),
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


def test_every_sdk_exception_class_has_a_translation(tinker):
    # like httpx's own test: a new exception class in the SDK must be mapped on purpose
    exported = {
        name for name in dir(tinker)
        if isinstance(getattr(tinker, name), type) and issubclass(getattr(tinker, name), Exception)
        and not issubclass(getattr(tinker, name), Warning)
    }
    assert exported == set(SDK_ERROR_KINDS)


def test_billing_402_says_what_to_do(tinker):
    error = tinker.BillingError("payment required", response=httpx.Response(402, request=_request()), body=None)
    translated = translate_error(error, "creating a LoRA training client for Qwen/Qwen3-8B")
    assert translated.kind == "billing" and not translated.retryable
    assert str(translated) == (
        "Tinker refused the request while creating a LoRA training client for Qwen/Qwen3-8B: billing is not set up "
        "or the balance is spent (HTTP 402: payment required); add a payment method or credit in the Tinker console, "
        "then run again"
    )


@pytest.mark.parametrize("category, kind, retryable", [("Server", "request_failed", True), ("User", "bad_request", False)])
def test_request_failed_error_is_translated_by_category(tinker, category, kind, retryable):
    error = tinker.RequestFailedError(
        "Request failed: worker lost", request_id="r1", category=tinker.types.RequestErrorCategory[category]
    )
    translated = translate_error(error, "training step 3/10")
    assert (translated.kind, translated.retryable) == (kind, retryable)
    assert "training step 3/10" in str(translated) and "worker lost" in str(translated)


def test_sdk_older_than_0_38_is_named_with_both_versions(tinker):
    with pytest.raises(ConfigurationError) as caught:
        import_tinker(version="0.36.1")
    assert str(caught.value) == (
        "tinker 0.36.1 is installed, but distilleval needs tinker>=0.38 (older SDKs return the client itself "
        "from create_* and have no result_async); upgrade with: pip install -U 'tinker>=0.38'"
    )
    assert import_tinker(version="0.38.0") is tinker


@pytest.mark.parametrize(
    "pause, error_type, message",
    [
        ("billing", BackendError,
         "Tinker paused the request for billing (HTTP 402) and had not resumed after 0.3 s while creating a client: "
         "set up billing or add credit in the Tinker console - nothing was trained"),
        ("capacity", ServiceUnavailableError,
         "Tinker queued the request for capacity (the service is short of it) and had not started it after 0.3 s "
         "while creating a client; try later or raise the deadline (--connect-deadline or "
         "DISTILLEVAL_TINKER_DEADLINE_S) to wait longer - nothing was trained"),
    ],
)
def test_pauses_the_sdk_reports_are_named_at_the_deadline(tinker, pause, error_type, message):
    from distilleval.testing.fake_tinker import FakeServiceClient

    service = FakeServiceClient(pause=(pause, 5.0))
    with pytest.raises(error_type) as caught:
        call_with_deadline(
            lambda: service.create_lora_training_client(base_model="Qwen/Qwen3-8B").result(),
            deadline_s=0.3,
            doing="creating a client",
        )
    assert type(caught.value) is error_type and str(caught.value) == message


def test_deadline_comes_from_the_environment_when_set():
    assert deadline_from_env(120.0, environ={}) == 120.0
    assert deadline_from_env(120.0, environ={"DISTILLEVAL_TINKER_DEADLINE_S": "900"}) == 900.0
    with pytest.raises(ConfigurationError, match="DISTILLEVAL_TINKER_DEADLINE_S: expected a positive number"):
        deadline_from_env(120.0, environ={"DISTILLEVAL_TINKER_DEADLINE_S": "soon"})
