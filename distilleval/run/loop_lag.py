"""How late the client's event loop wakes up while calls are in flight.

A latency figure is stamped by the event loop; when the loop is busy (LiteLLM's per-call CPU,
many calls in flight on few cores, a loaded machine) an answer that has arrived waits in the
socket, and the figure includes that wait. ``LoopLagMonitor`` is a small task that asks to be
woken every ``interval_s`` and records how much later than asked it actually woke. Each sample
is credited to every model role that had a call in flight at that moment (the roles are read from
``in_flight``), so a role's lag describes the conditions its own calls were timed under.
``distilleval.results.latency`` turns the figures into the client-bound rule.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

DEFAULT_INTERVAL_S = 0.02


class LoopLagMonitor:
    """Samples event-loop lag, per model role with calls in flight.

    Args:
        in_flight: role -> calls of that role waiting on a model right now (kept up to date
            by the runner; read, never written, here).
        interval_s: how often to sample.
    """

    def __init__(self, in_flight: Mapping[str, int], *, interval_s: float = DEFAULT_INTERVAL_S):
        self.in_flight = in_flight
        self.interval_s = interval_s
        self.samples_ms: dict[str, list[float]] = {}
        self._task: asyncio.Task | None = None

    async def _sample(self) -> None:
        while True:
            asked = time.perf_counter()
            await asyncio.sleep(self.interval_s)
            lag_ms = max(0.0, (time.perf_counter() - asked - self.interval_s) * 1000.0)
            for role, count in self.in_flight.items():
                if count:
                    self.samples_ms.setdefault(role, []).append(lag_ms)

    def start(self) -> None:
        """Start sampling in the running loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._sample())

    async def stop(self) -> None:
        """Stop sampling; the samples stay in ``samples_ms``."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
