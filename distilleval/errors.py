"""The one exception tree of distilleval.

::

    DistillevalError                  anything the user can fix; the CLI prints it on one line, exit 2
    ├── SpecError                     a task spec is invalid (file, line, field path)
    ├── PricingError                  a pricing table is invalid, or a model is missing from it
    ├── DataError                     a data file is invalid (file, line, field)
    ├── ConfigurationError            an environment problem: missing key, missing optional package
    │   └── MissingKeyError           a model's API key (or Tinker credential) is not set
    ├── RunDirectoryBusy              another distilleval process is writing the same run directory
    ├── BackendError                  a model call failed; carries ``kind`` for the run's error counts
    │   ├── RateLimitedError          429; ``retry_after_s`` when the server said so
    │   ├── CallTimeoutError          the call passed its deadline
    │   ├── AuthenticationError       401/403: retrying will not help
    │   └── ServiceUnavailableError   connection refused, DNS, 5xx
    └── ScoringError                  a scorer could not score an item

Third-party exceptions are translated to these in one place per backend; nothing above the
backends sees a LiteLLM, httpx or Tinker exception.
"""

from __future__ import annotations

from dataclasses import dataclass


class DistillevalError(Exception):
    """Base class: a problem the user can fix. The CLI prints ``str(err)`` and exits 2."""

    exit_code = 2


class SpecError(DistillevalError):
    """A task spec is invalid."""


class PricingError(DistillevalError):
    """A pricing table is invalid, or a model has no price in it."""


class DataError(DistillevalError):
    """A data file is unreadable or has a bad record."""


class ConfigurationError(DistillevalError):
    """The environment is not set up: an API key or an optional package is missing."""


class MissingKeyError(ConfigurationError):
    """A model's API key or credential is not set; ``eval`` adds how to go on without it."""


class RunDirectoryBusy(DistillevalError):
    """Another process holds the run directory's lock; two runs must not interleave their files."""


@dataclass(frozen=True)
class BilledUsage:
    """What the provider billed for a call that answered but left no usable answer.

    An answer lost to thinking (``thinking_exhausted``) or refused is paid for like any other:
    these counts and ``cost_usd`` (output tokens include the thinking, priced as output) are
    recorded on the failed call and counted in the run's spend.
    """

    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0


class BackendError(DistillevalError):
    """A model call failed.

    Attributes:
        kind: a short machine-readable error kind used in run summaries
            (``rate_limited``, ``timeout``, ``auth``, ``unavailable``, ``bad_response``, ``error``).
        retryable: whether trying the same call again can succeed.
        billed: what the provider billed for the failed call (None: nothing; a request that
            never got a 200 answer costs nothing).
    """

    kind = "error"
    retryable = False
    billed: BilledUsage | None = None

    def __init__(self, message: str, *, kind: str | None = None, retryable: bool | None = None):
        super().__init__(message)
        if kind is not None:
            self.kind = kind
        if retryable is not None:
            self.retryable = retryable


class RateLimitedError(BackendError):
    """The provider answered 429."""

    kind = "rate_limited"
    retryable = True

    def __init__(self, message: str, *, retry_after_s: float | None = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class CallTimeoutError(BackendError):
    """The call did not finish before its deadline."""

    kind = "timeout"
    retryable = True


class AuthenticationError(BackendError):
    """The provider refused the credentials."""

    kind = "auth"
    retryable = False


class ServiceUnavailableError(BackendError):
    """The provider could not be reached or answered 5xx."""

    kind = "unavailable"
    retryable = True


class ScoringError(DistillevalError):
    """A scorer failed on an item (recorded per item, never a crash of the run)."""


def missing_extra(package: str, extra: str) -> ConfigurationError:
    """Build the error for an optional dependency that is not installed."""
    return ConfigurationError(
        f"this needs the optional package {package!r}: pip install 'distilleval[{extra}]'"
    )
