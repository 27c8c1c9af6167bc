"""Serve cache hits in bulk: one look-up and one store transaction per chunk of calls, no object per hit.

A fully cached re-run of a million items is two million hits. Served one by one through the
runner, each cost a key, a look-up, a ``CallResult``, a trip through the event loop and a queued
row; here a chunk of calls is looked up in the response cache at once (``ResponseCache.get_many``),
its hits are committed to the run store in one transaction straight from the cache's rows
(``RunStore.add_hits``: the same rows ``RunStore.add`` writes for a hit), and only the misses go
on to the runner. A hit is replayed as the runner replays one: $0, flagged as a hit, with the
tokens, latency and cost measured when the call was made.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from distilleval.run.cache import ResponseCache
from distilleval.run.store import RunStore

Planned = tuple[str, str, int, str, Any]
"""One call to serve: ``(item_id, model role, repeat, cache key, payload)``; the payload is the
caller's own (what it needs to build the call if it misses)."""


def replay_hits(
    chunks: Iterable[Sequence[Planned]],
    cache: ResponseCache,
    store: RunStore,
    *,
    on_hits: Callable[[str, int], None] | None = None,
) -> Iterator[Planned]:
    """For each chunk: look its keys up at once, commit its hits to ``store``, then yield its misses.

    Args:
        chunks: the calls, chunk by chunk, in run order; drawn one chunk at a time.
        cache: the response cache (a refreshing or unusable cache answers nothing: all miss).
        store: where the hits' rows go.
        on_hits: told ``(role, count)`` after each chunk's hits of a role are committed.

    Yields:
        The misses, in order, as they were given.
    """
    for chunk in chunks:
        found = cache.get_many([planned[3] for planned in chunk]) if chunk else {}
        if not found:
            yield from chunk
            continue
        hits = [(item_id, role, repeat, found[key]) for item_id, role, repeat, key, _ in chunk if key in found]
        store.add_hits(hits)
        if on_hits is not None:
            for role, count in Counter(hit[1] for hit in hits).items():
                on_hits(role, count)
        if len(hits) < len(chunk):
            yield from (planned for planned in chunk if planned[3] not in found)
