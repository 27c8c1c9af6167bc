"""One recommendation across every arm, why each cheaper arm was rejected, and how many items would settle it.

Without a price on wrong answers the recommendation is the cheapest arm shown non-inferior to the
teacher (the teacher's own configurations are the reference and always qualify). With
``decision.cost_per_error_usd`` it is the arm with the lowest monthly total (inference plus
wrong answers) at the spec's largest daily volume; when its total's interval overlaps the
runner-up's, the choice is said to be not settled.

An arm other than the teacher qualifies when, in order: it was scored in this run; it failed at
most ``gates.max_error_rate`` of its calls; it reaches ``gates.student_min`` when set; and (without
priced errors) it is shown non-inferior at ``gates.non_inferiority_margin``. The non-inferiority
tests of every model arm against the teacher are one family, decided together by Holm's step-down
at ``gates.alpha`` on the one-sided p-values of Tango's score test (0/1 scores), or, for other
scores, each at ``alpha / K`` (Bonferroni) with the paired difference's own bounds: so naming the
cheapest arm that passes does not pass a noisy arm more often than ``alpha``. A cascade qualifies
through its own guarantee (its error rate at most the fallback's plus the margin with probability
at least 1 − δ), only when its fallback is the teacher.

When non-inferiority is inconclusive for a 0/1-scored arm, ``results.sample_size`` says how many
paired items would show it with ``decision.power`` at the observed discordance and the level the
Holm step used, or that no number will when the observed difference is at or below −margin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from distilleval.costs.cost_model import format_usd
from distilleval.report.arms import Arm, ArmTable, build_arms
from distilleval.report.figures import Figures
from distilleval.results.sample_size import SampleSize, items_for_power


@dataclass(frozen=True)
class NonInferiorityTest:
    """One arm against the teacher, decided within the family."""

    decision: str
    difference: float | None
    n_paired: int
    level: float
    method: str
    a_only: int | None = None
    b_only: int | None = None
    adjusted_p: float | None = None


@dataclass(frozen=True)
class ArmJudgement:
    """How one arm fared: recommended, reference (the teacher), rejected (with why) or costlier."""

    arm: Arm
    status: str
    reason: str
    test: NonInferiorityTest | None = None
    evidence: SampleSize | None = None


@dataclass
class Recommendation:
    """The recommended arm, the basis it was chosen on and every arm's judgement."""

    arm: Arm | None
    basis: str
    text: str
    settled: bool
    judgements: list[ArmJudgement] = field(default_factory=list)
    table: ArmTable | None = None
    volume_per_day: int | None = None

    @property
    def rejected(self) -> list[ArmJudgement]:
        """The arms rejected, with their reasons."""
        return [j for j in self.judgements if j.status == "rejected"]


def _ni_p_value(a_only: int, b_only: int, n: int, margin: float) -> float:
    """One-sided p of the non-inferiority test at ``margin`` (Tango's continuity-corrected score z)."""
    import statistics as stdlib_statistics

    from distilleval.results.paired_proportions import score_z

    z = float(score_z(a_only, b_only, n, -margin, side=1))
    return 1.0 - stdlib_statistics.NormalDist().cdf(z)


def _family_tests(f: Figures, arms: list[Arm]) -> dict[str, NonInferiorityTest]:
    """Arm name -> its non-inferiority test against the teacher, decided as one family (module docstring)."""
    from distilleval.results.families import discordant_counts, holm, is_binary
    from distilleval.results.item_results import paired_item_scores
    from distilleval.results.paired_proportions import rejects_at_or_above
    from distilleval.results.statistics import paired_difference

    teacher = f.teacher
    if teacher is None or teacher.result.metric is None or teacher.result.metric.value is None:
        return {}
    pairs = {}
    for arm in arms:
        if arm.kind in ("teacher", "cascade") or arm.accuracy is None or arm.basis != "measured":
            continue
        a, b = paired_item_scores(f.summary, teacher.key, f.summary, arm.key)  # type: ignore[arg-type]
        if len(a):
            pairs[arm.name] = (a, b)
    if not pairs:
        return {}
    margin, alpha, k = f.margin, f.alpha, len(pairs)
    binary = {name: is_binary(a) and is_binary(b) for name, (a, b) in pairs.items()}
    # On 0/1 scores a > b is a 1 against a 0: the discordant counts.
    counts = {name: (*discordant_counts(a, b), len(a)) for name, (a, b) in pairs.items() if binary[name]}
    holm_names = list(counts)
    decisions = dict(zip(holm_names, holm([_ni_p_value(*counts[n], margin) for n in holm_names], alpha)))
    tests = {}
    for name, (a, b) in pairs.items():
        if binary[name]:
            a_only, b_only, n = counts[name]
            step = decisions[name]
            if step.rejected:
                decision = "non-inferior"
            elif bool(rejects_at_or_above(a_only, b_only, n, -margin, step.level)):
                decision = "inferior"
            else:
                decision = "inconclusive"
            method = (f"Tango score test, Holm-corrected over {k} arm{'s' if k != 1 else ''} at one-sided α = {alpha:g}"
                      if k > 1 else f"Tango score test, one-sided α = {alpha:g}")
            tests[name] = NonInferiorityTest(decision, (b_only - a_only) / n, n, step.level, method, a_only, b_only,
                                             step.adjusted_p)
        else:
            result = paired_difference(a, b, margin=margin, alpha=alpha / k)
            tests[name] = NonInferiorityTest(result.decision or "inconclusive", result.estimate, len(a), alpha / k,
                                             f"{result.method}, Bonferroni α/{k}")
    return tests


