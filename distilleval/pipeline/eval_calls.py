"""An eval's model calls as a plan: counted at once, built as they are needed, each keyed once.

A run of a million items makes two million calls. ``EvalCalls`` knows how many calls each role
has (for the progress total and the backends) without building any, and produces them in the
run's order (interleaved by item, so a run stopped early has every role on the same items) chunk
by chunk, so the first call starts while the last is not yet built and no list of every request
is ever held. Each call's response-cache key is computed once: the scan that decides which roles
need a real backend (``roles_with_misses``) keeps the keys it computed (32 bytes a call), and
where in the response cache it found each (8 bytes), in temporary files beside the cache rather than in memory, and the
run (``calls``) reads both back in order, serving
the hits in bulk (``run.replay``: read by row, not searched for again) and passing on only the
misses. Keys are made from the rendered prompts (``pipeline.call_keys``), not from built messages.
"""

from __future__ import annotations

import itertools
import tempfile
from array import array
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from distilleval.backends.base import ChatRequest
from distilleval.pipeline.call_keys import RoleKeys
from distilleval.run.cache import KeyMaker, ResponseCache
from distilleval.run.replay import Planned, replay_hits
from distilleval.run.runner import Call
from distilleval.spec.data import Item
from distilleval.spec.messages import build_messages
from distilleval.spec.task_spec import TaskSpec

FIRST_CHUNK_ITEMS = 16
"""Items in the first chunk: small, so the first call is made at once."""
MAX_CHUNK_ITEMS = 512
"""Items in a chunk once the run is going (chunks double up to this): one cache look-up and one
store transaction each, and a short hold of the event loop."""

_DIGEST = 32


