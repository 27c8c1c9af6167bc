"""Progress where there is no terminal: one plain line on stderr at a fixed interval.

A run whose output goes to a pipe or a CI log (``CI=true``) cannot show a progress bar, and
would otherwise print nothing until it ends. While a ``Heartbeat`` is running, a thread writes
one line every ``interval_s`` seconds, from the command's start to its end: the elapsed time,
the current phase (starting, calls, scoring, ...), calls done of the total, the rate, the calls
that failed and the time left at that rate; and, when it wrote any, a last line when it stops
(a command shorter than one interval prints nothing extra, so its one-line error stays one
line). The code that does the work only updates counters (``set_phase``, ``advance``), so it
costs nothing per call.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TextIO

DEFAULT_INTERVAL_S = 10.0
INTERVAL_ENV = "DISTILLEVAL_PROGRESS_EVERY"

_active: "Heartbeat | None" = None


def wants_plain_lines(stream: TextIO | None = None) -> bool:
    """True where a bar cannot be drawn: the stream is not a terminal, or ``CI=true``."""
    stream = stream or sys.stderr
    return os.environ.get("CI") == "true" or not (hasattr(stream, "isatty") and stream.isatty())


def interval_from_env(default: float = DEFAULT_INTERVAL_S) -> float:
    """``$DISTILLEVAL_PROGRESS_EVERY`` seconds when set to a positive number, else ``default``."""
    try:
        value = float(os.environ.get(INTERVAL_ENV, ""))
    except ValueError:
        return default
    return value if value > 0 else default


def active() -> "Heartbeat | None":
    """The heartbeat running in this process, if any (the runner and the pipeline report to it)."""
    return _active


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class Heartbeat:
    """Writes one progress line to ``stream`` every ``interval_s`` seconds while running; a context manager.

    Args:
        command: the command's name, first on every line (``distilleval eval``).
        interval_s: seconds between lines.
        stream: where the lines go (default: stderr).
    """

    def __init__(self, command: str, *, interval_s: float = DEFAULT_INTERVAL_S, stream: TextIO | None = None):
        self.command = command
        self.interval_s = interval_s
        self.stream = stream or sys.stderr
        self.phase = "starting"
        self.done = 0
        self.failed = 0
        self.total: int | None = None
        self._phase_started = self._started = time.monotonic()
        self._phase_done_at_start = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lines_written = 0

    def set_phase(self, phase: str, *, total: int | None = None) -> None:
        """Name what the command is doing now; ``total``: the calls this phase makes (counted by ``advance``)."""
        self.phase = phase
        if total is not None:
            self.total, self.done, self.failed = total, 0, 0
        self._phase_started, self._phase_done_at_start = time.monotonic(), self.done

    def advance(self, *, ok: bool, count: int = 1) -> None:
        """Count one finished call (``count`` of them, all ``ok`` or all failed)."""
        self.done += count
        self.failed += 0 if ok else count

    def line(self) -> str:
        """The progress line for now."""
        now = time.monotonic()
        text = f"{self.command}: {now - self._started:.1f} s: {self.phase}"
        if self.total is not None:
            text += f", {self.done:,}/{self.total:,} calls done ({self.done / self.total:.0%})" if self.total else ", no calls"
            if self.phase == "calls":
                made = self.done - self._phase_done_at_start
                rate = made / (now - self._phase_started) if now > self._phase_started else 0.0
                eta = f", ETA {_duration((self.total - self.done) / rate)}" if rate > 0 else ""
                text += f", {rate:,.1f} calls/s{eta}"
            text += f", {self.failed:,} failed"
        return text

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text + "\n")
            self.stream.flush()
            self.lines_written += 1
        except (OSError, ValueError):
            self._stop.set()  # the reader went away: stop writing

    def _beat(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._write(self.line())

    def __enter__(self) -> "Heartbeat":
        global _active
        _active = self
        self._thread = threading.Thread(target=self._beat, name="distilleval-heartbeat", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        global _active
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if _active is self:
            _active = None
        if self.lines_written:
            self.phase = "stopped" if exc and exc[0] is not None else "finished"
            self._write(self.line())
