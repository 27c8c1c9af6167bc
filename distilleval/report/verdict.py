"""The decision a report leads with: fine-tune, don't, or not enough evidence — with its reasons.

Rules, in order (each becomes a reason with status pass / fail / unknown):

1. Teacher validity: the teacher's metric was measured against gold, reaches ``gates.teacher_min``
   when set, and its error rate stays within ``gates.max_error_rate`` when set. Unknown or failed
   means the comparison has no trustworthy reference: not enough evidence.
2. Non-inferiority at the margin (spec ``gates.non_inferiority_margin``, else 0.03): the one-sided
   paired lower bound of student - teacher is above -margin. If the one-sided upper bound at the
   same level is below -margin the student is shown inferior (don't); otherwise inconclusive (not
   enough evidence). Both bounds come from the test named in the reason (Tango's score test for
   0/1 scores).
3. Student floor: the student's metric reaches ``gates.student_min`` when set (fail: don't).
4. Local baselines, only when a local baseline already reaches ``gates.student_min``: the verdict
   then leads with that fact and its monthly cost, and the student must beat every baseline that
   reaches the floor. The student is compared with each scored baseline on the same items
   (McNemar exact for 0/1 scores, a paired sign-flip test otherwise), and the K comparisons are
   decided together by Holm's step-down at ``alpha`` (``distilleval.report.baseline_family``) —
   never the best baseline picked and then tested on the items that picked it. Shown worse than
   one of them fails (the student is no better than a model that costs next to nothing:
   don't); shown better than all of them passes; otherwise, or when the student was not scored,
   unknown. Whether the points gained are worth the extra cost per month, which the reason
   states, is the reader's call.
5. Economics, against the cheapest honest teacher configuration (list price, prompt caching at
   the measured or spec'd share, batch tier where the traffic allows): the student is cheaper
   per request (fail: don't), and at the largest of the spec's daily volumes the one-time cost
   is paid back within the payback horizon (fail: don't; not computable: not enough evidence).
   With ``training.engineering_cost_usd`` at $0 the break-even reason says it ignores
   engineering time.

A failed call is missing data, never a wrong answer. When the teacher or the student failed more
than ``gates.max_error_rate`` of its calls (default 2%), the verdict leads with "this run cannot
be trusted" and why, and every rule over that model, and the economics, is unknown (not judged)
instead of judged from what is left: the decision is then "not enough evidence", never "don't
fine-tune".

When the student was not called (an offline run: its figures are projected), the verdict leads
with what was measured (the best local baseline's metric), and the cost and break-even rules,
computed from projected figures only, have status ``projected``: shown as projections, never
as a pass.

Before the rules, the verdict carries one recommendation across every arm of the run (teacher
configurations, candidates, the student, baselines, cascades): ``report.recommendation``.

Any failed rule -> "don't fine-tune"; else any unknown -> "not enough evidence"; else "fine-tune"
(``projected`` counts as unknown).
Per-class notes (the worst classes of the student, or of the best baseline offline) follow the
reasons, because a headline metric can hide the class that decides the task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from distilleval.costs import cost_model
from distilleval.costs.cost_model import format_usd
from distilleval.report.baseline_family import correction_text
from distilleval.report.figures import Figures, ModelRow
from distilleval.report.recommendation import Recommendation, recommend
from distilleval.report.tables import days, signed_points

Decision = Literal["fine-tune", "don't fine-tune", "not enough evidence"]
ReasonStatus = Literal["pass", "fail", "unknown", "projected"]
DEFAULT_PAYBACK_HORIZON_DAYS = 90.0


@dataclass(frozen=True)
class Reason:
    """One rule of the verdict and how the run fared on it."""

    rule: str
    status: ReasonStatus
    text: str


@dataclass
class Verdict:
    """The decision with the reasons behind it."""

    decision: Decision
    reasons: list[Reason] = field(default_factory=list)
    lead: str | None = None
    notes: list[str] = field(default_factory=list)
    recommendation: Recommendation | None = None
    """One arm across every arm of the run (``report.recommendation``), shown first."""

    @property
    def headline(self) -> str:
        """The verdict as one sentence for the top of a report."""
        return {"fine-tune": "Fine-tune: the student is good enough and pays for itself",
                "don't fine-tune": "Don't fine-tune",
                "not enough evidence": "Not enough evidence to decide"}[self.decision]


def _error_limit(f: Figures) -> float:
    from distilleval.spec.task_spec import DEFAULT_MAX_ERROR_RATE

    return f.inputs.spec.gates.max_error_rate if f.inputs.spec else DEFAULT_MAX_ERROR_RATE


def _failed_too_often(f: Figures) -> dict[str, str]:
    """Role -> why its figures are not judged: it failed more than the error-rate limit of its calls."""
    limit = _error_limit(f)
    problems = {}
    for role, row in (("teacher", f.teacher), ("student", f.student)):
        if row is None or row.result.basis != "measured" or row.result.error_rate <= limit:
            continue
        result = row.result
        kinds = ", ".join(f"{kind} {count:,}" for kind, count in sorted(result.errors.items(), key=lambda kv: (-kv[1], kv[0])))
        problems[role] = (f"the {role} failed {result.failed_calls:,} of {result.n:,} calls ({kinds}), error rate "
                          f"{result.error_rate:.1%} above the limit {limit:.1%} (gates.max_error_rate)")
    judge = f.summary.judge
    if judge is not None and not judge.trusted:
        # Every judge-scored figure rests on the judge: an untrusted one leaves nothing to judge.
        problems.setdefault("student", "the judge is not trusted: " + "; ".join(judge.untrusted_reasons))
    return problems


def _untrusted_lead(problems: dict[str, str]) -> str:
    return ("This run cannot be trusted: " + "; ".join(problems.values()) + ". A failed call is missing data, never "
            "a wrong answer, so no comparison is judged from what is left: fix the cause and re-run with --resume, "
            "which re-calls only the failed items.")


def _projected_only(f: Figures) -> bool:
    """The student was not called: every figure about it is projected."""
    return f.student is None or f.student.result.basis != "measured"


def _measured_lead(f: Figures) -> str | None:
    """What an offline run measured, to lead its verdict: the best local baseline."""
    best = f.best_baseline
    if best is None or best.result.metric is None or best.result.metric.value is None:
        return None
    metric = best.result.metric
    interval = (f" [{metric.ci_low:.1%}, {metric.ci_high:.1%}]"
                if metric.ci_low is not None and metric.ci_high is not None else "")
    monthly = f.monthly_cost_usd(best)
    cost = (f", for about {format_usd(monthly)}/month at {f.top_volume_per_day:,}/day" if monthly is not None else "")
    return (f"Measured: a local baseline already reaches {f.summary.primary_metric} {metric.value:.1%}{interval} "
            f"({best.result.display_name}, {best.result.n_scored:,} eval items{cost}). The teacher and the student were "
            "not called in this run, so no figure about them below is measured (costs are projected from token "
            "counts), and whether the student beats the baseline is not known until it is scored.")


def _teacher_validity(f: Figures) -> Reason:
    rule = "teacher validity"
    if f.teacher is None:
        return Reason(rule, "unknown", "the run has no teacher")
    result = f.teacher.result
    metric = result.metric.value if result.metric else None
    name = f.summary.primary_metric
    if metric is None:
        return Reason(rule, "unknown", "the teacher was not scored against gold, so its labels are unchecked")
    gates = f.inputs.spec.gates if f.inputs.spec else None
    problems = []
    if gates is not None and gates.teacher_min is not None and metric < gates.teacher_min:
        problems.append(f"{name} {metric:.1%} is below the floor {gates.teacher_min:.1%}")
    if gates is not None and gates.max_error_rate is not None and result.error_rate > gates.max_error_rate:
        problems.append(f"error rate {result.error_rate:.1%} is above {gates.max_error_rate:.1%}")
    if problems:
        return Reason(rule, "unknown", "teacher not valid as a reference: " + "; ".join(problems))
    floor = f" (floor {gates.teacher_min:.1%})" if gates is not None and gates.teacher_min is not None else ""
    source = " — gold labels stood in for the teacher's labels" if f.summary.label_source == "reference" else ""
    return Reason(rule, "pass", f"teacher {name} {metric:.1%} against gold{floor}, error rate {result.error_rate:.1%}{source}")


def _judged_non_inferiority(f: Figures) -> Reason:
    """Non-inferiority of a judge-scored run: on the corrected difference (``summary.judge.comparison``)."""
    rule = "non-inferiority"
    comparison = f.summary.judge.comparison
    if comparison is None or comparison.non_inferior is None:
        return Reason(rule, "unknown", "no corrected teacher-student comparison at a margin (gates.non_inferiority_margin)")
    shown = "undefined" if comparison.corrected_difference is None else f"{signed_points(comparison.corrected_difference)} pts"
    head = (f"student − teacher corrected for the judge's error {shown}, one-sided lower bound "
            f"{signed_points(comparison.lower_bound)} pts vs margin −{comparison.margin * 100:g} pts")
    if comparison.non_inferior:
        return Reason(rule, "pass", f"{head}: non-inferior")
    if comparison.ci_high < -comparison.margin:
        return Reason(rule, "fail", f"{head}; the upper bound {signed_points(comparison.ci_high)} pts is below −margin: inferior")
    return Reason(rule, "unknown", f"{head}: inconclusive — more eval items or alignment rows would narrow the interval")


def _non_inferiority(f: Figures) -> Reason:
    if f.summary.judge is not None:
        return _judged_non_inferiority(f)
    rule = "non-inferiority"
    ni = f.non_inferiority
    if ni is None:
        return Reason(rule, "unknown", "no items scored for both teacher and student")
    head = (f"student − teacher {signed_points(ni.difference)} pts, one-sided {1 - ni.alpha:.0%} lower bound "
            f"{signed_points(ni.lower_bound)} pts vs margin −{ni.margin * 100:g} pts ({f.margin_source})")
    head += f"; {ni.method}"
    if ni.non_inferior:
        return Reason(rule, "pass", f"{head}: non-inferior")
    # Inferior is decided by the same test at the same one-sided level (older summaries: the CI).
    upper = ni.upper_bound if ni.upper_bound is not None else (f.comparison.ci_high if f.comparison is not None else None)
    if ni.decision == "inferior" or (ni.decision is None and upper is not None and upper < -ni.margin):
        return Reason(rule, "fail", f"{head}; the one-sided {1 - ni.alpha:.0%} upper bound {signed_points(upper)} pts "
                                    "is below −margin: inferior")
    return Reason(rule, "unknown", f"{head}: inconclusive — {_items_to_settle(f)}")


def _items_to_settle(f: Figures) -> str:
    """How many paired items would settle an inconclusive non-inferiority test (0/1 scores), at its own level."""
    from distilleval.report.recommendation import evidence_text
    from distilleval.results.sample_size import items_for_power

    comparison = f.comparison
    if comparison is None or not comparison.discordant or not comparison.n_paired:
        return "more eval items would narrow the interval"
    counts, n = comparison.discordant, comparison.n_paired
    power = f.inputs.spec.decision.power if f.inputs.spec else 0.8
    evidence = items_for_power(counts["a_only"] / n, counts["b_only"] / n, margin=f.margin, alpha=f.alpha, power_target=power)
    return evidence_text(evidence, n)


def _student_floor(f: Figures) -> Reason | None:
    gates = f.inputs.spec.gates if f.inputs.spec else None
    if gates is None or gates.student_min is None:
        return None
    rule = "student floor"
    metric = f.student.result.metric.value if f.student and f.student.result.metric else None
    name = f.summary.primary_metric
    if f.summary.judge is not None:
        figures = f.summary.judge.figures.get(f.student.key) if f.student else None
        metric, name = (figures.corrected.value if figures else None), "corrected accuracy"
    if metric is None:
        return Reason(rule, "unknown", "the student has no score")
    ok = metric >= gates.student_min
    return Reason(rule, "pass" if ok else "fail",
                  f"student {name} {metric:.1%} {'≥' if ok else '<'} floor {gates.student_min:.1%}")


@dataclass(frozen=True)
class _BaselineAtFloor:
    """The best local baseline, its metric, and the spec's floor it reaches."""

    best: ModelRow
    value: float
    floor: float