class EvalCalls:
    """The calls an eval still has to make: every ``roles`` x ``items`` pair without an ``ok``
    row in ``finished`` (repeat 0).

    Args:
        spec: the loaded spec (each role's prompt and sampling settings).
        items: the items evaluated, in run order.
        roles: the called model roles, in run order.
        finished: ``(item_id, role, repeat)`` of calls a resumed run already has.
    """

    def __init__(self, spec: TaskSpec, items: Sequence[Item], roles: Sequence[str],
                 finished: set[tuple[str, str, int]] | frozenset = frozenset()):
        models = spec.models()
        self._items = items
        self._roles = list(roles)
        self._finished = finished
        self._image_inputs = tuple(spec.data.image_inputs)
        self._models = {role: models[role] for role in self._roles}
        self.model_ids = {role: models[role].model for role in self._roles}
        self.counts = {
            role: sum(1 for item in items if (item.id, role, 0) not in finished) if finished else len(items)
            for role in self._roles
        }
        self._spill: _KeySpill | None = None  # the keys a scan computed and where it found them
        self._spill_near: Path | None = None  # the folder to keep them in (the response cache's)
        self._digests_for: dict[str, str] | None = None  # the model ids those keys were made with

    def __len__(self) -> int:
        return sum(self.counts.values())

    @property
    def roles(self) -> list[str]:
        """The roles with at least one call to make."""
        return [role for role in self._roles if self.counts[role]]

    def request(self, role: str, item: Item, messages: tuple[dict[str, Any], ...] | None = None) -> ChatRequest:
        """The request ``role`` is sent for ``item`` (``messages``: its messages, already built)."""
        model = self._models[role]
        if messages is None:
            messages = build_messages(model, item, self._image_inputs)
        return ChatRequest(
            messages=messages, max_tokens=model.max_tokens,
            temperature=model.temperature, stop=tuple(model.stop), reasoning_effort=model.reasoning_effort,
            thinking_budget_tokens=model.thinking_budget_tokens,
        )

    def _pending(self) -> Iterator[tuple[Item, str]]:
        finished = self._finished
        for item in self._items:
            for role in self._roles:
                if not finished or (item.id, role, 0) not in finished:
                    yield item, role

    def __iter__(self) -> Iterator[Call]:
        """Every call, built as it is drawn (no cache key computed)."""
        for item, role in self._pending():
            yield Call(item.id, role, self.request(role, item))

    def of_role(self, role: str) -> "RoleCalls":
        """``role``'s calls, in run order, drawn anew (and built as drawn) each time they are iterated."""
        return RoleCalls(self, role)

    def _role_calls(self, role: str) -> Iterator[Call]:
        finished = self._finished
        for item in self._items:
            if not finished or (item.id, role, 0) not in finished:
                yield Call(item.id, role, self.request(role, item))

    def keyed_chunks(self, model_ids: dict[str, str], *, remember: bool = False) -> Iterator[list[Planned]]:
        """Every call as ``(item id, role, 0, cache key, cache row, item)`` (what ``run.replay`` serves: the
        cache row is where the backend scan found the key, None where it did not look or found nothing), in chunks of
        ``FIRST_CHUNK_ITEMS`` items doubling up to ``MAX_CHUNK_ITEMS``; ``model_ids`` (role -> the
        backend's model id) make the keys.

        ``remember``: keep the keys computed (32 bytes a call, in a temporary file) for the next pass
        with the same model ids, which then reads them back and computes only those past them.
        """
        if self._digests_for != model_ids:
            self._forget()
            self._digests_for = dict(model_ids)
        spill = self._spill
        if remember and spill is None:
            spill = self._spill = _KeySpill(self._spill_near)
        keys: dict[str, RoleKeys] = {}
        known = spill.calls if spill is not None else 0
        position = 0
        for pending in self._pending_chunks():
            chunk: list[Planned] = []
            # Keys a pass before computed: one hex string for the run of them, cut in 64-character keys.
            reused = min(len(pending), max(known - position, 0))
            if reused and spill is not None:
                hexed, rows = spill.read(position, reused)
                chunk = [(item.id, role, 0, hexed[i * 2 * _DIGEST:(i + 1) * 2 * _DIGEST], rows[i] or None, item)
                         for i, (item, role) in enumerate(pending[:reused])]
            todo = pending[reused:]
            if todo:
                computed = self._digests(todo, model_ids, keys)
                hexed = computed.hex()
                chunk += [(item.id, role, 0, hexed[i * 2 * _DIGEST:(i + 1) * 2 * _DIGEST], None, item)
                          for i, (item, role) in enumerate(todo)]
                if remember and spill is not None:
                    spill.append(computed)
            position += len(pending)
            yield chunk

    def _digests(self, pending: list[tuple[Item, str]], model_ids: dict[str, str], keys: dict[str, RoleKeys]) -> bytes:
        """The keys of ``pending``'s calls, 32 bytes each in order, each role's made together (``keys``: the
        roles' ``RoleKeys`` made so far, added to)."""
        positions: dict[str, list[int]] = {}
        for n, (_, role) in enumerate(pending):
            positions.setdefault(role, []).append(n)
        digests: list[bytes] = [b""] * len(pending)
        for role, wanted in positions.items():
            role_keys = keys.get(role)
            if role_keys is None:
                maker = KeyMaker(model_ids[role], self.request(role, pending[wanted[0]][0], messages=()))
                role_keys = keys[role] = RoleKeys(maker, self._models[role], self._image_inputs)
            for n, digest in zip(wanted, role_keys.digests([pending[n][0] for n in wanted])):
                digests[n] = digest
        return b"".join(digests)

    def _pending_chunks(self) -> Iterator[list[tuple[Item, str]]]:
        """The ``(item, role)`` of every call, in chunks of ``FIRST_CHUNK_ITEMS`` items (with a call) doubling
        up to ``MAX_CHUNK_ITEMS``."""
        chunk_items = FIRST_CHUNK_ITEMS
        roles, finished = self._roles, self._finished
        items = iter(self._items)
        while True:
            chunk: list[tuple[Item, str]] = []
            taken = 0
            while taken < chunk_items:
                batch = list(itertools.islice(items, chunk_items - taken))
                if not batch:
                    break
                if finished:
                    for item in batch:
                        calls = [(item, role) for role in roles if (item.id, role, 0) not in finished]
                        taken += bool(calls)
                        chunk += calls
                else:
                    taken += len(batch)
                    chunk += [(item, role) for item in batch for role in roles]
            if not chunk:
                return
            yield chunk
            chunk_items = min(chunk_items * 2, MAX_CHUNK_ITEMS)

    def roles_with_misses(self, cache_path: Path | None) -> set[str]:
        """The roles with a call the response cache at ``cache_path`` cannot answer (every role
        when there is no cache file). Reads the cache only, one look-up per chunk, and stops at
        the first chunk after which every role has missed; remembers the keys it computed."""
        roles = set(self.roles)
        if cache_path is None or not Path(cache_path).is_file() or not roles:
            return roles
        missing: set[str] = set()
        position = 0
        self._spill_near = Path(cache_path).parent
        with ResponseCache(cache_path) as cache:
            for chunk in self.keyed_chunks(self.model_ids, remember=True):
                found = cache.rows_of([entry[3] for entry in chunk])
                missing.update(role for _, role, _, key, _, _ in chunk if key not in found)
                # Where each key was found: the replay then reads the answer by row, not by another key search.
                if self._spill is not None:
                    self._spill.set_rows(position, [found.get(entry[3], 0) for entry in chunk])
                position += len(chunk)
                if missing == roles:
                    break
        return missing

    def calls(self, cache: ResponseCache | None, store: Any, model_ids: dict[str, str],
              on_hits: Callable[[str, int], None] | None = None) -> Iterator[Call]:
        """The calls the cache cannot answer, for the runner to draw from; each chunk's hits are
        first committed to ``store`` in bulk (``run.replay.replay_hits``) and counted with
        ``on_hits(role, count)``. Without a cache every call is drawn, and no key is computed."""
        if cache is None:
            yield from self
            return
        for item_id, role, _, key, _, item in replay_hits(self.keyed_chunks(model_ids), cache, store, on_hits=on_hits):
            yield Call(item_id, role, self.request(role, item), miss_key=key)
        self._forget()

    def _forget(self) -> None:
        """Drop the keys a scan remembered (their temporary files go with them)."""
        if self._spill is not None:
            self._spill.close()
        self._spill, self._digests_for = None, None