def _error_limit(f: Figures) -> float:
    from distilleval.spec.task_spec import DEFAULT_MAX_ERROR_RATE

    return f.inputs.spec.gates.max_error_rate if f.inputs.spec else DEFAULT_MAX_ERROR_RATE


def _precheck(f: Figures, arm: Arm) -> str | None:
    """Why ``arm`` cannot qualify before any test: not scored, too many failed calls, below the floor."""
    metric = f.summary.primary_metric
    if arm.accuracy is None:
        if arm.kind == "cascade":
            # A cascade whose models were not both called has no curve at all: say so, not "guarantee not met".
            return arm.detail if arm.detail.startswith("not computed") else "guarantee not met: " + arm.detail
        return "not scored in this run (its figures are projected)" if arm.basis != "measured" else "not scored"
    if arm.kind != "cascade":
        result = f.summary.models[arm.key]
        limit = _error_limit(f)
        if result.error_rate > limit:
            return (f"too many failed calls: {result.failed_calls:,} of {result.n:,} ({result.error_rate:.1%}, limit "
                    f"{limit:.1%})")
    gates = f.inputs.spec.gates if f.inputs.spec else None
    if gates is not None and gates.student_min is not None and arm.accuracy < gates.student_min:
        return f"below the floor: {metric} {arm.accuracy:.1%} < {gates.student_min:.1%} (gates.student_min)"
    if arm.kind == "cascade":
        chosen = arm.cascade.get("chosen", {}) if arm.cascade else {}
        fallback = arm.cascade.get("fallback") if arm.cascade else None
        if fallback != "teacher":
            return f"its guarantee is against {fallback}, not the teacher"
        if chosen.get("guarantee_met") is False:
            return "guarantee not met on the test items"
    return None


def _evidence(f: Figures, test: NonInferiorityTest) -> SampleSize | None:
    if test.decision == "non-inferior" or test.a_only is None or test.b_only is None or test.n_paired == 0:
        return None
    spec = f.inputs.spec
    target = spec.decision.power if spec is not None else 0.8
    n = test.n_paired
    return items_for_power(test.a_only / n, test.b_only / n, margin=f.margin, alpha=test.level, power_target=target)


def evidence_text(evidence: SampleSize, n_paired: int) -> str:
    """What more evidence would settle an inconclusive test, in words."""
    if not evidence.reachable:
        return evidence.reason or "no number of items will show non-inferiority"
    assert evidence.items is not None
    return (f"about {evidence.items:,} paired eval items would show non-inferiority with {evidence.power_target:.0%} "
            f"power at the observed discordance (now {n_paired:,})")


def _ni_reason(f: Figures, test: NonInferiorityTest | None, evidence: SampleSize | None) -> str | None:
    """None when non-inferiority is shown; else why not."""
    if test is None:
        return "non-inferiority not tested: no items scored for both it and the teacher"
    if test.decision == "non-inferior":
        return None
    shown = f"difference {test.difference * 100:+.1f} pts vs margin −{f.margin * 100:g} pts" if test.difference is not None else ""
    if test.decision == "inferior":
        return f"shown inferior ({shown}, {test.method})"
    more = f"; {evidence_text(evidence, test.n_paired)}" if evidence is not None else ""
    return f"non-inferiority not shown ({shown}, {test.method}){more}"


