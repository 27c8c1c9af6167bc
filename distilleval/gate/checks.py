"""Check a run against its spec's gates and, optionally, against a baseline run, for CI.

A failed call is missing data, never a wrong answer: every figure a check reads is over the
items the model answered, and a check over a model that failed more than ``max_error_rate`` of
its calls (default 2%) fails with that reason instead of judging what is left. A check over a
model the run did not measure (not selected with ``--models``, or projected only, as in an
offline run) is skipped with the reason. A gate that judges nothing is a usage error (the
command's business: ``nothing_judged``).

Checks (each configured gate is one check; unset gates are not checked):

- ``student_min`` / ``teacher_min``: the model's primary metric is at least the floor.
- ``baseline_min[<name>]``: each local baseline the run scored reaches its floor (one number
  for all, or one per name), so runs without a student or without keys can be gated.
- ``non_inferiority``: the one-sided lower bound of student - teacher (paired, at ``alpha``,
  on the items both answered) is above ``-margin``.
- ``cascade_min[<cascade>]``: each cascade of the run (``first→fallback``) at the threshold chosen
  on its calibration items reaches the floor on its test items. It fails when the guarantee was
  not met (no threshold found), when the run could not compute it for a reason of its own (no
  confidence) or when either model failed too many calls; skipped when a model was not called.
- ``max_cost_per_request``: the student's cost per request, priced from the run.
- ``max_p95_latency``: the student's p95 latency: the unloaded probe's when the run has one,
  else the run's own under load. Not judged (skipped, saying how to get a judgement: the
  probe) when those figures are client-bound (``distilleval.results.latency``). When the run
  called the student but measured no latency (every call failed, was a cache hit, or went
  through a batch API) it fails with the reason, unless the spec's ``unmeasured_latency: skip``.
- ``max_error_rate[<model>]``: every model the run measured, always (the spec's limit or the
  default); these alone do not count as something judged unless the spec sets the limit.
- ``paired_drop[<model>]`` (with a baseline run): the run fails only on a statistically
  significant drop (judge-scored runs: on the corrected difference, see below), paired item by item over the items both runs answered, with every model's
  check corrected together (``distilleval.gate.family``): a one-sided p-value of a drop per
  model (exact McNemar tail for 0/1 scores, a paired sign-flip permutation test otherwise) and
  Holm's step-down over the models at ``alpha / 2``, so noise alone fails the build at most
  alpha/2 of the time however many models are gated. The line names the correction and the
  number of comparisons. A model above the error-rate limit in either run fails its check.

A judge-scored run (``summary.judge``) gets a ``judge`` check, and its floors and non-inferiority
judge the corrected figures, failing with the reason when the judge is not trusted
(``distilleval.gate.judged``). Its paired drops against a baseline run use the corrected paired
difference and its interval (which carries the alignment set's uncertainty); when the two runs'
judges, criteria or alignment sets differ, or either judge is not trusted,
each paired drop fails saying the runs are not comparable on corrected figures.

The paired tests are in ``distilleval.gate.paired``; how the checks are printed and written
for CI is in ``distilleval.gate.ci_output``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from distilleval.costs.cost_model import format_usd
from distilleval.errors import DataError
from distilleval.gate.family import paired_drop_family
from distilleval.gate.judged import (
    corrected_comparability,
    corrected_paired,
    judge_check,
    judged_floor,
    judged_non_inferiority,
    paired_passes,
)
from distilleval.gate.paired import non_inferiority_test
from distilleval.results.item_results import failed_ids, item_ids, paired_item_scores
from distilleval.results.summary_json import LatencyFigures, ModelResult, Summary
from distilleval.spec.task_spec import GatesSpec

Status = Literal["pass", "fail", "skip"]


@dataclass(frozen=True)
class Check:
    """One gate check and its outcome, with the numbers in ``message``.

    ``implicit`` marks a check the spec did not ask for (the default error-rate limit): it can
    fail the gate but does not by itself make the gate judge something.
    """

    name: str
    status: Status
    message: str
    implicit: bool = False


CONFIGURABLE_GATES = ("student_min", "teacher_min", "baseline_min", "non_inferiority_margin", "cascade_min",
                      "max_cost_per_request_usd", "max_p95_latency_ms")


def configured_gates(gates: GatesSpec) -> list[str]:
    """The thresholds the spec sets (``max_error_rate`` only when written, not by default)."""
    names = [name for name in CONFIGURABLE_GATES if getattr(gates, name) is not None]
    if gates.explicitly_set("max_error_rate"):
        names.append("max_error_rate")
    return names


def nothing_judged(checks: list[Check]) -> bool:
    """True when no check the user asked for passed or failed (all skipped, or none at all)."""
    return not any(c.status != "skip" and not c.implicit for c in checks)


def _failure_kinds(result: ModelResult) -> str:
    kinds = sorted(result.errors.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{kind} {count}" for kind, count in kinds)


def error_rate_problem(key: str, result: ModelResult, limit: float) -> str | None:
    """Why ``result``'s figures cannot be judged (too many failed calls), or None."""
    if result.error_rate <= limit:
        return None
    return (f"{key} failed {result.failed_calls} of {result.n} calls ({_failure_kinds(result)}): error rate "
            f"{result.error_rate:.1%} > limit {limit:.1%} (gates.max_error_rate); a failed call is missing data, "
            "so what is left is not judged")


