"""Build the backend for a model role of a spec.

- ``tinker://...`` checkpoints and Tinker base-model ids go to ``distilleval.backends.tinker.sampling.build_tinker_backend``
  (imported only then),
- models with ``fast_path: true`` and an ``api_base`` go to the aiohttp fast path,
- everything else goes through LiteLLM, in this process or in worker processes (``litellm_pool``):
  ``$DISTILLEVAL_LITELLM_WORKERS`` decides when set; otherwise a run large and concurrent enough
  for LiteLLM's own CPU work to limit it gets one worker per core (see ``litellm_workers``).

API keys are read from the environment here (``api_key_env`` or the provider's variable)
and live only in the backend object. ``check_reachable`` fails fast, before any item is
called, when a custom ``api_base`` refuses connections.
"""

from __future__ import annotations

import os
import socket
from typing import Any
from urllib.parse import urlsplit

from distilleval.backends.base import Backend
from distilleval.backends.credentials import resolve_api_key
from distilleval.backends.request_checks import check_model_settings
from distilleval.backends.tinker.model_ids import is_tinker_model
from distilleval.costs.pricing import PricingTable
from distilleval.errors import ConfigurationError, ServiceUnavailableError
from distilleval.spec.task_spec import ModelSpec

WORKERS_VARIABLE = "DISTILLEVAL_LITELLM_WORKERS"

# Below these a run does not repay the workers' LiteLLM imports (seconds each): at concurrency 64
# bench/bench_runner.py measured 2,000 calls 1.75x faster with 2 workers than in process on an idle
# 2-core machine, while a 40-call eval was slower with them.
AUTO_WORKERS_MIN_CALLS = 1000
AUTO_WORKERS_MIN_CONCURRENCY = 16
AUTO_WORKERS_MAX = 4


def build_backend(
    role: str, model: ModelSpec, *, pricing: PricingTable | None, calls: int = 0, concurrency: int = 1
) -> Backend:
    """The backend that calls ``model`` for ``role``.

    Args:
        role: ``teacher`` / ``student`` (for messages).
        model: the role's spec.
        pricing: the pricing table; None records every cost as $0 (tests, offline tools).
        calls: how many calls the run will make to this model (0 when unknown); with
            ``concurrency`` it decides whether the LiteLLM route runs in worker processes.
        concurrency: calls in flight.

    Returns:
        An object implementing ``distilleval.backends.base.Backend``.

    Raises:
        PricingError: the model has no price in the table (before any call is made).
        ConfigurationError: the API key variable is not set, or Tinker support is missing.
    """
    check_model_settings(role, model)
    price = pricing.price_for(pricing.key_for(model)) if pricing is not None else None
    if is_tinker_model(model.model):
        try:
            from distilleval.backends.tinker.sampling import build_tinker_backend
        except ImportError as err:
            raise ConfigurationError(
                f"{role} model {model.model!r} needs Tinker support (distilleval.backends.tinker.sampling): {err}"
            ) from None
        return build_tinker_backend(role, model, price=price)
    api_key = resolve_api_key(model.model, api_key_env=model.api_key_env, api_base=model.api_base, role=role)
    if model.fast_path:
        if not model.api_base:
            raise ConfigurationError(f"{role} model {model.model!r}: fast_path needs an api_base (an OpenAI-compatible server)")
        from distilleval.backends.openai_compatible import OpenAICompatibleBackend

        return OpenAICompatibleBackend(model.model, api_base=model.api_base, price=price, api_key=api_key, batch=model.batch)
    settings: dict[str, Any] = {
        "price": price, "api_base": model.api_base, "api_key": api_key, "batch": model.batch, "prompt_cache": model.prompt_cache
    }
    workers = litellm_workers(calls=calls, concurrency=concurrency)
    if workers:
        from distilleval.backends.litellm_pool import PooledLiteLLMBackend

        return PooledLiteLLMBackend(model.model, workers=workers, **settings)
    from distilleval.backends.litellm_backend import LiteLLMBackend

    return LiteLLMBackend(model.model, **settings)


def litellm_workers(*, calls: int = 0, concurrency: int = 1, cpus: int | None = None) -> int:
    """How many worker processes the LiteLLM route runs its calls in (0: in this process).

    ``$DISTILLEVAL_LITELLM_WORKERS`` decides when set. Otherwise a run of at least
    ``AUTO_WORKERS_MIN_CALLS`` calls with at least ``AUTO_WORKERS_MIN_CONCURRENCY`` in flight,
    on a machine with two or more cores, gets one worker per core (at most
    ``AUTO_WORKERS_MAX``): workers cost a LiteLLM import each (seconds) when the first call is
    made, and pay off only when LiteLLM's own CPU work per call is what limits the run.

    >>> litellm_workers(calls=2000, concurrency=64, cpus=2), litellm_workers(calls=40, concurrency=64, cpus=2)
    (2, 0)

    Raises:
        ConfigurationError: the variable is not a whole number from 0 to 32.
    """
    raw = os.environ.get(WORKERS_VARIABLE, "").strip()
    if not raw:
        cpus = (os.cpu_count() or 1) if cpus is None else cpus
        large = calls >= AUTO_WORKERS_MIN_CALLS and concurrency >= AUTO_WORKERS_MIN_CONCURRENCY
        return min(cpus, AUTO_WORKERS_MAX) if large and cpus >= 2 else 0
    try:
        workers = int(raw)
    except ValueError:
        workers = -1
    if not 0 <= workers <= 32:
        raise ConfigurationError(f"${WORKERS_VARIABLE}: expected a whole number from 0 to 32, found {raw!r}")
    return workers


def check_reachable(role: str, model: ModelSpec, *, timeout_s: float = 3.0) -> None:
    """Fail fast when the model's custom ``api_base`` does not accept connections.

    Providers without an ``api_base`` are checked by the runner instead (it stops the run
    when a model fails as unreachable before its first success).

    Raises:
        ServiceUnavailableError: one line naming the role, model and endpoint.
    """
    if not model.api_base or is_tinker_model(model.model):
        return
    parts = urlsplit(model.api_base)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as err:
        raise ServiceUnavailableError(
            f"{role} model {model.model!r}: cannot connect to {model.api_base} ({err.strerror or err}); is the server running?"
        ) from None
