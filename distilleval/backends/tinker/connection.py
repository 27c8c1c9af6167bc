"""Reaching the Tinker service: key check, lazy SDK import, calls under a deadline.

Everything that can fail before a token is trained fails here, fast and in one line:

- a Tinker credential must be there, as the SDK itself resolves it (``TINKER_API_KEY``, a JWT,
  ``TINKER_CREDENTIAL_CMD`` or ``tinker auth login``; checked before any other work);
- the ``tinker`` package must be installed, at version 0.38 or newer (older SDKs return the
  client itself from ``create_*`` and have no ``result_async``; the message names the
  installed and the required versions);
- creating a client blocks for minutes when the service cannot be reached, and the SDK
  itself waits up to an hour while billing is not set up (402) or queues while the service
  is short of capacity, whatever its own timeouts say; so each blocking call runs in a daemon
  worker thread and is abandoned at a deadline, and the message says what the SDK reported
  meanwhile (billing pause, capacity or rate-limit queue) instead of guessing "unreachable".

Tinker's exceptions are translated to ``distilleval.errors`` here and nowhere else
(``translate_error``; ``SDK_ERROR_KINDS`` names the kind each SDK class becomes).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from distilleval.errors import (
    AuthenticationError,
    BackendError,
    CallTimeoutError,
    ConfigurationError,
    DistillevalError,
    MissingKeyError,
    RateLimitedError,
    ServiceUnavailableError,
    missing_extra,
)

API_KEY_ENV = "TINKER_API_KEY"
API_KEY_PREFIX = "tml-"
DEFAULT_CONNECT_DEADLINE_S = 120.0
MIN_SDK_VERSION = (0, 38)
DEADLINE_ENV = "DISTILLEVAL_TINKER_DEADLINE_S"

# Every exception class the tinker SDK exports, most specific first, and the kind of
# distilleval error it becomes. A test fails when the SDK grows a class missing here.
SDK_ERROR_KINDS: dict[str, str] = {
    "BillingError": "billing",
    "RateLimitError": "rate_limited",
    "AuthenticationError": "auth",
    "PermissionDeniedError": "auth",
    "NotFoundError": "not_found",
    "ConflictError": "conflict",
    "BadRequestError": "bad_request",
    "UnprocessableEntityError": "bad_request",
    "InternalServerError": "unavailable",
    "APITimeoutError": "timeout",
    "APIConnectionError": "unavailable",
    "APIResponseValidationError": "bad_response",
    "APIStatusError": "error",
    "RequestFailedError": "request_failed",
    "APIError": "error",
    "TinkerError": "error",
}

T = TypeVar("T")


def require_api_key() -> str | None:
    """Check, before any other work, that the Tinker SDK can find a credential, exactly as it will.

    The SDK's own resolution decides (``tinker.auth.tinker_has_credentials``, a local check that
    runs no command): ``TINKER_API_KEY`` (a ``tml-`` key or a JWT), ``TINKER_CREDENTIAL_CMD``,
    or the key ``tinker auth login`` stored. distilleval adds no rule of its own.

    Returns:
        ``TINKER_API_KEY`` when set (handed to the clients), else None: the SDK resolves the
        credential command or the stored key itself.

    Raises:
        ConfigurationError: a key the SDK does not accept (``MissingKeyError``: none at all). The key itself
            is never part of the message.
    """
    tinker_auth = _import_tinker_auth()
    key = os.environ.get(API_KEY_ENV, "").strip()
    if tinker_auth.tinker_has_credentials():
        return key or None
    if key:
        raise ConfigurationError(
            f"{API_KEY_ENV} is set, but the Tinker SDK does not accept it as a Tinker credential (a tml- key or a JWT); "
            "check that the variable holds the Tinker key, not another provider's"
        )
    raise MissingKeyError(
        f"no Tinker credential: export {API_KEY_ENV}=tml-... (a key from the Tinker console), "
        "set TINKER_CREDENTIAL_CMD, or run 'tinker auth login'"
    )


def _import_tinker_auth() -> Any:
    import_tinker()  # the version check first: tinker.auth is 0.38's
    import tinker.auth as tinker_auth

    return tinker_auth


def installed_sdk_version() -> str:
    """The installed ``tinker`` version, as its package metadata gives it."""
    from importlib import metadata

    try:
        return metadata.version("tinker")
    except metadata.PackageNotFoundError:
        import tinker

        return str(getattr(tinker, "__version__", "unknown"))


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def old_sdk_error(installed: str) -> ConfigurationError:
    """The error for an SDK older than distilleval needs, naming both versions."""
    required = ".".join(map(str, MIN_SDK_VERSION))
    return ConfigurationError(
        f"tinker {installed} is installed, but distilleval needs tinker>={required} "
        f"(older SDKs return the client itself from create_* and have no result_async); "
        f"upgrade with: pip install -U 'tinker>={required}'"
    )


def import_tinker(*, version: str | None = None) -> Any:
    """Import the ``tinker`` SDK and check its version.

    Args:
        version: the installed version to check (default: read from package metadata).

    Raises:
        ConfigurationError: it is not installed, or older than 0.38.
    """
    try:
        import tinker
    except ImportError:
        raise missing_extra("tinker", "tinker") from None
    installed = version or installed_sdk_version()
    if _version_tuple(installed) < MIN_SDK_VERSION:
        raise old_sdk_error(installed)
    return tinker


def resolved(answer: Any, doing: str) -> Any:
    """The value of a ``create_*`` answer: a future's result on tinker>=0.38.

    An older SDK returns the client itself; that is reported as the version problem it is,
    not as an ``AttributeError`` deep in a call.
    """
    if not hasattr(answer, "result"):
        required = ".".join(map(str, MIN_SDK_VERSION))
        raise ConfigurationError(
            f"{doing} returned a {type(answer).__name__} where tinker>={required} returns a future: the SDK in use "
            f"behaves like one older than {required} (installed: tinker {installed_sdk_version()}); "
            f"upgrade with: pip install -U 'tinker>={required}'"
        )
    return answer.result()


def _status(err: BaseException) -> str:
    code = getattr(err, "status_code", None)
    return f"HTTP {code}: " if code else ""


def translate_error(err: BaseException, doing: str) -> BackendError:
    """Map an exception raised by the Tinker SDK to distilleval's tree.

    Args:
        err: what the SDK raised.
        doing: what was being attempted, for the message ("creating the training client").
    """
    if isinstance(err, BackendError):
        return err
    name = type(err).__name__
    detail = str(err).splitlines()[0][:200] if str(err) else name
    message = f"Tinker failed while {doing}: {_status(err)}{detail}"
    try:
        import tinker
    except ImportError:  # not reachable in practice: only SDK calls get here
        sdk_error = False
    else:
        sdk_error = isinstance(err, tinker.TinkerError)
    if sdk_error:
        kind = next(k for cls_name, k in SDK_ERROR_KINDS.items() if isinstance(err, getattr(tinker, cls_name)))
        if kind == "billing":
            return BackendError(
                f"Tinker refused the request while {doing}: billing is not set up or the balance is spent "
                f"(HTTP 402: {detail}); add a payment method or credit in the Tinker console, then run again",
                kind="billing",
                retryable=False,
            )
        if kind == "rate_limited":
            return RateLimitedError(f"Tinker rate-limited the request while {doing} (HTTP 429: {detail})")
        if kind == "auth":
            return AuthenticationError(f"Tinker refused the API key while {doing} ({_status(err)}{detail})")
        if kind == "timeout":
            return CallTimeoutError(message)
        if kind == "unavailable":
            return ServiceUnavailableError(message)
        if kind == "request_failed":
            category = str(getattr(err, "category", "unknown")).lower()
            if category.endswith("user"):
                return BackendError(f"Tinker rejected the request while {doing}: {detail}", kind="bad_request",
                                    retryable=False)
            # A server-side failure: the request may succeed again, possibly on a new client.
            return BackendError(f"Tinker failed the request while {doing} (server side): {detail}",
                                kind="request_failed", retryable=True)
        return BackendError(message, kind=kind, retryable=False if kind != "error" else None)
    if isinstance(err, TimeoutError):
        return CallTimeoutError(message)
    if isinstance(err, (ConnectionError, OSError)):
        return ServiceUnavailableError(message)
    return BackendError(message)


class _PauseWatcher(logging.Handler):
    """Remembers the last pause the SDK logged (billing, capacity, rate limit) during a call."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.pause: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if "paused due to billing" in text:
            self.pause = "billing"
        elif "short on capacity" in text:
            self.pause = "capacity"
        elif "rate limit" in text and "paused" in text:
            self.pause = "rate_limit"