def _unmeasured(role: str, summary: Summary) -> str | None:
    """Why a check over ``role`` is not judged because the run did not measure it, or None."""
    found = _measured_model(role, summary)
    return found if isinstance(found, str) else None


def _measured_model(role: str, summary: Summary) -> tuple[str, ModelResult] | str:
    """The run's ``(key, result)`` of ``role`` when the run measured it, else why a check over it is not judged."""
    found = model_by_role(summary, role)
    if found is None:
        return f"not judged: the run has no {role} (not selected with --models?)"
    if found[1].basis != "measured":
        return f"not judged: the run did not call the {role} ({found[1].basis} figures only, e.g. an offline run)"
    return found


def model_by_role(summary: Summary, role: str) -> tuple[str, ModelResult] | None:
    """The first model of ``role`` in the summary, as (key, result)."""
    for key, result in summary.models.items():
        if result.role == role:
            return key, result
    return None


def _failed_items(summary: Summary, model_key: str) -> set[str]:
    return failed_ids(summary, model_key)


def _metric(result: ModelResult) -> float | None:
    return result.metric.value if result.metric else None


def _floor(name: str, role: str, summary: Summary, floor: float, limit: float) -> Check:
    metric = summary.primary_metric
    found = _measured_model(role, summary)
    if isinstance(found, str):
        return Check(name, "skip", f"{found}; the floor {floor:.3f} is not checked")
    key, result = found
    return _model_floor(name, key, result, metric, floor, limit)


def _model_floor(name: str, key: str, result: ModelResult, metric: str, floor: float, limit: float) -> Check:
    problem = error_rate_problem(key, result, limit)
    if problem is not None:
        return Check(name, "fail", problem)
    value = _metric(result)
    if value is None:
        return Check(name, "fail", f"no {key} {metric} in the run to compare with the floor {floor:.3f}")
    ok = value >= floor
    return Check(name, "pass" if ok else "fail",
                 f"{key} {metric} {value:.4f} {'>=' if ok else '<'} floor {floor:.4f} (over {result.n_scored} answered items)")


def _baseline_floors(summary: Summary, floors: float | dict[str, float], limit: float) -> list[Check]:
    metric = summary.primary_metric
    measured = {key: result for key, result in summary.models.items()
                if result.role == "baseline" and result.basis == "measured"}
    if isinstance(floors, dict):
        wanted = dict(floors)
    else:
        wanted = {key: floors for key in measured} or {"*": floors}
    checks = []
    for key, floor in wanted.items():
        name = "baseline_min" if key == "*" else f"baseline_min[{key}]"
        if key not in measured:
            what = "no baseline" if key == "*" else f"no baseline {key!r}"
            checks.append(Check(name, "skip", f"not judged: the run scored {what} (not selected with --models?); "
                                f"the floor {floor:.3f} is not checked"))
            continue
        checks.append(_model_floor(name, key, measured[key], metric, floor, limit))
    return checks


