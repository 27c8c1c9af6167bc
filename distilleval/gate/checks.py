"""Check a run against its spec's gates and, optionally, against a baseline run, for CI.

Checks (each configured gate is one check; unset gates are not checked):

- ``student_min`` / ``teacher_min``: the model's primary metric is at least the floor.
- ``non_inferiority``: the one-sided lower bound of student - teacher (paired, at ``alpha``)
  is above ``-margin``.
- ``max_cost_per_request``: the student's cost per request, priced from the run.
- ``max_p95_latency``: the student's p95 latency: the unloaded probe's when the run has one,
  else the run's own under load. Not judged (skipped, saying how to get a judgement: the
  probe) when those figures are client-bound (``distilleval.results.latency``) or when every
  call was a cache hit (the original calls' figure is shown, not judged).
- ``max_error_rate``: per measured teacher and student.
- ``paired_drop[<model>]`` (with a baseline run): the run fails only on a statistically
  significant drop, paired item by item, with every model's check corrected together
  (``distilleval.gate.family``): a one-sided p-value of a drop per model (exact McNemar tail for
  0/1 scores, a paired sign-flip permutation test otherwise) and Holm's step-down over the
  models at ``alpha / 2``, so noise alone fails the build at most alpha/2 of the time however
  many models are gated. The line names the correction and the number of comparisons.

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
from distilleval.gate.paired import non_inferiority_test, paired_scores
from distilleval.results.summary_json import ModelResult, Summary
from distilleval.spec.task_spec import GatesSpec

Status = Literal["pass", "fail", "skip"]


@dataclass(frozen=True)
class Check:
    """One gate check and its outcome, with the numbers in ``message``."""

    name: str
    status: Status
    message: str


def model_by_role(summary: Summary, role: str) -> tuple[str, ModelResult] | None:
    """The first model of ``role`` in the summary, as (key, result)."""
    for key, result in summary.models.items():
        if result.role == role:
            return key, result
    return None


def item_scores(summary: Summary, model_key: str) -> dict[str, float | None]:
    """Item id -> score of one model (items the model has no score for are absent)."""
    return {item.id: item.scores[model_key] for item in summary.items if model_key in item.scores}


def _metric(result: ModelResult) -> float | None:
    return result.metric.value if result.metric else None


def _floor(name: str, role: str, summary: Summary, floor: float) -> Check:
    found = model_by_role(summary, role)
    metric = summary.primary_metric
    if found is None or _metric(found[1]) is None:
        return Check(name, "fail", f"no {role} {metric} in the run to compare with the floor {floor:.3f}")
    value = _metric(found[1])
    ok = value >= floor  # type: ignore[operator]
    return Check(name, "pass" if ok else "fail", f"{role} {metric} {value:.4f} {'>=' if ok else '<'} floor {floor:.4f}")


def _non_inferiority(summary: Summary, margin: float, alpha: float) -> Check:
    name = "non_inferiority"
    teacher, student = model_by_role(summary, "teacher"), model_by_role(summary, "student")
    if teacher is None or student is None:
        return Check(name, "fail", "the run needs a teacher and a student for the non-inferiority check")
    for comparison in summary.comparisons:
        test = comparison.non_inferiority
        if (comparison.a, comparison.b) == (teacher[0], student[0]) and test is not None:
            if math.isclose(test.margin, margin) and math.isclose(test.alpha, alpha):
                ok = test.non_inferior
                return Check(
                    name, "pass" if ok else "fail",
                    f"student - teacher {test.difference:+.4f}, one-sided {1 - alpha:.0%} lower bound "
                    f"{test.lower_bound:+.4f} {'>' if ok else '<='} -margin {-margin:+.4f} ({test.method}, n={comparison.n_paired})",
                )
    a, b = paired_scores(item_scores(summary, teacher[0]), item_scores(summary, student[0]))
    test = non_inferiority_test(a, b, margin=margin, alpha=alpha)
    if test is None:
        return Check(name, "fail", "no items scored for both teacher and student")
    ok = test.non_inferior
    return Check(
        name, "pass" if ok else "fail",
        f"student - teacher {test.difference:+.4f}, one-sided {1 - alpha:.0%} lower bound {test.lower_bound:+.4f} "
        f"{'>' if ok else '<='} -margin {-margin:+.4f} ({test.method}, n={len(a)})",
    )


def _max_cost(summary: Summary, limit_usd: float) -> Check:
    name = "max_cost_per_request"
    found = model_by_role(summary, "student")
    if found is None or found[1].cost_per_request_usd is None:
        return Check(name, "fail", f"no student cost per request in the run to compare with ${limit_usd:.6g}")
    cost = found[1].cost_per_request_usd
    ok = cost <= limit_usd
    return Check(name, "pass" if ok else "fail",
                 f"student cost/request {format_usd(cost)} {'<=' if ok else '>'} {format_usd(limit_usd)} ({found[1].cost_basis})")


PROBE_HINT = "--latency-probe 50@1 (or the spec's latency: {probe_calls: 50, concurrency: 1})"


def _max_latency(summary: Summary, limit_ms: float) -> Check:
    name = "max_p95_latency"
    found = model_by_role(summary, "student")
    result = found[1] if found else None
    figures = result.latency if result is not None else None
    unloaded = figures.unloaded_ms if figures is not None else None
    if unloaded is not None and unloaded.n and unloaded.p95 is not None:
        if figures.unloaded_client_bound:  # type: ignore[union-attr]
            return Check(name, "skip", f"not judged: client-bound even in the probe (student p95 unloaded {unloaded.p95:.0f} ms; "
                         f"{figures.unloaded_client_bound_reason}); the client machine is too busy: rerun the probe on "  # type: ignore[union-attr]
                         "a quieter one")
        ok = unloaded.p95 <= limit_ms
        return Check(name, "pass" if ok else "fail",
                     f"student p95 latency, unloaded {unloaded.p95:.0f} ms {'<=' if ok else '>'} {limit_ms:.0f} ms "
                     f"(probe: n={unloaded.n}, concurrency {figures.unloaded_concurrency})")  # type: ignore[union-attr]
    latency = result.latency_ms if result is not None else None
    if latency is None or latency.p95 is None or latency.n == 0:
        if result is not None and result.batch_api:
            return Check(name, "skip", f"not judged: the student was answered through the {result.batch_api} batch API, "
                         f"which has no per-request latency; for a judgement run with {PROBE_HINT}")
        original = figures.original_ms if figures is not None else None
        if original is not None and original.p95 is not None:
            return Check(name, "skip", f"not judged: every student call came from the cache (the original calls' p95 "
                         f"was {original.p95:.0f} ms, measured then, not now); for a judgement run with {PROBE_HINT}")
        return Check(name, "skip", "no measured student latency (not called in this run, or every call was a cache hit); not checked")
    if figures is not None and figures.client_bound:
        return Check(name, "skip", f"not judged: client-bound (student p95 {latency.p95:.0f} ms under load at concurrency "
                     f"{figures.concurrency}; {figures.client_bound_reason}); for a judgement run with {PROBE_HINT}")
    load = f", under load at concurrency {figures.concurrency}" if figures is not None and figures.concurrency else ""
    ok = latency.p95 <= limit_ms
    return Check(name, "pass" if ok else "fail",
                 f"student p95 latency {latency.p95:.0f} ms {'<=' if ok else '>'} {limit_ms:.0f} ms (n={latency.n}{load})")


def _max_error_rate(summary: Summary, limit: float) -> list[Check]:
    checks = []
    for role in ("teacher", "student"):
        found = model_by_role(summary, role)
        if found is None or found[1].basis != "measured":
            continue
        result = found[1]
        ok = result.error_rate <= limit
        failed = sum(result.errors.values())
        checks.append(Check(
            f"max_error_rate[{role}]", "pass" if ok else "fail",
            f"{role} error rate {result.error_rate:.2%} ({failed}/{result.n}) {'<=' if ok else '>'} {limit:.2%}",
        ))
    return checks


def _paired_drops(run: Summary, baseline: Summary, alpha: float) -> list[Check]:
    """One ``paired_drop[<model>]`` check per model in both runs, decided together (``distilleval.gate.family``)."""
    checks: dict[str, Check] = {}
    pairs = {}
    for key, result in run.models.items():
        if result.basis != "measured" or key not in baseline.models:
            continue
        a, b = paired_scores(item_scores(baseline, key), item_scores(run, key))
        if a:
            pairs[key] = (a, b)
        else:
            checks[key] = Check(f"paired_drop[{key}]", "skip", f"{key}: no items scored in both runs; not compared")
    for test in paired_drop_family(pairs, alpha=alpha):
        paired = test.paired
        detail = (f"{test.key} {paired.mean_b:.4f} vs baseline {paired.mean_a:.4f} ({paired.difference:+.4f}, "
                  f"{test.interval_confidence * 100:.4g}% CI [{paired.ci_low:+.4f}, {paired.ci_high:+.4f}], n={paired.n_paired}; "
                  f"interval: {paired.method}); ")
        if paired.p_value is not None:
            detail += f"{paired.losses} lost / {paired.gains} gained; "
        detail += f"{test.method} p={test.p_value:.4g}; {test.correction_text()}"
        verdict = "significant drop" if test.dropped else "no significant drop"
        checks[test.key] = Check(f"paired_drop[{test.key}]", "fail" if test.dropped else "pass", f"{detail} -> {verdict}")
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
    checks: list[Check] = []
    if gates.student_min is not None:
        checks.append(_floor("student_min", "student", summary, gates.student_min))
    if gates.teacher_min is not None:
        checks.append(_floor("teacher_min", "teacher", summary, gates.teacher_min))
    if gates.non_inferiority_margin is not None:
        checks.append(_non_inferiority(summary, gates.non_inferiority_margin, gates.alpha))
    if gates.max_cost_per_request_usd is not None:
        checks.append(_max_cost(summary, gates.max_cost_per_request_usd))
    if gates.max_p95_latency_ms is not None:
        checks.append(_max_latency(summary, gates.max_p95_latency_ms))
    if gates.max_error_rate is not None:
        checks.extend(_max_error_rate(summary, gates.max_error_rate))
    if baseline is not None:
        checks.extend(_paired_drops(summary, baseline, gates.alpha))
    return checks