def _baseline_meets_floor(f: Figures) -> _BaselineAtFloor | None:
    gates = f.inputs.spec.gates if f.inputs.spec else None
    best = f.best_baseline
    if gates is None or gates.student_min is None or best is None or best.result.metric is None:
        return None
    value = best.result.metric.value
    if value is None or value < gates.student_min:
        return None
    return _BaselineAtFloor(best, value, gates.student_min)


def _baseline_lead(f: Figures, at_floor: _BaselineAtFloor) -> str:
    best = at_floor.best
    monthly = f.monthly_cost_usd(best)
    cost = (f"{format_usd(monthly)}/month at {f.top_volume_per_day:,}/day" if monthly is not None
            else "a cost not recorded")
    return (f"A local baseline meets your floor at {cost}: {best.result.display_name} "
            f"{f.summary.primary_metric} {at_floor.value:.1%} ≥ {at_floor.floor:.1%}; "
            "a fine-tuned student must beat it by more than its extra cost.")


def _baselines(f: Figures, at_floor: _BaselineAtFloor) -> Reason:
    """The student against every baseline that meets the floor, decided as one Holm family (see module docstring)."""
    rule = "local baselines"
    comparisons = f.baseline_comparisons
    if not comparisons:
        return Reason(rule, "unknown", f"the student was not scored in this run; compare it with "
                                       f"{at_floor.best.result.display_name} when it is")
    counted = [c for c in comparisons if _meets_floor(f, c.key, at_floor.floor)]
    parts = []
    for c in counted:
        paired = c.paired
        parts.append(f"student − {c.name} {signed_points(paired.difference)} pts [{signed_points(paired.ci_low)}, "
                     f"{signed_points(paired.ci_high)}] ({c.interval_confidence:.1%} interval) on {paired.n_paired:,} paired items, "
                     f"p = {c.p_value:.3g}" + (f", Holm-adjusted {c.decision.adjusted_p:.3g}" if c.decision.family_size > 1 else ""))
    head = "; ".join(parts) + f" ({correction_text(comparisons, f.alpha)}; {comparisons[0].method})"
    extra = None
    best = at_floor.best
    if f.student is not None:
        student_month, baseline_month = f.monthly_cost_usd(f.student), f.monthly_cost_usd(best)
        if student_month is not None and baseline_month is not None:
            extra = student_month - baseline_month
    cost = (f"; the student costs {format_usd(extra)}/month more than {best.result.display_name} at "
            f"{f.top_volume_per_day:,}/day" if extra is not None else "")
    worse = [c.name for c in counted if c.direction == "worse"]
    if worse:
        return Reason(rule, "fail", f"{head}: the student is no better than the local baseline (worse than "
                                    f"{', '.join(worse)}){cost}")
    if counted and all(c.direction == "better" for c in counted):
        return Reason(rule, "pass", f"{head}: the student is better than every baseline that meets the floor{cost}")
    return Reason(rule, "unknown", f"{head}: inconclusive{cost}")