def _teacher_ok(f: Figures) -> str | None:
    """None when the teacher can be the reference; else why not."""
    teacher = f.teacher
    if teacher is None:
        return "the run has no teacher"
    if teacher.result.metric is None or teacher.result.metric.value is None:
        return "the teacher was not scored against gold in this run"
    if teacher.result.error_rate > _error_limit(f):
        return f"the teacher failed {teacher.result.error_rate:.1%} of its calls (above gates.max_error_rate)"
    return None


def _usd(value: float | None) -> str:
    return "unknown" if value is None else format_usd(value)


def recommend(f: Figures) -> Recommendation:
    """The recommendation (module docstring) with every arm's judgement."""
    table = build_arms(f)
    volume = f.top_volume_per_day
    spec = f.inputs.spec
    priced = spec is not None and spec.decision.cost_per_error_usd is not None
    tests = _family_tests(f, table.arms)
    teacher_problem = _teacher_ok(f)
    judgements: dict[str, tuple[str | None, NonInferiorityTest | None, SampleSize | None]] = {}
    for arm in table.arms:
        if arm.kind == "teacher":
            judgements[arm.name] = (teacher_problem, None, None)
            continue
        problem = _precheck(f, arm)
        test = tests.get(arm.name)
        evidence = _evidence(f, test) if test is not None else None
        if problem is None and not priced and arm.kind != "cascade":
            problem = _ni_reason(f, test, evidence)
        judgements[arm.name] = (problem, test, evidence)
    if priced:
        return _by_total(f, table, judgements, volume)
    return _by_non_inferiority(f, table, judgements, teacher_problem, volume)


def _judged(table: ArmTable, judgements, chosen: Arm | None, cheaper_reason) -> list[ArmJudgement]:
    out = []
    for arm in table.arms:
        problem, test, evidence = judgements[arm.name]
        if chosen is not None and arm is chosen:
            out.append(ArmJudgement(arm, "recommended", "recommended", test, evidence))
        elif problem is not None:
            out.append(ArmJudgement(arm, "rejected", problem, test, evidence))
        else:
            status, reason = cheaper_reason(arm)
            out.append(ArmJudgement(arm, status, reason, test, evidence))
    return out


def _by_non_inferiority(f: Figures, table: ArmTable, judgements, teacher_problem: str | None,
                        volume: int | None) -> Recommendation:
    qualified = [a for a in table.arms if judgements[a.name][0] is None and a.cost_per_request_usd is not None]
    if teacher_problem is not None or not qualified:
        why = teacher_problem or "no arm has a known cost"
        text = f"No recommendation: {why}, so no arm can be shown non-inferior to it."
        return Recommendation(None, "non-inferiority", text, False, _judged(table, judgements, None, lambda a: (
            "not judged", why)), table, volume)
    chosen = min(qualified, key=lambda a: a.cost_per_request_usd)  # type: ignore[arg-type,return-value]
    monthly = chosen.monthly_usd.get(volume) if volume is not None else None
    per_month = f", {format_usd(monthly)}/month at {volume:,}/day" if monthly is not None else ""
    why = ("the teacher is the reference" if chosen.kind == "teacher"
           else f"shown non-inferior to the teacher at margin {f.margin * 100:g} pts" if chosen.kind != "cascade"
           else "its guarantee holds against the teacher")
    text = (f"Recommended: {chosen.name} — the cheapest arm shown good enough ({why}), "
            f"{format_usd(chosen.cost_per_request_usd)}/request{per_month}.")

    def cheaper(arm: Arm) -> tuple[str, str]:
        return "costlier", "qualifies, but costs more per request than the recommendation"

    return Recommendation(chosen, "non-inferiority", text, True, _judged(table, judgements, chosen, cheaper),
                          table, volume)


