"""Backends that are only built when a call misses the response cache.

A run served entirely from the cache (the CI gate's normal case) never needs a provider SDK:
building a LiteLLM backend imports LiteLLM, which takes seconds. Before a run, ``roles_with_misses``
looks every call up in the cache; roles with a miss get a real backend up front (so a bad key or
a dead endpoint still fails before the first call), the others a ``LazyBackend`` that builds
the real one only if a call misses after all (an entry removed while the run was going).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from distilleval.backends.base import Backend, ChatRequest, Completion
from distilleval.run.cache import ResponseCache, cache_key
from distilleval.run.runner import Call


class LazyBackend:
    """Stands in for a backend until its first call, then builds it with ``build`` and delegates.

    Args:
        model_id: the model id the real backend will have (the cache key needs it before).
        build: makes the real backend; called at most once.
    """

    def __init__(self, model_id: str, build: Callable[[], Backend]):
        self.model_id = model_id
        self._build = build
        self._backend: Backend | None = None

    @property
    def loop_lag_ms(self) -> list[float] | None:
        """The real backend's own loop-lag samples, when it was built and reports them."""
        return getattr(self._backend, "loop_lag_ms", None)

    @property
    def built(self) -> bool:
        """True once a call needed the real backend."""
        return self._backend is not None

    async def complete(self, request: ChatRequest, *, timeout_s: float) -> Completion:
        """Build the real backend on first use, then make the call through it."""
        if self._backend is None:
            self._backend = self._build()
        return await self._backend.complete(request, timeout_s=timeout_s)

    async def aclose(self) -> None:
        """Close the real backend if it was built."""
        if self._backend is not None:
            await self._backend.aclose()


def roles_with_misses(calls: Iterable[Call], model_ids: Mapping[str, str], cache_path: Path | None) -> set[str]:
    """The model roles of ``calls`` that at least one call needs a real backend for.

    Args:
        calls: the calls about to be run.
        model_ids: role -> the model id its backend will have (the cache key's model).
        cache_path: the response cache file; None (no cache) means every role misses.

    Returns:
        Roles with a call whose answer is not in the cache (every role when the file does not
        exist). Reads the cache only; never creates it.
    """
    calls = list(calls)
    roles = {call.model for call in calls}
    if cache_path is None or not Path(cache_path).is_file():
        return roles
    missing: set[str] = set()
    with ResponseCache(cache_path) as cache:
        for start in range(0, len(calls), _CHUNK):  # one look-up per chunk, stopping once every role missed
            keyed = [(call.model, cache_key(model_ids[call.model], call.request, call.repeat))
                     for call in calls[start:start + _CHUNK] if call.model not in missing]
            present = cache.present([key for _, key in keyed])
            missing.update(role for role, key in keyed if key not in present)
            if missing == roles:
                break
    return missing


_CHUNK = 256