def _meets_floor(f: Figures, key: str, floor: float) -> bool:
    result = f.summary.models[key]
    return result.metric is not None and result.metric.value is not None and result.metric.value >= floor


def _worst_classes_note(f: Figures) -> str | None:
    per_class = f.per_class
    if per_class is None or not per_class.worst:
        return None
    metric = per_class.model.result.metric
    headline = f"headline {f.summary.primary_metric} {metric.value:.1%}; " if metric and metric.value is not None else ""
    worst = ", ".join(
        f"{r.label} recall {r.recall:.0%} (F1 {r.f1:.2f}, {r.support:,} item{'s' if r.support != 1 else ''})" if r.recall is not None else r.label
        for r in per_class.worst
    )
    return f"Worst classes of {per_class.model.label}: {worst} ({headline}per-class table below)."


def _economics(f: Figures, horizon_days: float) -> list[Reason]:
    """Cost and break-even against the cheapest honest teacher configuration (list price when
    no other is known): a team's alternative to fine-tuning is the teacher run as cheaply as it can be."""
    cheapest = f.cheapest_teacher
    teacher_cost: float | None
    if cheapest is not None:
        saving = f.option_saving_per_request_usd(cheapest)
        teacher_cost = cheapest.cost_per_request_usd
        against = (f"the cheapest teacher configuration, {cheapest.label} at {format_usd(teacher_cost)}/request"
                   if len(f.teacher_options) > 1 else f"the teacher at {cheapest.label}, {format_usd(teacher_cost)}/request")
    else:
        saving = f.saving_per_request_usd
        teacher_cost = f.teacher.cost_per_request_usd if f.teacher else None
        against = "the teacher"
    student_cost = f.student.cost_per_request_usd if f.student else None
    if saving is None or teacher_cost is None or student_cost is None:
        return [Reason("cost", "unknown", "cost per request is missing for the teacher or the student")]
    if saving <= 0:
        return [Reason("cost", "fail", f"the student costs {format_usd(-saving)} more per request than {against}")]
    ratio = cost_model.savings_ratio(teacher_cost, student_cost)
    reasons = [Reason("cost", "pass", f"the student saves {format_usd(saving)} per request ({ratio:,.0f}× cheaper) "
                                      f"against {against}")]
    if not f.volume_rows or f.one_time is None:
        reasons.append(Reason("break-even", "unknown", "break-even not computed (see notes)"))
        return reasons
    described = []
    by_volume = {}
    for row in f.volume_rows:
        by_volume[row.requests_per_day] = (
            f.option_break_even_days(cheapest, row.requests_per_day) if cheapest is not None else row.break_even_days
        )
        described.append(f"{row.requests_per_day:,}/day → {days(by_volume[row.requests_per_day]).text}")
    top = max(by_volume)
    target = "the cheapest teacher configuration" if len(f.teacher_options) > 1 else "the teacher"
    text = (f"one-time cost {format_usd(f.one_time.total_usd)}; break-even against {target} "
            + ", ".join(described) + f" (payback horizon {horizon_days:g} days)")
    if f.one_time.engineering_usd == 0:
        text += "; ignores engineering time (training.engineering_cost_usd is $0)"
    top_days = by_volume[top]
    ok = top_days is not None and top_days <= horizon_days
    reasons.append(Reason("break-even", "pass" if ok else "fail", text))
    return reasons