def _by_total(f: Figures, table: ArmTable, judgements, volume: int | None) -> Recommendation:
    if volume is None:
        return Recommendation(None, "total cost", "No recommendation: the spec has no daily volume to price.", False,
                              [], table, volume)
    totals = {a.name: a.total_monthly_usd(volume, f.days_per_month) for a in table.arms}
    known = {name: total for name, total in totals.items() if total is not None}
    qualified = [a for a in table.arms if judgements[a.name][0] is None and a.name in known]
    if not qualified:
        text = ("No recommendation: no arm qualifies (reasons below)." if any(t is not None for t in totals.values())
                else "No recommendation: no arm has a known total cost (accuracy or cost missing).")
        return Recommendation(None, "total cost", text, False,
                              _judged(table, judgements, None, lambda a: ("not judged", "total cost unknown")), table, volume)
    ranked = sorted(qualified, key=lambda a: known[a.name][0])
    chosen = ranked[0]
    point, low, high = known[chosen.name]
    overlapping = [a for a in ranked[1:] if known[a.name][1] <= high]
    settled = not overlapping
    unknown = [a.name for a in table.arms if totals[a.name] is None and judgements[a.name][0] is None]
    text = (f"Recommended: {chosen.name} — the lowest monthly total at {volume:,}/day, inference plus wrong answers: "
            f"{format_usd(point)} [{format_usd(low)}, {format_usd(high)}].")
    if overlapping:
        text += (" Not settled: its interval overlaps " + ", ".join(
            f"{a.name} ({format_usd(known[a.name][0])} [{format_usd(known[a.name][1])}, "
            f"{format_usd(known[a.name][2])}])" for a in overlapping) + "; more eval items would narrow them.")
    if unknown:
        text += f" Total unknown (not compared): {', '.join(unknown)}."

    def cheaper(arm: Arm) -> tuple[str, str]:
        total = totals[arm.name]
        if total is None:
            return "not judged", "total cost unknown"
        return "rejected", (f"its wrong answers cost more: total {format_usd(total[0])} [{format_usd(total[1])}, "
                        f"{format_usd(total[2])}]/month against {format_usd(point)}")

    return Recommendation(chosen, "total cost", text, settled, _judged(table, judgements, chosen, cheaper), table, volume)


def rejection_lines(rec: Recommendation) -> list[str]:
    """One line per rejected arm, with why: the arms cheaper per request than the recommendation, or, when
    wrong answers are priced (every arm competes on its total), every rejected arm."""
    chosen = rec.arm
    limit = chosen.cost_per_request_usd if chosen is not None and rec.basis == "non-inferiority" else None
    lines = []
    for j in rec.judgements:
        cost = j.arm.cost_per_request_usd
        if j.status != "rejected" or (limit is not None and cost is not None and cost >= limit):
            continue
        lines.append(f"{j.arm.name} ({_usd(cost)}/request): {j.reason}")
    return lines


def decision_block(rec: Recommendation, f: Figures) -> dict[str, Any]:
    """``summary.json``'s ``decision``: arms, Pareto front, recommendation and the evidence still needed."""
    table = rec.table
    assert table is not None
    judged = {j.arm.name: j for j in rec.judgements}
    arms = []
    for arm in table.arms:
        j = judged.get(arm.name)
        entry: dict[str, Any] = {
            "name": arm.name, "kind": arm.kind, "model": arm.key, "basis": arm.basis, "detail": arm.detail,
            "metric": f.summary.primary_metric, "accuracy": arm.accuracy,
            "accuracy_interval": [arm.ci_low, arm.ci_high] if arm.ci_low is not None else None,
            "cost_per_request_usd": arm.cost_per_request_usd,
            "monthly_usd": {str(v): usd for v, usd in arm.monthly_usd.items()},
            "dominated": table.dominated.get(arm.name),
            "status": j.status if j else None, "reason": j.reason if j else None,
        }
        if arm.error_cost is not None:
            entry["error_cost_per_request_usd"] = {"value": arm.error_cost.per_request_usd, "low": arm.error_cost.low_usd,
                                                   "high": arm.error_cost.high_usd, "method": arm.error_cost.method}
            entry["total_monthly_usd"] = {str(v): list(arm.total_monthly_usd(v, table.days_per_month) or [])
                                          for v in table.volumes_per_day}
        if j is not None and j.test is not None:
            entry["non_inferiority"] = {"decision": j.test.decision, "difference": j.test.difference,
                                        "n_paired": j.test.n_paired, "level": j.test.level, "method": j.test.method,
                                        "adjusted_p": j.test.adjusted_p}
        arms.append(entry)
    evidence = []
    for j in rec.judgements:
        if j.evidence is not None and j.test is not None:
            evidence.append({"arm": j.arm.name, "decision": j.test.decision, "paired_items": j.test.n_paired,
                             "items_needed": j.evidence.items, "reachable": j.evidence.reachable,
                             "power": j.evidence.power_target, "method": j.evidence.method,
                             "text": evidence_text(j.evidence, j.test.n_paired)})
    return {
        "arms": arms,
        "pareto": [a.name for a in table.pareto],
        "recommendation": {"arm": rec.arm.name if rec.arm else None, "basis": rec.basis, "text": rec.text,
                           "settled": rec.settled, "volume_per_day": rec.volume_per_day,
                           "rejected": rejection_lines(rec)},
        "evidence_needed": evidence,
    }