def _non_inferiority(summary: Summary, margin: float, alpha: float, limit: float) -> Check:
    name = "non_inferiority"
    teacher, student = _measured_model("teacher", summary), _measured_model("student", summary)
    if isinstance(teacher, str) or isinstance(student, str):
        unmeasured = teacher if isinstance(teacher, str) else student
        return Check(name, "skip", f"{unmeasured}; student and teacher are not compared")
    for key, result in (teacher, student):
        problem = error_rate_problem(key, result, limit)
        if problem is not None:
            return Check(name, "fail", problem)
    dropped = len(_failed_items(summary, teacher[0]) | _failed_items(summary, student[0]))
    for comparison in summary.comparisons:
        test = comparison.non_inferiority
        if (comparison.a, comparison.b) == (teacher[0], student[0]) and test is not None:
            if math.isclose(test.margin, margin) and math.isclose(test.alpha, alpha) and comparison.dropped_failed == dropped:
                ok = test.non_inferior
                return Check(
                    name, "pass" if ok else "fail",
                    f"student - teacher {test.difference:+.4f}, one-sided {1 - alpha:.0%} lower bound "
                    f"{test.lower_bound:+.4f} {'>' if ok else '<='} -margin {-margin:+.4f} ({test.method}, "
                    f"n={comparison.n_paired}{_dropped_text(dropped)})",
                )
    a, b = paired_item_scores(summary, teacher[0], summary, student[0])
    test = non_inferiority_test(a, b, margin=margin, alpha=alpha)
    if test is None:
        return Check(name, "fail", f"no items scored for both teacher and student{_dropped_text(dropped)}")
    ok = test.non_inferior
    return Check(
        name, "pass" if ok else "fail",
        f"student - teacher {test.difference:+.4f}, one-sided {1 - alpha:.0%} lower bound {test.lower_bound:+.4f} "
        f"{'>' if ok else '<='} -margin {-margin:+.4f} ({test.method}, n={len(a)}{_dropped_text(dropped)})",
    )


def _dropped_text(dropped: int) -> str:
    return f", {dropped} item{'s' if dropped != 1 else ''} dropped: a call failed" if dropped else ""


def _max_cost(summary: Summary, limit_usd: float, limit: float) -> Check:
    name = "max_cost_per_request"
    found = _measured_model("student", summary)
    if isinstance(found, str):
        return Check(name, "skip", f"{found}; its cost per request is not checked")
    problem = error_rate_problem(found[0], found[1], limit)
    if problem is not None:
        return Check(name, "fail", problem)
    if found[1].cost_per_request_usd is None:
        return Check(name, "fail", f"no student cost per request in the run to compare with ${limit_usd:.6g}")
    cost = found[1].cost_per_request_usd
    ok = cost <= limit_usd
    return Check(name, "pass" if ok else "fail",
                 f"student cost/request {format_usd(cost)} {'<=' if ok else '>'} {format_usd(limit_usd)} ({found[1].cost_basis})")


PROBE_HINT = "--latency-probe 50@1 (or the spec's latency: {probe_calls: 50, concurrency: 1})"


def _max_latency(summary: Summary, limit_ms: float, gates: GatesSpec) -> Check:
    name = "max_p95_latency"
    found = _measured_model("student", summary)
    if isinstance(found, str):
        return Check(name, "skip", f"{found}; its latency is not checked")
    key, result = found
    problem = error_rate_problem(key, result, gates.max_error_rate)
    if problem is not None:
        return Check(name, "fail", problem)
    figures = result.latency
    unloaded = figures.unloaded_ms if figures is not None else None
    if figures is not None and unloaded is not None and unloaded.n and unloaded.p95 is not None:
        if figures.unloaded_client_bound:
            return Check(name, "skip", f"not judged: client-bound even in the probe (student p95 unloaded {unloaded.p95:.0f} ms; "
                         f"{figures.unloaded_client_bound_reason}); the client machine is too busy: rerun the probe on "
                         "a quieter one")
        ok = unloaded.p95 <= limit_ms
        return Check(name, "pass" if ok else "fail",
                     f"student p95 latency, unloaded {unloaded.p95:.0f} ms {'<=' if ok else '>'} {limit_ms:.0f} ms "
                     f"(probe: n={unloaded.n}, concurrency {figures.unloaded_concurrency})")
    latency = result.latency_ms
    if latency is None or latency.p95 is None or latency.n == 0:
        why = _why_no_latency(result, figures)
        if gates.unmeasured_latency == "skip":
            return Check(name, "skip", f"not judged: {why} (gates.unmeasured_latency: skip)")
        return Check(name, "fail", f"no student latency measured in this run: {why}; for a judgement run with "
                     f"{PROBE_HINT}, or set gates.unmeasured_latency: skip to skip this check")
    if figures is not None and figures.client_bound:
        return Check(name, "skip", f"not judged: client-bound (student p95 {latency.p95:.0f} ms under load at concurrency "
                     f"{figures.concurrency}; {figures.client_bound_reason}); for a judgement run with {PROBE_HINT}")
    load = f", under load at concurrency {figures.concurrency}" if figures is not None and figures.concurrency else ""
    ok = latency.p95 <= limit_ms
    return Check(name, "pass" if ok else "fail",
                 f"student p95 latency {latency.p95:.0f} ms {'<=' if ok else '>'} {limit_ms:.0f} ms (n={latency.n}{load})")


