"""The runner: calls models concurrently, politely and honestly.

It takes a list of calls (item x model role x repeat) and the backends by role, and for each
call returns one ``CallResult`` with a final status: ``ok``, or ``error`` with the error kind
and message. Along the way it

- serves calls from the response cache when it can (cost $0, flagged as a hit),
- keeps at most ``concurrency`` calls in flight, and optionally under a per-model
  requests-per-minute and tokens-per-minute budget,
- retries retryable failures with exponential backoff and jitter, waiting at least as long
  as a ``Retry-After`` asks; a 429 holds every call to that model for that long, so a
  rate-limit storm slows the run down instead of being hammered,
- bounds every attempt by the model's timeout,
- hands each result to ``on_result`` the moment it is final (the run store commits it there),
  and only then writes a new answer to the response cache,
- stops early, with one clear message, when a model cannot work at all (bad key, unknown
  model, unreachable before its first success),
- samples the event loop's lag while each model's calls are in flight (``loop_lag_ms``), so a
  latency figure the client itself inflated can be recognised (``distilleval.results.latency``).
"""

from __future__ import annotations

import asyncio
import collections
import json
import random
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from distilleval.backends.base import Backend, ChatRequest, Completion
from distilleval.errors import BackendError, CallTimeoutError, RateLimitedError
from distilleval.run import heartbeat
from distilleval.run.cache import ResponseCache, cache_key
from distilleval.run.loop_lag import LoopLagMonitor

# Final failures of these kinds stop the whole run: every later call would fail the same way
# (quota: the account is out of quota or credit, which no wait fixes).
FATAL_KINDS = ("auth", "not_found", "quota")
# These stop the run only while the model has not yet answered once (a dead endpoint).
FATAL_BEFORE_FIRST_SUCCESS = ("unavailable",)
# A model that answered before and then fails every attempt with one of these, for
# ``RunnerOptions.give_up_after_s``, has gone away (killed, unplugged): the run stops, rather than
# retrying item after item for minutes.
ENDPOINT_GONE_KINDS = ("unavailable", "timeout")
# A model whose endpoint is known (a spec's api_base) and that has answered before is probed when
# none of its calls in flight has answered for ``give_up_after_s``: a server that is alive but slow
# answers ``GET <api_base>/models`` at once; a frozen one (SIGSTOP, a hung process) does not, and
# the run stops then instead of waiting out each call's own timeout.
PROBE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Call:
    """One unit of work: one item, one model role, one repeat."""

    item_id: str
    model: str
    request: ChatRequest
    repeat: int = 0
    # The response-cache key, set where a bulk look-up (``run.replay``) already found it missing:
    # the runner then neither computes it again nor looks it up again.
    miss_key: str | None = field(default=None, compare=False)

    @property
    def key(self) -> tuple[str, str, int]:
        """``(item_id, model, repeat)``: what identifies the call within a run."""
        return (self.item_id, self.model, self.repeat)


@dataclass
class CallResult:
    """The final outcome of one call.

    ``latency_ms`` and the token counts are the measured figures of the call that produced
    the text (for a cache hit: of the original call, so projections keep them); ``cost_usd``
    is what this run paid (0 for a hit; price the tokens to cost a hit; for an error, what the
    provider billed for it, usually 0). ``attempts`` counts HTTP attempts made in this run.
    ``served_model`` is the model version the provider named in its answer (None for a cache hit
    and for routes that name none).
    """

    item_id: str
    model: str
    repeat: int
    status: str
    text: str | None = None
    error_kind: str | None = None
    error_message: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_ms: float | None = None
    cost_usd: float = 0.0
    cache_hit: bool = False
    attempts: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    finish_reason: str | None = None
    served_model: str | None = None
    confidence: float | None = None
    confidence_basis: str | None = None

    @property
    def ok(self) -> bool:
        """True when the call produced an output."""
        return self.status == "ok"


def error_result(item_id: str, model: str, repeat: int, err: BackendError, *, attempts: int) -> CallResult:
    """The final result of a failed call; one the provider billed (``err.billed``: an answer lost to
    thinking, a refusal) keeps its usage and cost, so the run's spend counts it."""
    billed = err.billed
    return CallResult(
        item_id, model, repeat, "error", error_kind=err.kind, error_message=str(err), attempts=attempts,
        input_tokens=billed.input_tokens if billed else None, output_tokens=billed.output_tokens if billed else None,
        cost_usd=billed.cost_usd if billed else 0.0,
        cached_input_tokens=billed.cached_input_tokens if billed else 0,
        cache_write_tokens=billed.cache_write_tokens if billed else 0,
    )