def decide(f: Figures, *, payback_horizon_days: float = DEFAULT_PAYBACK_HORIZON_DAYS) -> Verdict:
    """Apply the verdict rules (module docstring) to a run's figures.

    Args:
        f: the run's figures.
        payback_horizon_days: the one-time cost must be paid back within this many days at the
            spec's largest volume.

    Returns:
        The verdict with one reason per rule.
    """
    untrusted = _failed_too_often(f)
    reasons = [_teacher_validity(f)]
    if untrusted:
        reasons.append(Reason("non-inferiority", "unknown", "not judged: " + "; ".join(untrusted.values())))
    else:
        reasons.append(_non_inferiority(f))
    floor = _student_floor(f)
    if floor is not None:
        reasons.append(Reason(floor.rule, "unknown", "not judged: " + untrusted["student"]) if "student" in untrusted else floor)
    lead = None
    at_floor = _baseline_meets_floor(f)
    if at_floor is not None:
        lead = _baseline_lead(f, at_floor)
        baselines = _baselines(f, at_floor)
        reasons.append(Reason(baselines.rule, "unknown", "not judged: " + untrusted["student"])
                       if "student" in untrusted else baselines)
    economics = _economics(f, payback_horizon_days)
    if _projected_only(f):
        # Nothing about the student was measured: its cost and break-even are projections, never a pass.
        economics = [Reason(r.rule, "projected", f"projected: {r.text}") if r.status == "pass" else r for r in economics]
        lead = lead or _measured_lead(f)
    if untrusted:
        # Costs priced from the calls that succeeded are not judged either: the decision must not
        # rest on a run that cannot be trusted.
        economics = [Reason(r.rule, "unknown", f"not judged (the run cannot be trusted): {r.text}") for r in economics]
        lead = _untrusted_lead(untrusted)
    reasons.extend(economics)
    notes = [note for note in (_worst_classes_note(f),) if note]
    if any(r.status == "fail" for r in reasons):
        decision: Decision = "don't fine-tune"
    elif any(r.status in ("unknown", "projected") for r in reasons):
        decision = "not enough evidence"
    else:
        decision = "fine-tune"
    return Verdict(decision, reasons, lead=lead, notes=notes, recommendation=recommend(f))
