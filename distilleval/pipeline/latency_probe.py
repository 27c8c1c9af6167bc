"""Latency beside accuracy: the conditions of the throughput run, and the unloaded probe.

The throughput run times every call at the run's concurrency, which is what a busy service
sees ("latency under load at concurrency C"), and the runner samples the event loop's lag while
each model's calls are in flight. The probe (spec ``latency: {probe_calls: N, concurrency: K}``
or ``--latency-probe N@K``) then re-makes the first N eval items' calls at concurrency K with the
response cache bypassed: fresh calls, paid for, and timed on a calm client ("latency,
unloaded"). Both are kept in the run store's meta table and become ``ModelResult.latency``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from distilleval.results.summary_json import LatencyFigures

UNDER_LOAD = "latency_under_load"
PROBE = "latency_probe"


def record_under_load(store: Any, runner: Any, concurrency: int, roles: Sequence[str]) -> None:
    """Keep, per role the runner called, the run's concurrency, its event-loop lag figures and
    whether its latency is client-bound (``distilleval.results.latency``)."""
    from distilleval.results.build import distribution
    from distilleval.results.latency import client_bound_reason

    recorded = dict(store.get_meta(UNDER_LOAD, {}))
    for role in roles:
        lag = distribution(runner.loop_lag_ms.get(role, []))
        reason = client_bound_reason(lag, distribution(store.answer_latencies(role)))
        recorded[role] = {
            "concurrency": concurrency,
            "loop_lag_ms": lag.model_dump() if lag is not None else None,
            "client_bound": reason is not None,
            "client_bound_reason": reason,
        }
    store.set_meta(UNDER_LOAD, recorded)


def roles_to_probe(store: Any, roles: Sequence[str], probe_calls: int) -> list[str]:
    """The roles a probe of ``probe_calls`` calls still has to be made for (a resumed run keeps
    its earlier probe: it was paid for)."""
    if probe_calls <= 0:
        return []
    done = store.get_meta(PROBE, {})
    return [role for role in roles if role not in done]


async def run_probe(
    backends: Mapping[str, Any],
    calls: Sequence[Any],
    *,
    concurrency: int,
    timeout_s: Mapping[str, float],
    max_retries: int,
    store: Any,
    price_of: Callable[[str, Any], float],
) -> None:
    """Make ``calls`` afresh (no cache) at ``concurrency`` and record their latency per role.

    Args:
        backends: role -> backend.
        calls: the probe's calls (the first N eval items, per role).
        concurrency: calls in flight during the probe.
        timeout_s: per-role timeout.
        max_retries: retries of a failed call (a retried call's latency is its last attempt's).
        store: the run store; the figures go to its meta table under ``latency_probe``.
        price_of: (role, call result) -> what the call cost at this run's pricing table.
    """
    from distilleval.results.build import distribution
    from distilleval.run.runner import Runner, RunnerOptions

    options = RunnerOptions(concurrency=concurrency, max_retries=max_retries, timeout_s=dict(timeout_s))
    runner = Runner(backends, options=options, cache=None)
    results = await runner.run(calls)
    recorded = dict(store.get_meta(PROBE, {}))
    for role in sorted({call.model for call in calls}):
        mine = [r for r in results if r.model == role]
        ok = [r for r in mine if r.ok and r.latency_ms is not None]
        recorded[role] = {
            "concurrency": concurrency,
            "latency_ms": [r.latency_ms for r in ok],
            "errors": len(mine) - len(ok),
            "spent_usd": sum(price_of(role, r) for r in ok),
            "loop_lag_ms": lag.model_dump() if (lag := distribution(runner.loop_lag_ms.get(role, []))) else None,
        }
    store.set_meta(PROBE, recorded)


def latency_context(store: Any, role: str) -> LatencyFigures | None:
    """What the run store recorded about how ``role``'s latency was measured (None: nothing)."""
    from distilleval.results.build import distribution
    from distilleval.results.summary_json import Distribution

    under_load = store.get_meta(UNDER_LOAD, {}).get(role)
    probe = store.get_meta(PROBE, {}).get(role)
    if under_load is None and probe is None:
        return None
    figures = LatencyFigures()
    if under_load is not None:
        lag = under_load.get("loop_lag_ms")
        figures = figures.model_copy(update={
            "concurrency": under_load.get("concurrency"),
            "loop_lag_ms": Distribution.model_validate(lag) if lag else None,
        })
    if probe is not None:
        figures = figures.model_copy(update={
            "unloaded_ms": distribution(probe["latency_ms"]),
            "unloaded_concurrency": probe["concurrency"],
            "probe_errors": probe["errors"],
            "probe_spent_usd": probe["spent_usd"],
            "unloaded_loop_lag_ms": Distribution.model_validate(probe["loop_lag_ms"]) if probe.get("loop_lag_ms") else None,
        })
    return figures