def _why_no_latency(result: ModelResult, figures: LatencyFigures | None) -> str:
    """Why a student the run called has no latency figure: batch, cache hits or failed calls."""
    if result.batch_api:
        return f"the student was answered through the {result.batch_api} batch API, which has no per-request latency"
    parts = []
    if result.cache_hits:
        parts.append(f"{result.cache_hits} answers came from the cache")
    if result.failed_calls:
        parts.append(f"{result.failed_calls} call{'s' if result.failed_calls != 1 else ''} failed ({_failure_kinds(result)})")
    why = (" and ".join(parts) if parts else "no call was timed") + " in this run"
    original = figures.original_ms if figures is not None else None
    if original is not None and original.p95 is not None:
        why += f"; answers came from the cache: the original calls' p95 was {original.p95:.0f} ms, measured then, not now"
    return why


def _cascade_floors(summary: Summary, floor: float, limit: float) -> list[Check]:
    """One ``cascade_min[<cascade>]`` check per cascade: the chosen threshold's test accuracy
    against the floor; a cascade without a met guarantee never passes."""
    checks = []
    if not summary.cascades:
        return [Check("cascade_min", "skip", "the run has no cascade (add a cascades: block to the spec)")]
    for cascade in summary.cascades:
        name = f"cascade_min[{cascade.name}]"
        first, fallback = summary.models.get(cascade.first), summary.models.get(cascade.fallback)
        if first is None or fallback is None or first.basis != "measured" or fallback.basis != "measured":
            checks.append(Check(name, "skip", f"{cascade.name}: {cascade.unavailable or 'a model was not called'}; "
                                              f"the floor {floor:.3f} is not checked"))
            continue
        problem = next((p for key, result in ((cascade.first, first), (cascade.fallback, fallback))
                        if (p := error_rate_problem(key, result, limit)) is not None), None)
        if problem is not None:
            checks.append(Check(name, "fail", problem))
            continue
        chosen = cascade.chosen
        if cascade.unavailable or chosen is None:
            checks.append(Check(name, "fail", f"{cascade.name}: not computed ({cascade.unavailable or 'no items'})"))
            continue
        if not chosen.guarantee_met or chosen.test_accuracy is None:
            checks.append(Check(name, "fail", f"{cascade.name}: no threshold met the guarantee ({chosen.guarantee}) on "
                                              f"{chosen.calibration_items} calibration items"))
            continue
        ok = chosen.test_accuracy >= floor
        checks.append(Check(name, "pass" if ok else "fail",
                            f"{cascade.name} at threshold {chosen.threshold:.2f}: accuracy {chosen.test_accuracy:.4f} "
                            f"{'>=' if ok else '<'} floor {floor:.4f} on {chosen.test_items} test items, "
                            f"{chosen.deferral_rate:.1%} deferred; guarantee met ({chosen.method})"))
    return checks