@dataclass(frozen=True)
class RunnerOptions:
    """How the runner behaves.

    Attributes:
        concurrency: calls in flight at once, over all models.
        max_retries: extra attempts after the first for retryable failures.
        backoff_base_s / backoff_max_s: exponential backoff ``base * 2**n``, capped, times a
            jitter factor in [0.5, 1.5).
        timeout_s: per-attempt timeout per model role (roles not listed: ``default_timeout_s``).
        requests_per_minute / tokens_per_minute: optional client-side budgets per model role.
        seed: seeds the jitter.
        give_up_after_s: how long a model that answered before may fail every attempt with a
            connection error or a timeout before the run stops (it has gone away mid-run).
        endpoints: model role -> where its calls go (its ``api_base``), named when it goes away.
    """

    concurrency: int = 16
    max_retries: int = 4
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    default_timeout_s: float = 60.0
    timeout_s: Mapping[str, float] = field(default_factory=dict)
    requests_per_minute: Mapping[str, float] = field(default_factory=dict)
    tokens_per_minute: Mapping[str, float] = field(default_factory=dict)
    seed: int | None = None
    give_up_after_s: float = 30.0
    endpoints: Mapping[str, str] = field(default_factory=dict)


class RunAborted(BackendError):
    """The run stopped early because a model cannot work (the message says which and why)."""

    kind = "aborted"


class RateBudget:
    """A sliding 60-second window of requests and tokens for one model.

    Tokens are estimated before a call (prompt characters / 4 + max_tokens) and corrected
    to the measured count afterwards.
    """

    def __init__(self, requests_per_minute: float | None, tokens_per_minute: float | None, *, window_s: float = 60.0):
        self.window_s = window_s
        self.requests_per_minute = requests_per_minute
        self.tokens_per_minute = tokens_per_minute
        self._window: collections.deque[list[float]] = collections.deque()
        self._tokens_in_window = 0.0
        self._lock = asyncio.Lock()

    def _prune(self, now: float) -> None:
        while self._window and now - self._window[0][0] >= self.window_s:
            expired = self._window.popleft()
            self._tokens_in_window -= expired[1]
            expired[2] = 0.0  # no longer counted: a late settle() must not touch the total

    async def acquire(self, estimated_tokens: float) -> list[float]:
        """Wait until one more request of ``estimated_tokens`` fits; returns its window entry."""
        async with self._lock:
            while True:
                now = time.monotonic()
                self._prune(now)
                fits_requests = self.requests_per_minute is None or len(self._window) < self.requests_per_minute
                fits_tokens = (
                    self.tokens_per_minute is None
                    or not self._window
                    or self._tokens_in_window + estimated_tokens <= self.tokens_per_minute
                )
                if fits_requests and fits_tokens:
                    entry = [now, float(estimated_tokens), 1.0]
                    self._window.append(entry)
                    self._tokens_in_window += entry[1]
                    return entry
                await asyncio.sleep(max(self.window_s - (now - self._window[0][0]), 0.005))

    def settle(self, entry: list[float], actual_tokens: float) -> None:
        """Replace a request's estimate by its measured token count."""
        if entry[2]:
            self._tokens_in_window += actual_tokens - entry[1]
        entry[1] = float(actual_tokens)


def estimate_tokens(request: ChatRequest) -> float:
    """A cheap upper-ish estimate of a request's tokens, for the tokens-per-minute budget."""
    return len(json.dumps(request.messages)) / 4 + request.max_tokens


