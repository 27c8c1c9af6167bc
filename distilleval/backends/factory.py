"""Build the backend for a model role of a spec.

- ``tinker://...`` checkpoints and Tinker base-model ids go to ``distilleval.backends.tinker.sampling.build_tinker_backend``
  (imported only then),
- models with ``fast_path: true`` and an ``api_base`` go to the aiohttp fast path,
- everything else goes through LiteLLM, in this process or, with ``$DISTILLEVAL_LITELLM_WORKERS``
  set, in that many worker processes (``litellm_pool``).

API keys are read from the environment here (``api_key_env`` or the provider's variable)
and live only in the backend object. ``check_reachable`` fails fast, before any item is
called, when a custom ``api_base`` refuses connections.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

from distilleval.backends.base import Backend
from distilleval.backends.credentials import resolve_api_key
from distilleval.backends.tinker.model_ids import is_tinker_model
from distilleval.costs.pricing import PricingTable
from distilleval.errors import ConfigurationError, ServiceUnavailableError
from distilleval.spec.task_spec import ModelSpec

WORKERS_VARIABLE = "DISTILLEVAL_LITELLM_WORKERS"


def build_backend(role: str, model: ModelSpec, *, pricing: PricingTable | None) -> Backend:
    """The backend that calls ``model`` for ``role``.

    Args:
        role: ``teacher`` / ``student`` (for messages).
        model: the role's spec.
        pricing: the pricing table; None records every cost as $0 (tests, offline tools).

    Returns:
        An object implementing ``distilleval.backends.base.Backend``.

    Raises:
        PricingError: the model has no price in the table (before any call is made).
        ConfigurationError: the API key variable is not set, or Tinker support is missing.
    """
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
    settings = {
        "price": price, "api_base": model.api_base, "api_key": api_key, "batch": model.batch, "prompt_cache": model.prompt_cache
    }
    workers = litellm_workers()
    if workers:
        from distilleval.backends.litellm_pool import PooledLiteLLMBackend

        return PooledLiteLLMBackend(model.model, workers=workers, **settings)
    from distilleval.backends.litellm_backend import LiteLLMBackend

    return LiteLLMBackend(model.model, **settings)


def litellm_workers() -> int:
    """How many worker processes the LiteLLM route runs its calls in: ``$DISTILLEVAL_LITELLM_WORKERS``, default 0.

    0 calls LiteLLM in this process. Workers cost a LiteLLM import each (seconds) when the first
    call is made, and pay off only when LiteLLM's own CPU work per call is what limits a run
    (dozens of calls in flight on a machine with idle cores); bench/bench_runner.py measures it.

    Raises:
        ConfigurationError: the variable is not a whole number from 0 to 32.
    """
    raw = os.environ.get(WORKERS_VARIABLE, "").strip()
    if not raw:
        return 0
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