def _max_error_rate(summary: Summary, limit: float, *, implicit: bool) -> list[Check]:
    checks = []
    source = "default limit; set gates.max_error_rate to change it" if implicit else "gates.max_error_rate"
    for key, result in summary.models.items():
        if result.basis != "measured":
            continue
        ok = result.error_rate <= limit
        kinds = f": {_failure_kinds(result)}" if result.failed_calls else ""
        checks.append(Check(
            f"max_error_rate[{key}]", "pass" if ok else "fail",
            f"{key} error rate {result.error_rate:.2%} ({result.failed_calls}/{result.n} calls failed{kinds}) "
            f"{'<=' if ok else '>'} {limit:.2%} ({source})",
            implicit=implicit,
        ))
    return checks


def _paired_drops(run: Summary, baseline: Summary, alpha: float, limit: float) -> list[Check]:
    """One ``paired_drop[<model>]`` check per model in both runs, decided together (``distilleval.gate.family``).

    A model above the error-rate limit in either run fails its check and joins no family:
    its paired items would be the ones that happened to be answered.
    """
    if run.judge is not None or baseline.judge is not None:
        return _judged_paired_drops(run, baseline, alpha, limit)
    checks: dict[str, Check] = {}
    pairs = {}
    dropped: dict[str, int] = {}
    for key, result in run.models.items():
        if result.basis != "measured" or key not in baseline.models:
            continue
        name = f"paired_drop[{key}]"
        problem = error_rate_problem(key, result, limit) or (
            error_rate_problem(f"{key} (baseline run)", baseline.models[key], limit)
            if baseline.models[key].basis == "measured" else None
        )
        if problem is not None:
            checks[key] = Check(name, "fail", problem)
            continue
        a, b = paired_item_scores(baseline, key, run, key)
        dropped[key] = len((_failed_items(run, key) | _failed_items(baseline, key))
                           & set(item_ids(run)) & set(item_ids(baseline)))
        if len(a):
            pairs[key] = (a, b)
        else:
            checks[key] = Check(f"paired_drop[{key}]", "skip", f"{key}: no items scored in both runs; not compared")
    for test in paired_drop_family(pairs, alpha=alpha):
        paired = test.paired
        detail = (f"{test.key} {paired.mean_b:.4f} vs baseline {paired.mean_a:.4f} ({paired.difference:+.4f}, "
                  f"{test.interval_confidence * 100:.4g}% CI [{paired.ci_low:+.4f}, {paired.ci_high:+.4f}], "
                  f"n={paired.n_paired}{_dropped_text(dropped[test.key])}; interval: {paired.method}); ")
        if paired.p_value is not None:
            detail += f"{paired.losses} lost / {paired.gains} gained; "
        detail += f"{test.method} p={test.p_value:.4g}; {test.correction_text()}"
        verdict = "significant drop" if test.dropped else "no significant drop"
        checks[test.key] = Check(f"paired_drop[{test.key}]", "fail" if test.dropped else "pass", f"{detail} -> {verdict}")
    return [checks[key] for key in run.models if key in checks]