class Runner:
    """Runs calls against backends by role.

    Args:
        backends: model role (``teacher``, ``student``, ...) -> backend.
        options: concurrency, retries, timeouts and budgets.
        cache: the response cache (None: no cache, as with ``--no-cache``).
        on_result: called with each final result, in the event loop, as soon as it is final.
        progress: a ``Progress`` (or None for none).
        sleep: injectable for tests of the backoff schedule.
    """

    def __init__(
        self,
        backends: Mapping[str, Backend],
        *,
        options: RunnerOptions = RunnerOptions(),
        cache: ResponseCache | None = None,
        on_result: Callable[[CallResult], None] | None = None,
        progress: "Progress | None" = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ):
        self.backends = backends
        self.options = options
        self.cache = cache
        self.on_result = on_result
        self.progress = progress
        self._sleep = sleep
        self._random = random.Random(options.seed)
        self._budgets = {
            role: RateBudget(options.requests_per_minute.get(role), options.tokens_per_minute.get(role))
            for role in backends
            if options.requests_per_minute.get(role) or options.tokens_per_minute.get(role)
        }
        self._successes: collections.Counter[str] = collections.Counter()
        self._paused_until: dict[str, float] = {}
        self._abort: RunAborted | None = None
        self._in_flight: collections.Counter[str] = collections.Counter()
        self._lag = LoopLagMonitor(self._in_flight)
        self._backend_lag_start: dict[str, int] = {}
        # Per model: when its current run of connection failures / timeouts began (None: it last answered).
        self._failing_since: dict[str, float | None] = {}
        self._done = 0
        self._total = 0
        # Per model: when it last answered anything (a success or an error from the server itself).
        self._last_answer_at: dict[str, float] = {}

    @property
    def loop_lag_ms(self) -> dict[str, list[float]]:
        """Role -> event-loop lag samples (ms) of the loop that timed that role's calls.

        That is this runner's loop, sampled while the role had a call in flight, unless the
        role's backend times its calls in loops of its own (LiteLLM worker processes) and
        reports their lag as ``loop_lag_ms``: then the backend's samples.
        """
        lags = dict(self._lag.samples_ms)
        for role, backend in self.backends.items():
            own = getattr(backend, "loop_lag_ms", None)
            if own:
                # Only the samples taken during this runner's run: a backend shared with an
                # earlier run (the probe after the throughput run) keeps that run's samples too.
                lags[role] = list(own[self._backend_lag_start.get(role, 0):])
        return lags

    def note_hits(self, model: str, count: int) -> None:
        """Count ``count`` calls to ``model`` that were served from the response cache outside the
        runner (``run.replay``): answers, as a hit the runner serves itself is."""
        self._successes[model] += count
        self._done += count

    @property
    def called_roles(self) -> set[str]:
        """Roles the runner sent at least one request for (cache hits are not requests)."""
        return set(self._in_flight)

    def backoff_s(self, retry_number: int, error: BackendError) -> float:
        """Seconds to wait before retry ``retry_number`` (1-based) after ``error``.

        Exponential with jitter; never shorter than the server's ``Retry-After``.
        """
        exponential = min(self.options.backoff_max_s, self.options.backoff_base_s * 2 ** (retry_number - 1))
        delay = exponential * (0.5 + self._random.random())
        retry_after = getattr(error, "retry_after_s", None) if isinstance(error, RateLimitedError) else None
        if retry_after is not None:
            delay = max(delay, retry_after * (1.0 + 0.1 * self._random.random()))
        return delay

    async def run(self, calls: Iterable[Call], *, total: int | None = None, keep_results: bool = True) -> list[CallResult]:
        """Run every call; returns results in the order of ``calls``.

        Args:
            calls: a list, or an iterator drawn from lazily as workers free up (a stream of
                a million calls is never held at once; the first call starts at once).
            total: how many calls the run has in all, for the stop messages (default: ``len(calls)``,
                0 for an iterator); calls served elsewhere are counted with ``note_hits``.
            keep_results: False returns ``[]`` and keeps no result (``on_result`` has them all).

        Raises:
            RunAborted: a model cannot work (results finished before that were still handed
                to ``on_result``).
            KeyError: a call names a role with no backend (for an iterator: when that call is reached).
        """
        n_calls = len(calls) if isinstance(calls, (list, tuple)) else None
        sized = n_calls is not None
        if sized:
            missing = {call.model for call in calls} - set(self.backends)
            if missing:
                raise KeyError(f"no backend for model role(s): {', '.join(sorted(missing))}")
        results: dict[int, CallResult] = {}
        queue = enumerate(calls)
        self._done, self._total = 0, (total if total is not None else n_calls or 0)

        async def worker() -> None:
            for index, call in queue:
                if self._abort is not None:
                    return
                if not sized and call.model not in self.backends:
                    raise KeyError(f"no backend for model role(s): {call.model}")
                result, to_cache = await self._run_one(call)
                if keep_results:
                    results[index] = result
                self._done += 1
                # The run store first (on_result), the cache after: a cache that fails (full disk,
                # damaged file) can never cost a paid answer.
                if self.on_result is not None:
                    self.on_result(result)
                if to_cache is not None and self.cache is not None:
                    self.cache.put(*to_cache)
                if self.progress is not None:
                    self.progress.advance(result)
                self._check_fatal(result)

        workers = max(1, min(self.options.concurrency, n_calls)) if n_calls is not None else max(1, self.options.concurrency)
        self._backend_lag_start = {
            role: len(getattr(backend, "loop_lag_ms", None) or []) for role, backend in self.backends.items()
        }
        self._lag.start()
        tasks = [asyncio.create_task(worker()) for _ in range(workers)]
        watchdog = asyncio.create_task(self._watch_for_stalls(tasks)) if self.options.endpoints else None
        try:
            await asyncio.gather(*tasks)
        except asyncio.CancelledError:
            if self._abort is None:  # cancelled from outside, not by the watchdog
                raise
        finally:
            if watchdog is not None:
                watchdog.cancel()
            await self._lag.stop()
        if self._abort is not None:
            raise self._abort
        return [results[index] for index in sorted(results)]

    async def _watch_for_stalls(self, workers: list[asyncio.Task]) -> None:
        """Stop the run when a model that answered before has calls in flight, no answer for
        ``give_up_after_s`` and an endpoint that does not answer a probe (a frozen server): the
        calls in flight are cancelled (none was finished, so none is recorded or paid twice)."""
        give_up_s = self.options.give_up_after_s
        while self._abort is None:
            await asyncio.sleep(min(1.0, give_up_s / 4))
            now = time.monotonic()
            for model, url in self.options.endpoints.items():
                last = self._last_answer_at.get(model)
                if last is None or not self._in_flight[model] or now - last < give_up_s:
                    continue
                if await endpoint_answers(url, timeout_s=PROBE_TIMEOUT_S):
                    self._last_answer_at[model] = time.monotonic()  # alive, only slow: look again later
                    continue
                if self._abort is None:
                    silent_s = time.monotonic() - last
                    self._abort = RunAborted(
                        f"stopped: the {model} model at {url} stopped answering mid-run (no answer for {silent_s:.0f} s, "
                        f"and none to a probe of {url.rstrip('/')}/models within {PROBE_TIMEOUT_S:g} s): "
                        f"{self._done} of {self._total} calls done, {self._total - self._done} left")
                    for task in workers:
                        task.cancel()
                return

    def _check_fatal(self, result: CallResult) -> None:
        if result.ok:
            self._successes[result.model] += 1
            return
        fatal = result.error_kind in FATAL_KINDS or (
            result.error_kind in FATAL_BEFORE_FIRST_SUCCESS and self._successes[result.model] == 0
        )
        if fatal and self._abort is None:
            self._abort = RunAborted(
                f"stopped: the {result.model} model cannot be used ({result.error_kind}): {result.error_message}"
            )

    def _note_attempt(self, model: str, error: BackendError | None) -> None:
        """Track whether ``model`` has gone away: every attempt failing with a connection error or a
        timeout for ``give_up_after_s`` after it answered once stops the run (one line naming the
        endpoint, the calls done and left)."""
        if error is None or error.kind not in ENDPOINT_GONE_KINDS:
            self._last_answer_at[model] = time.monotonic()
        if error is None:
            self._failing_since[model] = None
            return
        if error.kind not in ENDPOINT_GONE_KINDS or self._successes[model] == 0:
            return
        now = time.monotonic()
        since = self._failing_since.get(model)
        if since is None:
            self._failing_since[model] = now
            return
        if now - since >= self.options.give_up_after_s and self._abort is None:
            where = self.options.endpoints.get(model) or getattr(self.backends[model], "model_id", model)
            left = self._total - self._done
            self._abort = RunAborted(
                f"stopped: the {model} model at {where} stopped answering mid-run ({error.kind} on every attempt "
                f"for {now - since:.0f} s): {self._done} of {self._total} calls done, {left} left"
            )

    def _timeout_s(self, role: str) -> float:
        return float(self.options.timeout_s.get(role, self.options.default_timeout_s))

    async def _run_one(self, call: Call) -> tuple[CallResult, tuple[str, str, Completion] | None]:
        """One call's final result, and what to put in the cache once it is stored (None: nothing)."""
        backend = self.backends[call.model]
        key = call.miss_key
        if key is None and self.cache is not None:
            key = cache_key(backend.model_id, call.request, call.repeat)
            hit = self.cache.get(key)
            if hit is not None:
                return CallResult(
                    call.item_id, call.model, call.repeat, "ok", text=hit.text,
                    input_tokens=hit.input_tokens, output_tokens=hit.output_tokens,
                    latency_ms=hit.latency_ms, cost_usd=0.0, cache_hit=True,
                    cached_input_tokens=hit.cached_input_tokens, cache_write_tokens=hit.cache_write_tokens,
                    finish_reason=hit.finish_reason, confidence=hit.confidence, confidence_basis=hit.confidence_basis,
                ), None
        attempts = 0
        while True:
            attempts += 1
            try:
                completion = await self._attempt(call, backend)
            except BackendError as err:
                self._note_attempt(call.model, err)
                if err.retryable and attempts <= self.options.max_retries and self._abort is None:
                    delay_s = self.backoff_s(attempts, err)
                    if isinstance(err, RateLimitedError):
                        # A 429 is about the model, not this item: hold every call to it.
                        resume_at = time.monotonic() + delay_s
                        self._paused_until[call.model] = max(self._paused_until.get(call.model, 0.0), resume_at)
                    await self._sleep(delay_s)
                    continue
                return error_result(call.item_id, call.model, call.repeat, err, attempts=attempts), None
            self._note_attempt(call.model, None)
            to_cache = (key, backend.model_id, completion) if key is not None else None
            return CallResult(
                call.item_id, call.model, call.repeat, "ok", text=completion.text,
                input_tokens=completion.input_tokens, output_tokens=completion.output_tokens,
                latency_ms=completion.latency_ms, cost_usd=completion.cost_usd, attempts=attempts,
                cached_input_tokens=completion.cached_input_tokens, cache_write_tokens=completion.cache_write_tokens,
                finish_reason=completion.finish_reason, served_model=completion.served_model,
                confidence=completion.confidence, confidence_basis=completion.confidence_basis,
            ), to_cache

    async def _attempt(self, call: Call, backend: Backend) -> Completion:
        wait_s = self._paused_until.get(call.model, 0.0) - time.monotonic()
        if wait_s > 0:
            await self._sleep(wait_s)
        budget = self._budgets.get(call.model)
        entry = await budget.acquire(estimate_tokens(call.request)) if budget is not None else None
        timeout_s = self._timeout_s(call.model)
        try:
            # The backend enforces timeout_s itself; the outer bound catches a backend that does not.
            self._in_flight[call.model] += 1
            async with asyncio.timeout(timeout_s + 5.0):
                completion = await backend.complete(call.request, timeout_s=timeout_s)
        except TimeoutError:
            raise CallTimeoutError(f"{backend.model_id}: no answer within {timeout_s:g} s") from None
        finally:
            self._in_flight[call.model] -= 1
        if budget is not None and entry is not None:
            budget.settle(entry, completion.input_tokens + completion.output_tokens)
        return completion


