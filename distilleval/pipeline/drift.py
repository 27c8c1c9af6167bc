"""Re-ask a run's models a pinned set of canary items and compare with what they answered then.

The canaries are the eval items of the earlier run first in a fixed hash order (``CANARY_SALT``),
so every check asks the same items. The requests are exactly the earlier run's (same messages and
settings, through the same runner), but the response cache is never read: it would hand back the
old answer, and drift would always look like zero. Each fresh answer is committed to the drift
folder's own run store the moment it arrives, so a killed check continues there without paying
twice; a finished folder is compared again at $0.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distilleval.costs.cost_model import request_cost_usd
from distilleval.costs.pricing import PricingTable
from distilleval.errors import DataError, DistillevalError
from distilleval.results.drift import DriftComparison, compare_answers, minimum_canaries
from distilleval.run.runner import Call, CallResult
from distilleval.spec.data import Item, load_items, order_key
from distilleval.spec.task_spec import TaskSpec

CANARY_SALT = "drift-canary"
DRIFT_META = "drift"
DRIFT_FILE = "drift.json"


@dataclass
class DriftPlan:
    """What a drift check asks: the earlier run, the canaries, the roles, and the calls still to make."""

    spec: TaskSpec
    against: Path
    out: Path
    roles: list[str]
    canaries: list[Item]
    before: dict[str, dict[str, CallResult]]
    calls: list[Call]
    estimated_cost_usd: float
    identity_note: str | None = None


def _marker(against: Path, roles: list[str], canaries: list[Item]) -> dict[str, Any]:
    """What a drift folder is a check of: the earlier run, the roles and the canaries (by a hash of their ids)."""
    ids = json.dumps(sorted(item.id for item in canaries))
    return {"against": str(against.resolve()), "roles": roles, "canaries": hashlib.sha256(ids.encode()).hexdigest()}


def choose_canaries(items: list[Item], count: int) -> list[Item]:
    """The first ``count`` items in the canary order: the same items every time, whatever the row order."""
    return sorted(items, key=lambda item: order_key(item.id, CANARY_SALT))[:count]


def _read_earlier_run(against: Path) -> tuple[dict[str, list[CallResult]], dict[str, Any] | None]:
    from distilleval.run.identity import IDENTITY_META
    from distilleval.run.store import RECORDS_FILE, RunStore

    if not (against / RECORDS_FILE).is_file():
        raise DataError(f"--against {against}: no run found (looked for {against / RECORDS_FILE})")
    with RunStore(against) as store:
        by_role: dict[str, list[CallResult]] = {}
        for result in store.results():
            by_role.setdefault(result.model, []).append(result)
        return by_role, store.get_meta(IDENTITY_META)


def _same_requests(spec: TaskSpec, pricing: PricingTable, roles: list[str], recorded: dict[str, Any] | None, against: Path) -> str | None:
    """Refuse when the spec would now send other requests than the earlier run did (another data
    file, prompt or model setting): drift would then measure the edit, not the model."""
    from distilleval.run.identity import identity_change, run_identity

    if recorded is None:
        return f"{against} records no identity (made by an older distilleval): the prompts were not compared"
    current = run_identity(spec, pricing, roles=roles, data_file=spec.resolve(spec.data.path), include_spec=False)
    wanted = {name: part for name, part in current.items() if not name.startswith("pricing.")}
    change = identity_change(recorded, wanted)
    if change is not None:
        raise DistillevalError(
            f"--against {against}: {change.replace('since this run started', 'since that run')}; drift re-sends that "
            "run's requests, so check against a run of this spec as it is now"
        )
    return None


def _estimated_cost(calls: list[Call], before: dict[str, dict[str, CallResult]], spec: TaskSpec, pricing: PricingTable) -> float:
    """Each call priced with the tokens the earlier run measured for the same item (the role's mean where it has none)."""
    models = spec.models()
    total = 0.0
    for role in {call.model for call in calls}:
        price = pricing.price_for(pricing.key_for(models[role]))
        measured = [r for r in before[role].values() if r.input_tokens is not None]
        mean_in = sum(r.input_tokens or 0 for r in measured) / len(measured) if measured else 0.0
        mean_out = sum(r.output_tokens or 0 for r in measured) / len(measured) if measured else 0.0
        for call in (c for c in calls if c.model == role):
            old = before[role].get(call.item_id)
            tokens_in = old.input_tokens if old is not None and old.input_tokens is not None else mean_in
            tokens_out = old.output_tokens if old is not None and old.output_tokens is not None else mean_out
            total += request_cost_usd(price, tokens_in, tokens_out)
    return total


def plan_drift(
    spec: TaskSpec,
    against: Path,
    *,
    out: Path,
    canaries: int,
    pricing: PricingTable,
    roles: list[str] | None = None,
) -> DriftPlan:
    """Everything decided before any call: canaries, roles, the calls the drift folder still lacks, their cost.

    Raises:
        DataError: ``against`` is no run, or holds none of the spec's eval items.
        DistillevalError: too few canaries to ever pass, a role the run never called, the spec now
            sends other requests than that run did, or ``out`` holds a check of another run.
    """
    from distilleval.pipeline.evaluate import _call_for  # the very request `eval` sent
    from distilleval.run.store import RunStore

    stored, recorded = _read_earlier_run(against)
    models = spec.models()
    called = [role for role in models if any(r.ok for r in stored.get(role, []))]
    roles = called if roles is None else roles
    unknown = [role for role in roles if role not in called]
    if unknown or not roles:
        raise DistillevalError(f"--models: {', '.join(unknown) or '(none)'}: {against} has no answers of it; "
                               f"it has answers of {', '.join(called) or 'no model of this spec'}")
    floor = minimum_canaries(spec.gates.max_teacher_drift, alpha=spec.gates.alpha)
    if canaries < floor:
        raise DistillevalError(
            f"--canaries {canaries}: too few to show a change below gates.max_teacher_drift "
            f"{spec.gates.max_teacher_drift:.1%} at alpha {spec.gates.alpha}: even with no change at least {floor} are needed"
        )
    note = _same_requests(spec, pricing, roles, recorded, against)
    answered = {r.item_id for role in roles for r in stored.get(role, [])}
    pool = [item for item in load_items(spec) if item.split == "eval" and item.id in answered]
    if not pool:
        raise DataError(f"--against {against}: the run holds none of {spec.name}'s eval items")
    chosen = choose_canaries(pool, canaries)
    before = {role: {r.item_id: r for r in stored.get(role, []) if r.repeat == 0} for role in roles}
    marker = _marker(against, roles, chosen)
    finished: set[tuple[str, str, int]] = set()
    if (out / "records.sqlite").is_file():
        with RunStore(out) as store:
            previous = store.get_meta(DRIFT_META)
            if previous is not None and previous != marker:
                raise DistillevalError(
                    f"{out}: holds a drift check of other canaries, roles or run ({previous['against']}); "
                    "choose another --out to start this one"
                )
            finished = store.finished_keys()
    calls = [_call_for(spec, role, item) for item in chosen for role in roles if (item.id, role, 0) not in finished]
    return DriftPlan(spec=spec, against=against, out=out, roles=roles, canaries=chosen, before=before, calls=calls,
                     estimated_cost_usd=_estimated_cost(calls, before, spec, pricing), identity_note=note)


def call_canaries(plan: DriftPlan, pricing: PricingTable, *, concurrency: int, max_retries: int) -> None:
    """Make the plan's calls, never through the response cache, each answer committed to the drift folder's store."""
    import asyncio

    from distilleval.backends.factory import build_backend, check_reachable
    from distilleval.run.runner import Progress, Runner, RunnerOptions
    from distilleval.run.store import RunStore

    spec = plan.spec
    models = spec.models()
    roles = sorted({call.model for call in plan.calls})
    backends = {}
    for role in roles:
        backends[role] = build_backend(role, models[role], pricing=pricing, calls=len(plan.calls), concurrency=concurrency)
        check_reachable(role, models[role])
    options = RunnerOptions(concurrency=concurrency, max_retries=max_retries,
                            timeout_s={role: models[role].timeout_s for role in roles})

    async def go(store: RunStore) -> None:
        try:
            with Progress(len(plan.calls), description=f"{spec.name}: drift") as progress:
                await Runner(backends, options=options, cache=None, on_result=store.add, progress=progress).run(plan.calls)
        finally:
            for backend in backends.values():
                await backend.aclose()

    with RunStore(plan.out) as store:
        store.set_meta(DRIFT_META, _marker(plan.against, plan.roles, plan.canaries))
        if plan.calls:
            asyncio.run(go(store))


@dataclass
class RoleDrift:
    """One role's comparison, with the model versions the provider named then and now."""

    comparison: DriftComparison
    model: str
    versions_before: dict[str, int]
    versions_after: dict[str, int]
    failed_now: int

    @property
    def version_note(self) -> str | None:
        """A line when the provider named another model version now than then."""
        named_before = {v for v in self.versions_before if v != "(not recorded)"}
        if not named_before:
            return "the earlier run did not record the model version the provider named" if self.versions_after else None
        if set(self.versions_after) - named_before:
            return (f"the provider named another model version: then {', '.join(sorted(named_before))}; "
                    f"now {', '.join(sorted(self.versions_after))}")
        return None


def _canonical(scores: list[Any], texts: list[str | None]) -> list[str]:
    return [s.canonical if s.canonical is not None else (t or "").strip() for s, t in zip(scores, texts)]


def compare_drift(plan: DriftPlan) -> list[RoleDrift]:
    """Each role's answers now (from the drift folder's store) against the earlier run's, item by item."""
    from distilleval.run.store import RunStore
    from distilleval.scoring import build_scorer

    spec = plan.spec
    with RunStore(plan.out) as store:
        after = {role: {r.item_id: r for r in store.results(role) if r.repeat == 0} for role in plan.roles}
    results: list[RoleDrift] = []
    with build_scorer(spec) as scorer:
        for role in plan.roles:
            items = [item for item in plan.canaries
                     if (old := plan.before[role].get(item.id)) is not None and old.ok
                     and (new := after[role].get(item.id)) is not None and new.ok]
            old_texts = [plan.before[role][item.id].text for item in items]
            new_texts = [after[role][item.id].text for item in items]
            old_scores, new_scores = scorer.score_items(old_texts, items), scorer.score_items(new_texts, items)
            gold = [i for i, item in enumerate(items) if item.gold is not None
                    and old_scores[i].score in (0, 1) and new_scores[i].score in (0, 1)]
            comparison = compare_answers(
                role, _canonical(old_scores, old_texts), _canonical(new_scores, new_texts),
                threshold=spec.gates.max_teacher_drift, alpha=spec.gates.alpha,
                right_before=[old_scores[i].score == 1 for i in gold], right_after=[new_scores[i].score == 1 for i in gold],
                by_class=spec.output.kind == "label",
            )
            canary_ids = {item.id for item in plan.canaries}
            results.append(RoleDrift(
                comparison=comparison, model=spec.models()[role].model,
                versions_before=dict(Counter(r.served_model or "(not recorded)" for i, r in plan.before[role].items()
                                             if i in canary_ids and r.ok)),
                versions_after=dict(Counter(r.served_model for r in after[role].values() if r.ok and r.served_model)),
                failed_now=sum(1 for r in after[role].values() if not r.ok),
            ))
    return results


def drift_json(plan: DriftPlan, roles: list[RoleDrift], *, pricing_label: str, spent_usd: float) -> dict[str, Any]:
    """The drift check as a JSON-serialisable object (``drift.json`` in the drift folder)."""
    from dataclasses import asdict

    return {
        "spec": plan.spec.name,
        "against": str(plan.against),
        "canaries": len(plan.canaries),
        "canary_ids": [item.id for item in plan.canaries],
        "threshold": plan.spec.gates.max_teacher_drift,
        "alpha": plan.spec.gates.alpha,
        "passed": all(role.comparison.passed for role in roles),
        "spent_usd": spent_usd,
        "pricing_table": pricing_label,
        "identity_note": plan.identity_note,
        "models": [
            {**asdict(role.comparison), "changed_share": role.comparison.changed_share, "model": role.model,
             "versions_before": role.versions_before, "versions_after": role.versions_after,
             "version_note": role.version_note, "failed_now": role.failed_now}
            for role in roles
        ],
    }