def _judged_paired_drops(run: Summary, baseline: Summary, alpha: float, limit: float) -> list[Check]:
    """``paired_drop[<model>]`` checks when either run is judge-scored: on the corrected difference.

    Both runs must be scored by the same judge on the same alignment set, trusted
    (``gate.judged.corrected_comparability``); otherwise each check fails saying the runs are not
    comparable on corrected figures. Otherwise the family is tested as for other runs, on the judge's
    verdicts (with one judge the raw difference is J times the true one, so McNemar's test of it is a
    test of the true one), and a model fails only when Holm rejects and the corrected difference's
    interval, at the same level and carrying the alignment set's uncertainty, lies below zero.
    """
    refused = corrected_comparability(baseline, run)
    checks: dict[str, Check] = {}
    pairs = {}
    dropped: dict[str, int] = {}
    shared = set(item_ids(run)) & set(item_ids(baseline))
    for key, result in run.models.items():
        if result.basis != "measured" or key not in baseline.models:
            continue
        name = f"paired_drop[{key}]"
        if refused is not None:
            checks[key] = Check(name, "fail", f"{key}: refused, the runs are not comparable on corrected figures "
                                              f"({refused}); raw judge pass rates are not compared")
            continue
        problem = error_rate_problem(key, result, limit) or error_rate_problem(
            f"{key} (baseline run)", baseline.models[key], limit)
        if problem is not None:
            checks[key] = Check(name, "fail", problem)
            continue
        a, b = paired_passes(baseline, run, key)
        dropped[key] = len((_failed_items(run, key) | _failed_items(baseline, key)) & shared)
        if a:
            pairs[key] = (a, b)
        else:
            checks[key] = Check(name, "skip", f"{key}: no items judged in both runs; not compared")
    for test in paired_drop_family(pairs, alpha=alpha):
        corrected = corrected_paired(*pairs[test.key], baseline.judge.alignment,  # type: ignore[union-attr]
                                     run.judge.alignment, two_sided_alpha=2 * test.decision.level)  # type: ignore[union-attr]
        shown = "undefined" if corrected.corrected_difference is None else f"{corrected.corrected_difference:+.4f}"
        a_b = "—" if corrected.corrected_b is None else f"{corrected.corrected_b:.4f}"
        a_a = "—" if corrected.corrected_a is None else f"{corrected.corrected_a:.4f}"
        detail = (f"{test.key} corrected accuracy {a_b} vs baseline {a_a} ({shown}, "
                  f"{test.interval_confidence * 100:.4g}% CI [{corrected.ci_low:+.4f}, {corrected.ci_high:+.4f}], "
                  f"n={corrected.n_paired}{_dropped_text(dropped[test.key])}; interval: {corrected.method}); "
                  f"raw judge pass rates {corrected.raw_b:.4f} vs {corrected.raw_a:.4f} "
                  f"({corrected.raw_difference:+.4f}); {corrected.losses} lost / {corrected.gains} gained; "
                  f"{test.method} p={test.p_value:.4g}; {test.correction_text()}")
        failed = test.dropped and corrected.ci_high < 0
        checks[test.key] = Check(f"paired_drop[{test.key}]", "fail" if failed else "pass",
                                 f"{detail} -> {'significant drop' if failed else 'no significant drop'}")
    return [checks[key] for key in run.models if key in checks]


def run_checks(summary: Summary, gates: GatesSpec, *, baseline: Summary | None = None) -> list[Check]:
    """Evaluate every configured gate (and the paired baseline test) on a run.

    Args:
        summary: the run.
        gates: the spec's gates.
        baseline: an earlier run of the same spec to compare item by item, or None.

    Returns:
        One check per configured gate, in a fixed order.

    Raises:
        DataError: the baseline is a run of a different spec.
    """
    if baseline is not None and baseline.spec_name != summary.spec_name:
        raise DataError(
            f"baseline is a run of spec {baseline.spec_name!r}, this run is spec {summary.spec_name!r}"
        )
    limit = gates.max_error_rate
    checks: list[Check] = []
    judged = summary.judge is not None
    if judged:
        checks.append(Check("judge", *judge_check(summary), implicit=True))
    for name, role, floor in (("student_min", "student", gates.student_min), ("teacher_min", "teacher", gates.teacher_min)):
        if floor is None:
            continue
        found = model_by_role(summary, role)
        if judged and found is not None and _unmeasured(role, summary) is None:
            checks.append(Check(name, *judged_floor(found[0], summary, floor)))
        else:
            checks.append(_floor(name, role, summary, floor, limit))
    if gates.baseline_min is not None:
        checks.extend(_baseline_floors(summary, gates.baseline_min, limit))
    if gates.non_inferiority_margin is not None and judged:
        checks.append(Check("non_inferiority", *judged_non_inferiority(summary, gates.non_inferiority_margin, gates.alpha)))
    elif gates.non_inferiority_margin is not None:
        checks.append(_non_inferiority(summary, gates.non_inferiority_margin, gates.alpha, limit))
    if gates.cascade_min is not None:
        checks.extend(_cascade_floors(summary, gates.cascade_min, limit))
    if gates.max_cost_per_request_usd is not None:
        checks.append(_max_cost(summary, gates.max_cost_per_request_usd, limit))
    if gates.max_p95_latency_ms is not None:
        checks.append(_max_latency(summary, gates.max_p95_latency_ms, gates))
    checks.extend(_max_error_rate(summary, limit, implicit=not gates.explicitly_set("max_error_rate")))
    if baseline is not None:
        checks.extend(_paired_drops(summary, baseline, gates.alpha, limit))
    return checks