async def endpoint_answers(api_base: str, *, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """True when ``GET <api_base>/models`` gets any HTTP answer (an error status included) within ``timeout_s``."""
    import urllib.error
    import urllib.request

    def probe() -> bool:
        try:
            with urllib.request.urlopen(api_base.rstrip("/") + "/models", timeout=timeout_s):
                return True
        except urllib.error.HTTPError:
            return True  # the server answered, if only to refuse
        except (OSError, ValueError):
            return False

    return await asyncio.to_thread(probe)


class Progress:
    """Progress on stderr: items done, errors, dollars spent so far and ETA.

    Quiet (draws nothing) when stderr is not a terminal or under ``CI=true``, unless ``force`` is
    set; there a ``heartbeat.Heartbeat``, when one runs, prints plain lines instead (each result
    is counted on it too). ``console`` is a ``rich.console.Console`` to draw on (default: stderr).
    """

    def __init__(self, total: int, *, description: str = "calls", force: bool | None = None, console: Any = None):
        self.total = total
        self.done = 0
        self.errors = 0
        self.cache_hits = 0
        self.spent_usd = 0.0
        enabled = not heartbeat.wants_plain_lines(sys.stderr) if force is None else force
        self._rich = None
        if enabled and total:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            self._rich = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[errors]} errors · {task.fields[hits]} cached · ${task.fields[spent]:.4f}"),
                TimeRemainingColumn(),
                console=console or Console(stderr=True),
                transient=False,
            )
            self._task = self._rich.add_task(description, total=total, errors=0, hits=0, spent=0.0)

    def __enter__(self) -> "Progress":
        if self._rich is not None:
            self._rich.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._rich is not None:
            self._rich.stop()

    def advance(self, result: CallResult) -> None:
        """Count one final result."""
        self.done += 1
        self.errors += 0 if result.ok else 1
        self.cache_hits += 1 if result.cache_hit else 0
        self.spent_usd += result.cost_usd
        beat = heartbeat.active()
        if beat is not None:
            beat.advance(ok=result.ok)
        if self._rich is not None:
            self._rich.update(self._task, advance=1, errors=self.errors, hits=self.cache_hits, spent=self.spent_usd)

    def advance_hits(self, count: int) -> None:
        """Count ``count`` cache hits served in bulk (``run.replay``): answers at $0."""
        self.done += count
        self.cache_hits += count
        beat = heartbeat.active()
        if beat is not None:
            beat.advance(ok=True, count=count)
        if self._rich is not None:
            self._rich.update(self._task, advance=count, errors=self.errors, hits=self.cache_hits, spent=self.spent_usd)