class _KeySpill:
    """The keys a scan computed and where it found each in the response cache, in run order, kept in two
    temporary files and read back in order by the next pass: 32 + 8 bytes a call on disk and none in memory
    (a million items' two million calls held 80 MB in memory before), at a small fraction of the cost of
    computing the keys again."""

    _ROW = 8

    def __init__(self, folder: Path | None = None) -> None:
        self._digests = _temporary_file(folder)
        self._rows = _temporary_file(folder)
        self.calls = 0

    def append(self, digests: bytes | bytearray) -> None:
        """Add the next calls' keys (32 bytes each), found nowhere yet."""
        count = len(digests) // _DIGEST
        self._digests.seek(self.calls * _DIGEST)
        self._digests.write(digests)
        self._rows.seek(self.calls * self._ROW)
        self._rows.write(bytes(count * self._ROW))
        self.calls += count

    def set_rows(self, position: int, rows: list[int]) -> None:
        """Where the calls from ``position`` on were found in the response cache (0: not there)."""
        rows = rows[:max(0, self.calls - position)]
        self._rows.seek(position * self._ROW)
        self._rows.write(array("q", rows).tobytes())

    def read(self, position: int, count: int) -> tuple[str, list[int]]:
        """The keys of ``count`` calls from ``position`` as one hex string, and their cache rows."""
        self._digests.seek(position * _DIGEST)
        hexed = self._digests.read(count * _DIGEST).hex()
        self._rows.seek(position * self._ROW)
        rows = array("q")
        rows.frombytes(self._rows.read(count * self._ROW))
        return hexed, rows.tolist()

    def close(self) -> None:
        """Close (and so delete) the files."""
        self._digests.close()
        self._rows.close()


class RoleCalls:
    """One role's calls of an ``EvalCalls``: iterable any number of times, each pass building them
    again (what ``run.batch`` draws a batch at a time), so no list of them is held."""

    def __init__(self, calls: EvalCalls, role: str):
        self._calls = calls
        self.role = role

    def __len__(self) -> int:
        return self._calls.counts[self.role]

    def __iter__(self) -> Iterator[Call]:
        return self._calls._role_calls(self.role)


def _temporary_file(folder: Path | None) -> Any:
    """An unnamed temporary file in ``folder`` (on disk beside the response cache, where ``/tmp`` may be
    memory), else in the system's temporary folder."""
    if folder is not None:
        try:
            return tempfile.TemporaryFile(dir=folder)
        except OSError:
            pass
    return tempfile.TemporaryFile()