def deadline_from_env(default: float = DEFAULT_CONNECT_DEADLINE_S, environ: Mapping[str, str] | None = None) -> float:
    """The connect deadline: ``DISTILLEVAL_TINKER_DEADLINE_S`` when set, else ``default``.

    Raises:
        ConfigurationError: the variable is not a positive number.
    """
    raw = (os.environ if environ is None else environ).get(DEADLINE_ENV, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ConfigurationError(f"{DEADLINE_ENV}: expected a positive number of seconds, found {raw!r}")
    return value


def _waited_too_long(deadline_s: float, doing: str, pause: str | None) -> BackendError:
    advice = f"raise the deadline (--connect-deadline or {DEADLINE_ENV}) to wait longer"
    if pause == "billing":
        return BackendError(
            f"Tinker paused the request for billing (HTTP 402) and had not resumed after {deadline_s:g} s while "
            f"{doing}: set up billing or add credit in the Tinker console - nothing was trained",
            kind="billing",
            retryable=False,
        )
    if pause == "capacity":
        return ServiceUnavailableError(
            f"Tinker queued the request for capacity (the service is short of it) and had not started it after "
            f"{deadline_s:g} s while {doing}; try later or {advice} - nothing was trained"
        )
    if pause == "rate_limit":
        return RateLimitedError(
            f"Tinker queued the request behind its rate limit (too many concurrent clients) for {deadline_s:g} s "
            f"while {doing}; close other runs or {advice} - nothing was trained"
        )
    return ServiceUnavailableError(
        f"Tinker did not answer within {deadline_s:g} s while {doing}; the service may be unreachable from here "
        "(check the network and TINKER_BASE_URL) - nothing was trained"
    )


def call_with_deadline(fn: Callable[[], T], *, deadline_s: float, doing: str) -> T:
    """Run a blocking SDK call in a daemon thread and give up on it at ``deadline_s``.

    A daemon thread is used (not an executor, whose threads keep the interpreter alive), so
    an abandoned call cannot stop the process from exiting.

    While it waits, the SDK's own log warnings are watched: a billing pause, a capacity queue
    or a rate-limit queue it reported is named in the error when the deadline passes.

    Raises:
        ServiceUnavailableError / RateLimitedError / BackendError(kind="billing"): the call
            did not return in time (which one depends on what the SDK reported).
        BackendError: the call raised; translated with ``translate_error``.
    """
    outcome: dict[str, Any] = {}
    watcher = _PauseWatcher()
    sdk_logger = logging.getLogger("tinker")

    def target() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as err:  # noqa: BLE001 - handed back to the caller's thread
            outcome["error"] = err

    worker = threading.Thread(target=target, name=f"tinker: {doing}", daemon=True)
    sdk_logger.addHandler(watcher)
    try:
        worker.start()
        worker.join(deadline_s)
    finally:
        sdk_logger.removeHandler(watcher)
    if worker.is_alive():
        raise _waited_too_long(deadline_s, doing, watcher.pause)
    if "error" in outcome:
        if isinstance(outcome["error"], DistillevalError):  # already ours (e.g. the SDK version check)
            raise outcome["error"]
        raise translate_error(outcome["error"], doing) from None
    return outcome["value"]


def rest_client(service: Any) -> Any:
    """The REST client (listings, capabilities) that goes with ``service``.

    For the real SDK this is a ``tinker.RestClient`` built from the same key (0.38 deprecates
    ``ServiceClient.create_rest_client``); a test double supplies its own.
    """
    if type(service).__module__.split(".")[0] == "tinker":  # the SDK's own ServiceClient
        return import_tinker().RestClient(api_key=require_api_key())
    return service.create_rest_client()


def connect(*, service_factory: Callable[[], Any] | None = None) -> Any:
    """Check the credential (``require_api_key``), then build a ``tinker.ServiceClient`` (or the injected test double).

    Args:
        service_factory: builds the service client; default ``tinker.ServiceClient(api_key=...)``
            (``api_key=None`` lets the SDK use the credential command or the stored key).

    Raises:
        ConfigurationError: no credential the SDK accepts, or tinker not installed.
    """
    key = require_api_key()
    if service_factory is not None:
        return service_factory()
    tinker = import_tinker()
    return tinker.ServiceClient(api_key=key)
