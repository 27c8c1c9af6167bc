"""Batch jobs: one model role's calls sent through its provider's batch API instead of one by one.

``run_batch`` does for a batch what the runner does for online calls, and leaves the run store
and the response cache in the same state:

1. jobs this run submitted earlier and never collected (the process was killed) are found in
   the ledger and polled again; a submission interrupted before its batch id came back is
   looked up (OpenAI: by the token in its metadata; Anthropic: the one batch of its size made
   since) and sent only when the provider never got it,
2. calls the response cache answers are served from it ($0, flagged as hits) and not sent,
3. the rest are written as the provider's request file (same rendered messages, same cache
   keys as the online path), recorded in the ledger, submitted, and the batch id is committed
   the moment it comes back (split into several batches past the provider's limits),
4. the batches are polled with backoff and a progress line (done / total, elapsed),
5. the results are mapped back to items: every call gets a ``CallResult`` row, ``ok`` or an
   error (failed, expired and missing requests included); successes are priced at the batch
   tier and put in the cache.

A batch call has no per-request latency: its ``latency_ms`` is None in the run store and the
cache, so no latency statistic or gate can use it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distilleval.backends.batch_api import BatchClient, BatchOutcome
from distilleval.backends.request_checks import check_prompt_fits
from distilleval.costs.cost_model import request_cost_usd
from distilleval.costs.pricing import ModelPrice
from distilleval.errors import BackendError, ConfigurationError, DataError
from distilleval.run.batch_ledger import BatchJob, BatchLedger, BatchRequestRow
from distilleval.run.cache import ResponseCache, cache_key
from distilleval.run.runner import Call, CallResult, error_result
from distilleval.run.store import RunStore

if TYPE_CHECKING:
    from distilleval.spec.task_spec import ModelSpec

WRITE_BATCH = 1000
_PLACEHOLDER_ID = "c000000-0000000"
# Error kinds of a call lost with its whole batch (or its batch's deadline), not by its own request.
BATCH_LOSS_KINDS = ("batch_failed", "expired", "canceled", "missing")


def batch_loss_reason(error_kind: str | None, error_message: str | None) -> str | None:
    """The batch's reason for a call lost with it (``token_limit_exceeded: ...``), the same for every
    call of the batch (model and batch id left out, so equal reasons count together); None otherwise."""
    if error_kind not in BATCH_LOSS_KINDS or not error_message:
        return None
    reason = error_message.split(": ", 1)[-1]  # "<model id>: ..."
    reason = re.sub(r"^the batch \S+ failed: ", "", reason)
    return re.sub(r"^the batch \S+ ended", "the batch ended", reason)


@dataclass(frozen=True)
class BatchOptions:
    """How a batch job is polled.

    Attributes:
        poll_initial_s: seconds before the first status check.
        poll_max_s: the longest wait between checks (the wait grows by ``poll_factor`` each time).
        poll_factor: growth of the wait between checks.
    """

    poll_initial_s: float = 10.0
    poll_max_s: float = 300.0
    poll_factor: float = 1.5


@dataclass
class _Window:
    """The batch being written: its request file (open), its size so far and its ledger rows."""

    number: int
    path: Path
    handle: Any
    rows: list[BatchRequestRow] = dataclasses.field(default_factory=list)
    size: int = 0

    def full(self, line_bytes: int, max_requests: int, max_bytes: int) -> bool:
        """Whether a line of ``line_bytes`` must start the next batch."""
        return bool(self.rows) and (len(self.rows) >= max_requests or self.size + line_bytes > max_bytes)

    def add(self, line: str, line_bytes: int, row: BatchRequestRow) -> None:
        self.handle.write(line)
        self.rows.append(row)
        self.size += line_bytes


def _elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(max(seconds, 0)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


class BatchJobRunner:
    """Runs one model role's calls as provider batches, writing to ``store`` and ``cache``.

    Args:
        role: the model role (``teacher``, ``student``).
        model_id: the spec's model id: the cache key's model, as online.
        client: the provider's batch client.
        store: the run store every result is written to.
        cache: the response cache (None: neither read nor written).
        price: the model's pricing entry (must have a batch tier; None records $0).
        work_dir: where the request files are written (the run directory).
        options: polling.
        log: where progress lines go (default: stderr).
        sleep: injectable for tests.
    """

    def __init__(
        self,
        role: str,
        model_id: str,
        client: BatchClient,
        *,
        store: RunStore,
        cache: ResponseCache | None,
        price: ModelPrice | None,
        work_dir: Path,
        options: BatchOptions = BatchOptions(),
        log: Callable[[str], None] | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ):
        if price is not None and not price.has_batch_tier:
            raise ConfigurationError(f"--batch: {model_id} has no batch price in the pricing table (batch_discount)")
        self.role = role
        self.model_id = model_id
        self.client = client
        self.store = store
        self.cache = cache
        self.price = price
        self.work_dir = Path(work_dir)
        self.options = options
        self._log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self._sleep = sleep
        self.ledger = BatchLedger(store.path)
        self.submitted = 0
        self.cache_hits = 0
        self._source: Iterable[Call] = ()  # the calls of the run in progress (drawn again to rewrite a lost file)

    def jobs(self) -> list[BatchJob]:
        """Every batch this role's run submitted."""
        return self.ledger.jobs(self.role)

    async def run(self, calls: Iterable[Call], *, results: bool = True) -> list[CallResult]:
        """Every call's final result, in the order of ``calls`` (read back from the run store), or
        ``[]`` when ``results`` is False (the caller reads the store itself).

        ``calls`` is iterated several times (a list, or an object whose iteration builds them
        anew): no list of every call, nor of their requests, is held. Each pass draws them again:
        the checks that refuse before anything is uploaded (same requests on resume, prompts that
        fit) see every call first; then the misses are written and submitted one batch at a time,
        so only one batch's request rows are held.

        Raises:
            ConfigurationError: an interrupted submission cannot be told apart from a missing one.
            BackendError: a batch endpoint refused us (bad key, unknown batch).
        """
        if iter(calls) is calls:
            raise TypeError("BatchJobRunner.run: calls must be iterable more than once (not an iterator)")
        self._source = calls
        self._check_same_requests(calls)
        resumed = [job for job in self.ledger.jobs(self.role) if not job.collected]
        handled: set[tuple[str, int]] = set()
        for job in resumed:
            handled.update((row.item_id, row.repeat) for row in self.ledger.requests(job).values())
        if resumed:
            self._log(f"{self.role}: resuming {len(resumed)} batch(es) submitted earlier; nothing is submitted again")
            resumed = [await self._ensure_submitted(job) for job in resumed]
            await self._wait_and_collect(resumed)
        finished = self.store.finished_keys(self.role)  # this role's only: the others' would be dead weight
        to_send = self._serve_cache_hits(calls, handled, finished)
        if any(to_send):
            jobs = [job async for job in self._submit_windows(calls, to_send)]
            await self._wait_and_collect(jobs)
        self._source = ()
        return self._results_for(calls) if results else []

    def _check_same_requests(self, calls: Iterable[Call]) -> None:
        """Refuse to continue when an item this run already sent as a batch request is now a
        different request (its prompt, settings or input changed): never mix the two answers.

        Raises:
            RunInputsChanged: one line naming the first such item.
        """
        from distilleval.run.identity import RunInputsChanged

        sent = {(row.item_id, row.repeat) for job in self.ledger.jobs(self.role)
                for row in self.ledger.requests(job).values()}
        if not sent:
            return
        # Keys made only for the calls the ledger holds (nothing on a fresh run).
        current = {(call.item_id, call.repeat): cache_key(self.model_id, call.request, call.repeat)
                   for call in calls if (call.item_id, call.repeat) in sent}
        for job in self.ledger.jobs(self.role):
            for row in self.ledger.requests(job).values():
                key = current.get((row.item_id, row.repeat))
                if key is not None and key != row.cache_key:
                    raise RunInputsChanged(
                        f"{self.store.path}: item {row.item_id!r} was sent to {self.model_id} in batch "
                        f"{job.batch_id or '(being submitted)'} as a different request (its input, prompt or settings "
                        "changed since this run started); put the old input back to collect it, or start a new run"
                    )

    # -- cache and checks ------------------------------------------------------------------

    def _serve_cache_hits(self, calls: Iterable[Call], handled: set[tuple[str, int]],
                          finished: set[tuple[str, str, int]]) -> bytearray:
        """Commit cache hits as the runner would, and refuse, before anything is written or uploaded,
        a miss whose prompt does not fit the model's context window (the same check the online
        routes make before each call). Returns one flag a call, in the order of ``calls``: 1 for a
        miss to send, 0 for a call served, finished or in a resumed batch.

        Raises:
            DataError: one line naming the role, the item and the window (every hit is stored first).
        """
        to_send = bytearray()
        hits: list[CallResult] = []
        refused: str | None = None
        for call in calls:
            if (call.item_id, call.repeat) in handled or (call.item_id, call.model, call.repeat) in finished:
                to_send.append(0)
                continue
            key = cache_key(self.model_id, call.request, call.repeat)
            hit = self.cache.get(key) if self.cache is not None else None
            if hit is None:
                to_send.append(1)
                if refused is None:
                    refused = self._prompt_refusal(call)
                continue
            to_send.append(0)
            hits.append(CallResult(
                call.item_id, call.model, call.repeat, "ok", text=hit.text,
                input_tokens=hit.input_tokens, output_tokens=hit.output_tokens, latency_ms=hit.latency_ms,
                cost_usd=0.0, cache_hit=True, cached_input_tokens=hit.cached_input_tokens,
                cache_write_tokens=hit.cache_write_tokens, finish_reason=hit.finish_reason,
                confidence=hit.confidence, confidence_basis=hit.confidence_basis,
            ))
            if len(hits) >= WRITE_BATCH:
                self.store.add_many(hits)
                self.cache_hits += len(hits)
                hits = []
        self.store.add_many(hits)
        self.store.flush()
        self.cache_hits += len(hits)
        if refused is not None:
            raise DataError(refused)
        return to_send

    def _prompt_refusal(self, call: Call) -> str | None:
        """Why ``call``'s prompt cannot be sent (it does not fit the model's window), or None."""
        try:
            check_prompt_fits(self.model_id, call.request)
        except BackendError as err:
            return f"--batch: {self.role} model, item {call.item_id}: {err}; no batch was submitted"
        return None

    # -- submission ------------------------------------------------------------------------

    async def _submit_windows(self, calls: Iterable[Call], to_send: bytearray) -> AsyncIterator[BatchJob]:
        """Write and submit the calls flagged in ``to_send``, one batch at a time, split so no batch
        passes the provider's request or byte limit; yields each job once its id is recorded. Only
        the open batch's request rows are held; each line goes to its request file as it is drawn."""
        window: _Window | None = None
        try:
            for call, send in zip(calls, to_send):
                if not send:
                    continue
                line = self.client.request_line(_PLACEHOLDER_ID, call.request)
                # Sized under a placeholder id as long as any real one (``c<chunk>-<index>``).
                line_bytes = len(json.dumps(line, ensure_ascii=False).encode()) + 1
                if window is not None and window.full(line_bytes, self.client.max_requests, self.client.max_bytes):
                    yield await self._submit(window)
                    window = None
                if window is None:
                    window = self._open_window()
                custom_id = f"c{window.number}-{len(window.rows)}"
                line["custom_id"] = custom_id  # the line the request writer makes under that id, built once
                key = cache_key(self.model_id, call.request, call.repeat)
                window.add(json.dumps(line, ensure_ascii=False) + "\n", line_bytes,
                           BatchRequestRow(custom_id, call.item_id, call.repeat, key))
            if window is not None:
                yield await self._submit(window)
                window = None
        finally:
            if window is not None:
                window.handle.close()  # a run stopped mid-batch: its .tmp file is never submitted

    def _open_window(self) -> "_Window":
        number = self.ledger.next_chunk(self.role)
        path = self._requests_file(number)
        return _Window(number, path, open(path.with_name(path.name + ".tmp"), "w", encoding="utf-8"))

    async def _submit(self, window: "_Window") -> BatchJob:
        """Close the request file, record the job, submit it, record its id."""
        window.handle.close()
        window.path.with_name(window.path.name + ".tmp").replace(window.path)
        job = self.ledger.add_job(self.role, self.client.provider, uuid.uuid4().hex, window.rows)
        return await self._send(job)

    def _requests_file(self, chunk: int) -> Path:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        return self.work_dir / f"batch-{self.role}-{chunk}.jsonl"

    async def _send(self, job: BatchJob) -> BatchJob:
        path = self._requests_file(job.chunk)
        if not path.is_file():
            self._rewrite_requests_file(job, path)
        batch_id = await self.client.submit(path, job_token=job.job_token)
        job = self.ledger.set_batch_id(job, batch_id)
        self.submitted += job.requests
        self._log(f"{self.role}: submitted {job.requests:,} requests as {self.client.provider} batch {batch_id}")
        return job

    def _rewrite_requests_file(self, job: BatchJob, path: Path) -> None:
        """Write a job's request file again from the ledger's rows and this run's calls (the same
        requests: ``_check_same_requests`` refused any that changed), when it is gone. One pass
        over the calls keeps the requests of this job only (one batch's worth)."""
        rows = self.ledger.requests(job)
        wanted = {(row.item_id, row.repeat) for row in rows.values()}
        requests = {(call.item_id, call.repeat): call.request for call in self._source
                    if (call.item_id, call.repeat) in wanted}
        temporary = path.with_name(path.name + ".tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            for custom_id, row in rows.items():
                request = requests.get((row.item_id, row.repeat))
                if request is None:
                    raise ConfigurationError(f"--batch: {path.name} is gone and item {row.item_id!r} is no longer in "
                                             "the run's data, so the batch cannot be sent again; start a new run")
                handle.write(json.dumps(self.client.request_line(custom_id, request), ensure_ascii=False) + "\n")
        temporary.replace(path)

    async def _ensure_submitted(self, job: BatchJob) -> BatchJob:
        """A job recorded but killed before its batch id came back: adopt the batch it made, or
        submit it now if it never reached the provider."""
        if job.batch_id is not None:
            return job
        known = {str(other.batch_id) for other in self.ledger.jobs(self.role) if other.batch_id}
        # A minute of slack for a provider clock behind ours.
        found = await self.client.find_submitted(
            job.job_token, requests=job.requests, not_before=job.created_at - 60, known=known
        )
        if found is not None:
            self._log(f"{self.role}: found batch {found}, submitted before the process stopped; polling it")
            return self.ledger.set_batch_id(job, found)
        return await self._send(job)

    # -- polling and results ---------------------------------------------------------------

    async def _wait_and_collect(self, jobs: list[BatchJob]) -> None:
        waiting = list(jobs)
        delay = self.options.poll_initial_s
        while waiting:
            still = []
            for job in waiting:
                status = await self._status(job)
                if status is None or not status.ended:
                    still.append(job)
                    if status is not None:
                        self._progress(job, status.done, status.total or job.requests, status.state)
                    continue
                self._progress(job, status.done, status.total or job.requests, status.state)
                await self._collect(job, status.state)
            waiting = still
            if waiting:
                await self._sleep(delay)
                delay = min(delay * self.options.poll_factor, self.options.poll_max_s)

    async def _status(self, job: BatchJob) -> Any:
        try:
            return await self.client.status(str(job.batch_id))
        except BackendError as err:
            if err.kind in ("unavailable", "rate_limited", "timeout"):
                self._log(f"{self.role}: batch {job.batch_id}: status check failed ({err.kind}); trying again")
                return None
            raise
        except OSError as err:  # the connection dropped: poll again later
            self._log(f"{self.role}: batch {job.batch_id}: status check failed ({err}); trying again")
            return None

    def _progress(self, job: BatchJob, done: int, total: int, state: str) -> None:
        elapsed = _elapsed(time.time() - job.created_at)
        self._log(f"{self.role} batch {job.batch_id}: {done:,} / {total:,} done ({state}), elapsed {elapsed}")

    async def _collect(self, job: BatchJob, state: str) -> None:
        """Write every request's result to the run store (and successes to the cache), then mark the job collected."""
        requests = self.ledger.requests(job)
        seen: set[str] = set()
        results: list[CallResult] = []
        puts: list[tuple[str, Any]] = []
        async for outcome in self.client.results(str(job.batch_id)):
            row = requests.get(outcome.custom_id)
            if row is None or outcome.custom_id in seen:
                continue
            seen.add(outcome.custom_id)
            result, completion = self._result(row, outcome)
            results.append(result)
            if completion is not None:
                puts.append((row.cache_key, completion))
            if len(results) >= WRITE_BATCH:
                self._write(results, puts)
                results, puts = [], []
        for custom_id, row in requests.items():
            if custom_id not in seen:
                results.append(CallResult(
                    row.item_id, self.role, row.repeat, "error", error_kind="missing", attempts=1,
                    error_message=f"{self.model_id}: the batch {job.batch_id} ended ({state}) without a result for it",
                ))
        self._write(results, puts)
        self.ledger.mark_collected(job)
        # Every result is stored and the ledger keeps the batch: the request file is not needed again.
        self._requests_file(job.chunk).unlink(missing_ok=True)

    def _result(self, row: BatchRequestRow, outcome: BatchOutcome) -> tuple[CallResult, Any]:
        if outcome.completion is None:
            error = outcome.error or BackendError(f"{self.model_id}: no result", kind="error")
            if error.billed is not None and self.price is not None:
                # Answered and billed at the batch tier, but no usable answer (lost to thinking, refused).
                billed = error.billed
                error.billed = dataclasses.replace(billed, cost_usd=request_cost_usd(
                    self.price, billed.input_tokens, billed.output_tokens,
                    cached_input_tokens=billed.cached_input_tokens, cache_write_tokens=billed.cache_write_tokens,
                    batch=True,
                ))
            return error_result(row.item_id, self.role, row.repeat, error, attempts=1), None
        completion = outcome.completion
        cost_usd = 0.0
        if self.price is not None:
            cost_usd = request_cost_usd(
                self.price, completion.input_tokens, completion.output_tokens,
                cached_input_tokens=completion.cached_input_tokens, cache_write_tokens=completion.cache_write_tokens,
                batch=True,
            )
        completion = dataclasses.replace(completion, cost_usd=cost_usd, latency_ms=None)
        result = CallResult(
            row.item_id, self.role, row.repeat, "ok", text=completion.text,
            input_tokens=completion.input_tokens, output_tokens=completion.output_tokens, latency_ms=None,
            cost_usd=cost_usd, attempts=1, cached_input_tokens=completion.cached_input_tokens,
            cache_write_tokens=completion.cache_write_tokens, finish_reason=completion.finish_reason,
            confidence=completion.confidence, confidence_basis=completion.confidence_basis,
        )
        return result, completion

    def _write(self, results: list[CallResult], puts: list[tuple[str, Any]]) -> None:
        self.store.add_many(results)
        if self.cache is not None and puts:
            self.cache.put_many(self.model_id, puts)

    def _results_for(self, calls: Iterable[Call]) -> list[CallResult]:
        stored = {(r.item_id, r.repeat): r for r in self.store.results(self.role)}
        return [stored[(call.item_id, call.repeat)] for call in calls if (call.item_id, call.repeat) in stored]

    def close(self) -> None:
        """Close the ledger's connection."""
        self.ledger.close()



async def run_model_in_batches(
    role: str,
    model: "ModelSpec",
    calls: Iterable[Call],
    *,
    store: RunStore,
    cache: ResponseCache | None,
    price: ModelPrice,
    work_dir: Path,
    options: BatchOptions,
    results: bool = True,
) -> list[CallResult]:
    """Every call of one model role of a spec through its provider's batch API (``calls``: iterable
    more than once; ``results``: False returns ``[]`` and reads nothing back, see ``BatchJobRunner.run``).

    Reads the role's API key, opens the provider's batch client, runs ``BatchJobRunner`` and
    closes both; the store and cache stay the caller's.
    """
    from distilleval.backends.batch_factory import batch_client_for
    from distilleval.backends.credentials import resolve_api_key

    api_key = resolve_api_key(model.model, api_key_env=model.api_key_env, api_base=model.api_base, role=role)
    client = batch_client_for(role, model.model, api_base=model.api_base, api_key=api_key, prompt_cache=model.prompt_cache)
    runner = BatchJobRunner(
        role, model.model, client, store=store, cache=cache, price=price, work_dir=work_dir, options=options
    )
    try:
        return await runner.run(calls, results=results)
    finally:
        runner.close()
        await client.aclose()
