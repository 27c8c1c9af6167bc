"""Reaching the Tinker service: key check, lazy SDK import, calls under a deadline.

Everything that can fail before a token is trained fails here, fast and in one line:

- ``TINKER_API_KEY`` must be set and start with ``tml-`` (checked before any other work);
- the ``tinker`` package must be installed (``pip install 'distilleval[tinker]'``);
- creating a client blocks for minutes when the service cannot be reached, whatever the
  SDK's own timeouts say, so each blocking call runs in a daemon worker thread and is
  abandoned at a deadline with a message saying what was being attempted.

Tinker's exceptions are translated to ``distilleval.errors`` here and nowhere else.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from distilleval.errors import (
    AuthenticationError,
    BackendError,
    CallTimeoutError,
    ConfigurationError,
    RateLimitedError,
    ServiceUnavailableError,
    missing_extra,
)

API_KEY_ENV = "TINKER_API_KEY"
API_KEY_PREFIX = "tml-"
DEFAULT_CONNECT_DEADLINE_S = 120.0

T = TypeVar("T")


def require_api_key(environ: Mapping[str, str] | None = None) -> str:
    """The Tinker API key from the environment.

    Raises:
        ConfigurationError: the key is missing or does not start with ``tml-``. The key
            itself is never part of the message.
    """
    env = os.environ if environ is None else environ
    key = env.get(API_KEY_ENV, "").strip()
    if not key:
        raise ConfigurationError(
            f"{API_KEY_ENV} is not set; create a key in the Tinker console and export {API_KEY_ENV}=tml-..."
        )
    if not key.startswith(API_KEY_PREFIX):
        raise ConfigurationError(
            f"{API_KEY_ENV} does not look like a Tinker key (Tinker keys start with {API_KEY_PREFIX!r}); "
            "check that the variable holds the Tinker key, not another provider's"
        )
    return key


def import_tinker() -> Any:
    """Import the ``tinker`` SDK.

    Raises:
        ConfigurationError: it is not installed.
    """
    try:
        import tinker
    except ImportError:
        raise missing_extra("tinker", "tinker") from None
    return tinker


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
    message = f"Tinker failed while {doing}: {detail}"
    try:
        import tinker
    except ImportError:  # not reachable in practice: only SDK calls get here
        tinker = None
    if tinker is not None:
        if isinstance(err, tinker.RateLimitError):
            return RateLimitedError(message)
        if isinstance(err, (tinker.AuthenticationError, tinker.PermissionDeniedError)):
            return AuthenticationError(f"Tinker refused the API key while {doing} ({detail})")
        if isinstance(err, tinker.APITimeoutError):
            return CallTimeoutError(message)
        if isinstance(err, (tinker.APIConnectionError, tinker.InternalServerError)):
            return ServiceUnavailableError(message)
        if isinstance(err, tinker.BillingError):
            return AuthenticationError(f"Tinker refused the request for billing reasons while {doing} ({detail})")
        if isinstance(err, tinker.NotFoundError):
            # e.g. a tinker:// path that does not exist: no retry will find it
            return BackendError(message, kind="not_found", retryable=False)
        if isinstance(err, tinker.APIStatusError):
            return BackendError(message, kind="bad_request" if 400 <= err.status_code < 500 else "error")
    if isinstance(err, TimeoutError):
        return CallTimeoutError(message)
    if isinstance(err, (ConnectionError, OSError)):
        return ServiceUnavailableError(message)
    return BackendError(message)


def call_with_deadline(fn: Callable[[], T], *, deadline_s: float, doing: str) -> T:
    """Run a blocking SDK call in a daemon thread and give up on it at ``deadline_s``.

    A daemon thread is used (not an executor, whose threads keep the interpreter alive), so
    an abandoned call cannot stop the process from exiting.

    Raises:
        ServiceUnavailableError: the call did not return in time.
        BackendError: the call raised; translated with ``translate_error``.
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as err:  # noqa: BLE001 - handed back to the caller's thread
            outcome["error"] = err

    worker = threading.Thread(target=target, name=f"tinker: {doing}", daemon=True)
    worker.start()
    worker.join(deadline_s)
    if worker.is_alive():
        raise ServiceUnavailableError(
            f"Tinker did not answer within {deadline_s:g} s while {doing}; the service may be "
            "unreachable from here (check the network and TINKER_BASE_URL) - nothing was trained"
        )
    if "error" in outcome:
        raise translate_error(outcome["error"], doing) from None
    return outcome["value"]


def rest_client(service: Any) -> Any:
    """The REST client (listings, capabilities) that goes with ``service``.

    For the real SDK this is a ``tinker.RestClient`` built from the same key (0.38 deprecates
    ``ServiceClient.create_rest_client``); a test double supplies its own.
    """
    tinker = import_tinker()
    if isinstance(service, tinker.ServiceClient):
        return tinker.RestClient(api_key=require_api_key())
    return service.create_rest_client()


def connect(
    *,
    service_factory: Callable[[], Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Any:
    """Check the key, then build a ``tinker.ServiceClient`` (or the injected test double).

    Args:
        service_factory: builds the service client; default ``tinker.ServiceClient(api_key=...)``.
        environ: where to read ``TINKER_API_KEY`` (default ``os.environ``).

    Raises:
        ConfigurationError: missing/malformed key, or tinker not installed.
    """
    key = require_api_key(environ)
    if service_factory is not None:
        return service_factory()
    tinker = import_tinker()
    return tinker.ServiceClient(api_key=key)
