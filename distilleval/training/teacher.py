"""Run a spec's teacher over items through the shared runner and response cache.

``label`` and ``validate`` both need "the teacher's answer for each of these items"; this is
that one step, built on ``distilleval.run.runner`` (retries, concurrency, cache), the backend
factory and ``messages.build_messages`` so the teacher sees exactly what ``eval`` sends it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from distilleval.backends.base import Backend, ChatRequest
from distilleval.costs.pricing import PricingTable
from distilleval.run.runner import Call, CallResult, Progress, Runner, RunnerOptions
from distilleval.spec.data import Item
from distilleval.spec.task_spec import TaskSpec

if TYPE_CHECKING:
    from distilleval.run.batch import BatchOptions

TEACHER = "teacher"


def teacher_calls(spec: TaskSpec, items: Sequence[Item]) -> list[Call]:
    """One teacher call per item, with the rubric prompt and the spec's sampling settings."""
    from distilleval.spec.messages import build_messages

    model = spec.teacher
    return [
        Call(
            item_id=item.id,
            model=TEACHER,
            request=ChatRequest(
                messages=build_messages(model, item, spec.data.image_inputs),
                max_tokens=model.max_tokens,
                temperature=model.temperature,
                stop=tuple(model.stop),
                reasoning_effort=model.reasoning_effort,
                thinking_budget_tokens=model.thinking_budget_tokens,
            ),
        )
        for item in items
    ]


def run_teacher(
    spec: TaskSpec,
    items: Sequence[Item],
    *,
    pricing: PricingTable,
    cache_path: Path | None,
    concurrency: int = 16,
    max_retries: int = 4,
    backend: Backend | None = None,
) -> list[CallResult]:
    """The teacher's final result for every item, in item order.

    Args:
        spec: the task spec (its ``teacher`` role is called).
        items: the items to send.
        pricing: prices the calls (the teacher must be priced: a missing price is an error).
        cache_path: the response cache file; None calls every item afresh.
        concurrency: calls in flight at once.
        max_retries: retries of a retryable failure.
        backend: use this backend instead of building one from the spec (tests).

    Raises:
        PricingError / ConfigurationError: before any call.
        RunAborted: the teacher cannot be used at all (bad key, unreachable endpoint).
    """
    return run_teacher_calls(spec, teacher_calls(spec, items), pricing=pricing, cache_path=cache_path,
                             concurrency=concurrency, max_retries=max_retries, backend=backend)


def run_teacher_calls(
    spec: TaskSpec,
    calls: Sequence[Call],
    *,
    pricing: PricingTable,
    cache_path: Path | None,
    concurrency: int = 16,
    max_retries: int = 4,
    backend: Backend | None = None,
    description: str = "teacher",
) -> list[CallResult]:
    """The final result of every call to the spec's teacher, in call order (``run_teacher``
    for requests it does not build itself, e.g. ``iterate``'s generation prompts).

    Arguments and errors as ``run_teacher``; ``description`` labels the progress bar.
    """
    from distilleval.backends.factory import build_backend, check_reachable
    from distilleval.run.cache import ResponseCache
    from distilleval.run.lazy import LazyBackend, roles_with_misses

    calls = list(calls)
    if backend is None:
        pricing.price_for(spec.teacher.pricing_key)
        if roles_with_misses(calls, {TEACHER: spec.teacher.model}, cache_path):
            backend = build_backend(TEACHER, spec.teacher, pricing=pricing, calls=len(calls), concurrency=concurrency)
            check_reachable(TEACHER, spec.teacher)
        else:  # every answer is cached: no provider SDK, key or endpoint needed unless one goes missing
            backend = LazyBackend(spec.teacher.model, lambda: build_backend(TEACHER, spec.teacher, pricing=pricing))
    options = RunnerOptions(
        concurrency=concurrency, max_retries=max_retries, timeout_s={TEACHER: spec.teacher.timeout_s}
    )

    async def go() -> list[CallResult]:
        cache = ResponseCache(cache_path) if cache_path is not None else None
        try:
            with Progress(len(calls), description=description) as progress:
                return await Runner({TEACHER: backend}, options=options, cache=cache, progress=progress).run(calls)
        finally:
            if cache is not None:
                cache.close()
            await backend.aclose()

    return asyncio.run(go())


def run_teacher_batch(
    spec: TaskSpec,
    items: Sequence[Item],
    *,
    pricing: PricingTable,
    cache_path: Path | None,
    run_dir: Path,
    options: "BatchOptions | None" = None,
) -> list[CallResult]:
    """The teacher's final result for every item, through its provider's batch API.

    The same calls (and cache keys) as ``run_teacher``; ``run_dir`` holds the run store with
    the batch ids, so running this again with the same ``run_dir`` resumes the batches it
    submitted instead of submitting them again.

    Raises:
        ConfigurationError: the teacher's provider has no batch API, or no batch price.
        PricingError: the teacher has no price.
    """
    from distilleval.backends.batch_api import check_batch_capable
    from distilleval.run.batch import BatchOptions, run_model_in_batches
    from distilleval.run.cache import ResponseCache
    from distilleval.run.store import RunStore

    model = spec.teacher
    check_batch_capable(TEACHER, model.model)
    price = pricing.price_for(model.pricing_key)
    calls = teacher_calls(spec, items)

    async def go() -> list[CallResult]:
        cache = ResponseCache(cache_path) if cache_path is not None else None
        store = RunStore(run_dir)
        try:
            return await run_model_in_batches(
                TEACHER, model, calls, store=store, cache=cache, price=price, work_dir=run_dir,
                options=options or BatchOptions(),
            )
        finally:
            store.close()
            if cache is not None:
                cache.close()

    return asyncio.run(go())
