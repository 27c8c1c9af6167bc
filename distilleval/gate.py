"""Check a run against its spec's gates and, optionally, against a baseline run, for CI.

Checks (each configured gate is one check; unset gates are not checked):

- ``student_min`` / ``teacher_min``: the model's primary metric is at least the floor.
- ``non_inferiority``: the one-sided lower bound of student - teacher (paired, at ``alpha``)
  is above ``-margin``.
- ``max_cost_per_request``: the student's cost per request, priced from the run.
- ``max_p95_latency``: the student's measured p95 latency (skipped when every call was a
  cache hit, so no latency was measured).
- ``max_error_rate``: per measured teacher and student.
- ``paired_drop[<model>]`` (with a baseline run): the run fails only on a statistically
  significant drop, paired item by item. For 0/1 scores: McNemar's exact test, two-sided, at
  the spec's ``alpha``, failing only when the run is the worse side (so a one-sided false-alarm
  rate of at most alpha/2). Otherwise: a paired bootstrap confidence interval (1 - alpha,
  2,000 resamples, fixed seed) of the mean difference, failing when its upper end is below zero.

McNemar's test, the bootstrap and the non-inferiority bound come from ``distilleval.stats``, the
same functions that build ``summary.json``, so the gate and the summary agree.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Literal

from distilleval.cost import format_usd
from distilleval.errors import DataError
from distilleval.files import write_text_atomic
from distilleval.spec import GatesSpec
from distilleval.summary import ModelResult, Summary

Status = Literal["pass", "fail", "skip"]
BOOTSTRAP_RESAMPLES = 2_000
BOOTSTRAP_SEED = 0


# --- paired statistics (built on distilleval.stats) ------------------------------------


@dataclass(frozen=True)
class PairedResult:
    """A paired comparison of ``b`` against ``a`` on the items both scored (b - a)."""

    n_paired: int
    mean_a: float | None
    mean_b: float | None
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    method: str
    p_value: float | None = None
    losses: int = 0
    gains: int = 0


def paired_scores(
    a_items: dict[str, float | None], b_items: dict[str, float | None]
) -> tuple[list[float], list[float]]:
    """Scores of the items both sides scored, in a stable id order."""
    common = sorted(k for k in a_items.keys() & b_items.keys() if a_items[k] is not None and b_items[k] is not None)
    return [float(a_items[k]) for k in common], [float(b_items[k]) for k in common]  # type: ignore[arg-type]


def compare_paired(a: Sequence[float], b: Sequence[float], *, alpha: float) -> PairedResult:
    """Compare paired scores: McNemar exact for 0/1 scores, else paired bootstrap.

    The interval is two-sided at ``1 - alpha``: paired Wald for 0/1 scores, paired bootstrap
    of the mean difference otherwise.

    Args:
        a: the reference scores (baseline run, or teacher).
        b: the scores compared to it, paired by position.
        alpha: significance level.

    Returns:
        The paired result; ``p_value`` is McNemar's for 0/1 scores, None otherwise.
    """
    from distilleval.stats import mcnemar_exact, paired_bootstrap_ci

    n = len(a)
    if n == 0:
        return PairedResult(0, None, None, None, None, None, "no paired items")
    mean_a, mean_b = sum(a) / n, sum(b) / n
    binary = all(v in (0.0, 1.0) for v in a) and all(v in (0.0, 1.0) for v in b)
    if binary:
        losses = sum(1 for x, y in zip(a, b) if x == 1.0 and y == 0.0)
        gains = sum(1 for x, y in zip(a, b) if x == 0.0 and y == 1.0)
        difference = (gains - losses) / n
        # Paired Wald interval of the difference of proportions (the McNemar setting).
        half = NormalDist().inv_cdf(1 - alpha / 2) * math.sqrt(max(0.0, ((losses + gains) / n - difference**2) / n))
        return PairedResult(
            n, mean_a, mean_b, difference, difference - half, difference + half,
            "McNemar exact (two-sided), paired Wald interval", p_value=mcnemar_exact(losses, gains),
            losses=losses, gains=gains,
        )
    boot = paired_bootstrap_ci(a, b, confidence=1 - alpha, n_resamples=BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED)
    return PairedResult(n, mean_a, mean_b, mean_b - mean_a, boot.low, boot.high,
                        f"paired bootstrap ({BOOTSTRAP_RESAMPLES:,} resamples)")


def is_significant_drop(result: PairedResult, *, alpha: float) -> bool:
    """True when ``b`` is significantly worse than ``a`` at ``alpha`` (see module docstring)."""
    if result.n_paired == 0 or result.difference is None:
        return False
    if result.p_value is not None:
        return result.p_value < alpha and result.losses > result.gains
    return result.ci_high is not None and result.ci_high < 0


def non_inferiority_test(teacher: Sequence[float], student: Sequence[float], *, margin: float, alpha: float):
    """The one-sided non-inferiority test of student - teacher, as ``distilleval.stats`` builds it
    for summary.json (paired Wald bound for 0/1 scores, one-sided paired bootstrap otherwise).

    Returns:
        ``distilleval.summary.NonInferiority``, or None without paired items.
    """
    from distilleval.stats import compare_paired as stats_compare_paired

    if not teacher:
        return None
    comparison = stats_compare_paired("teacher", "student", list(teacher), list(student), margin=margin, alpha=alpha,
                                      n_resamples=BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED)
    return comparison.non_inferiority


# --- checks -----------------------------------------------------------------------------


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


def _max_latency(summary: Summary, limit_ms: float) -> Check:
    name = "max_p95_latency"
    found = model_by_role(summary, "student")
    latency = found[1].latency_ms if found else None
    if latency is None or latency.p95 is None or latency.n == 0:
        return Check(name, "skip", "no measured student latency (not called in this run, or every call was a cache hit); not checked")
    ok = latency.p95 <= limit_ms
    return Check(name, "pass" if ok else "fail",
                 f"student p95 latency {latency.p95:.0f} ms {'<=' if ok else '>'} {limit_ms:.0f} ms (n={latency.n})")


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
    checks = []
    for key, result in run.models.items():
        if result.basis != "measured" or key not in baseline.models:
            continue
        a, b = paired_scores(item_scores(baseline, key), item_scores(run, key))
        name = f"paired_drop[{key}]"
        if not a:
            checks.append(Check(name, "skip", f"{key}: no items scored in both runs; not compared"))
            continue
        paired = compare_paired(a, b, alpha=alpha)
        drop = is_significant_drop(paired, alpha=alpha)
        detail = (f"{key} {paired.mean_b:.4f} vs baseline {paired.mean_a:.4f} ({paired.difference:+.4f}, "
                  f"{1 - alpha:.0%} CI [{paired.ci_low:+.4f}, {paired.ci_high:+.4f}], n={paired.n_paired}); ")
        if paired.p_value is not None:
            detail += (f"{paired.method}: {paired.losses} lost / {paired.gains} gained, p={paired.p_value:.4g}, "
                       f"alpha={alpha:g}")
        else:
            detail += f"{paired.method}, alpha={alpha:g}"
        verdict = "significant drop" if drop else "no significant drop"
        checks.append(Check(name, "fail" if drop else "pass", f"{detail} -> {verdict}"))
    return checks


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


# --- output -----------------------------------------------------------------------------


def check_line(check: Check) -> str:
    """The one printed line for a check."""
    return f"{check.status.upper():4}  {check.name:28} {check.message}"


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temp file in the same folder, renamed over it.

    Raises:
        DataError: the folder cannot be created or written.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, text)
    except OSError as err:
        raise DataError(f"{path}: cannot write ({err.strerror or err})") from None


def junit_xml(checks: Sequence[Check], *, suite_name: str) -> str:
    """JUnit XML with one test case per check (failures and skips marked)."""
    failures = sum(c.status == "fail" for c in checks)
    skipped = sum(c.status == "skip" for c in checks)
    counts = {"tests": str(len(checks)), "failures": str(failures), "errors": "0", "skipped": str(skipped)}
    root = ET.Element("testsuites", {"name": "distilleval gate", **counts})
    suite = ET.SubElement(root, "testsuite", {"name": suite_name, **counts})
    for check in checks:
        case = ET.SubElement(suite, "testcase", {"classname": f"distilleval.gate.{suite_name}", "name": check.name})
        if check.status == "fail":
            ET.SubElement(case, "failure", {"message": check.message, "type": "GateFailed"}).text = check.message
        elif check.status == "skip":
            ET.SubElement(case, "skipped", {"message": check.message})
        ET.SubElement(case, "system-out").text = check_line(check)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(checks: Sequence[Check], path: Path, *, suite_name: str) -> None:
    """Write the JUnit XML atomically."""
    atomic_write(path, junit_xml(checks, suite_name=suite_name))


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def step_summary_markdown(checks: Sequence[Check], *, title: str) -> str:
    """The markdown appended to ``$GITHUB_STEP_SUMMARY``."""
    failed = sum(c.status == "fail" for c in checks)
    outcome = "FAIL" if failed else "PASS"
    lines = [f"### distilleval gate: {outcome} — {_md_cell(title)}", "", "| Check | Result | Numbers |", "|---|---|---|"]
    icons = {"pass": "pass", "fail": "**FAIL**", "skip": "skipped"}
    for check in checks:
        lines.append(f"| `{check.name}` | {icons[check.status]} | {_md_cell(check.message)} |")
    return "\n".join(lines) + "\n\n"


def github_annotation(check: Check) -> str:
    """A GitHub Actions ``::error`` workflow command for a failed check."""
    text = f"distilleval gate {check.name}: {check.message}"
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return f"::error ::{text}"
