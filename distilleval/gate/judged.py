"""Gate checks of a judge-scored run: floors and non-inferiority on the corrected figures.

A judge's verdicts count only when ``summary.judge.trusted``: the spec declares an alignment set,
the set meets every requirement of ``scorer.alignment`` and the judge's calls failed no more
often than ``gates.max_error_rate``. Otherwise each judged check fails with the reason (a result
that cannot be trusted is never a pass, as with a model above the error-rate limit), and the
``judge`` check names the requirement that is not met. Each function returns ``(status,
message)``; ``gate.checks`` makes the ``Check``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from distilleval.results.item_results import judge_passes
from distilleval.results.summary_json import Summary

Outcome = Literal["pass", "fail"]
"""What a judged check can say (it is never skipped once a judge scored the run)."""


def untrusted_reason(summary: Summary) -> str | None:
    """Why the run's judge verdicts do not count, or None when they do (or no judge scored it)."""
    judge = summary.judge
    if judge is None or judge.trusted:
        return None
    return "judge not trusted, its verdicts do not count: " + "; ".join(judge.untrusted_reasons)


def judge_check(summary: Summary) -> tuple[Outcome, str]:
    """The ``judge`` check's ``(status, message)``: pass when the judge's verdicts count, else fail naming what is
    not met."""
    reason = untrusted_reason(summary)
    if reason is not None:
        return ("fail", reason)
    if summary.judge is None or summary.judge.alignment is None:  # a trusted judge has an alignment set
        return ("fail", "no judge alignment in the run")
    alignment = summary.judge.alignment
    return ("pass", f"judge {summary.judge.model}: {alignment.rows} alignment rows, sensitivity "
                    f"{alignment.sensitivity.value:.3f} (lower {alignment.sensitivity.ci_low:.3f}), specificity "
                    f"{alignment.specificity.value:.3f} (lower {alignment.specificity.ci_low:.3f}), kappa "
                    f"{alignment.kappa if alignment.kappa is None else round(alignment.kappa, 3)}")


def judged_floor(key: str, summary: Summary, floor: float) -> tuple[Outcome, str]:
    """``(status, message)`` of a floor on the corrected accuracy of model ``key``."""
    reason = untrusted_reason(summary)
    if reason is not None:
        return ("fail", reason)
    figures = summary.judge.figures.get(key) if summary.judge is not None else None
    if figures is None or figures.corrected.value is None:
        return ("fail", f"no corrected {key} accuracy in the run to compare with the floor {floor:.3f}")
    value = figures.corrected.value
    ok = value >= floor
    return ("pass" if ok else "fail",
            f"{key} corrected accuracy {value:.4f} {'>=' if ok else '<'} floor {floor:.4f} (judge pass rate "
            f"{figures.raw.value:.4f}, corrected for the judge's measured error; over {figures.n} judged answers)")


def judged_non_inferiority(summary: Summary, margin: float, alpha: float) -> tuple[Outcome, str]:
    """``(status, message)`` of the student's non-inferiority on the corrected paired difference."""
    reason = untrusted_reason(summary)
    if reason is not None:
        return ("fail", reason)
    comparison = summary.judge.comparison if summary.judge is not None else None
    if comparison is None or comparison.lower_bound is None or comparison.margin is None \
            or abs(comparison.margin - margin) > 1e-12:
        return ("fail", "no corrected teacher-student comparison at this margin in the run")
    ok = bool(comparison.non_inferior)
    shown = "undefined" if comparison.corrected_difference is None else f"{comparison.corrected_difference:+.4f}"
    return ("pass" if ok else "fail",
            f"student - teacher corrected {shown} (raw {comparison.raw_difference:+.4f}), one-sided "
            f"{1 - alpha:.0%} lower bound {comparison.lower_bound:+.4f} {'>' if ok else '<='} -margin "
            f"{-margin:+.4f} ({comparison.method}, n={comparison.n_paired})")


def corrected_comparability(a: Summary, b: Summary) -> str | None:
    """Why two runs cannot be compared on judge-corrected figures, or None when they can.

    Both runs must be judge-scored by the same judge (model, criteria file, scale), measured on the
    same alignment set (the correction assumes one judge with one error rate for both), and trusted. Call it only when at least one run is judge-scored.
    """
    ja, jb = a.judge, b.judge
    if ja is None or jb is None:
        which = "run A" if ja is None else "run B"
        return f"{which} is not judge-scored and the other is"
    differences = []
    if ja.model != jb.model:
        differences.append(f"judge {ja.model} vs {jb.model}")
    if ja.criteria_sha256 != jb.criteria_sha256:
        differences.append("criteria files differ")
    if ja.scale != jb.scale:
        differences.append(f"scale {ja.scale} vs {jb.scale}")
    if ja.alignment is None or jb.alignment is None:
        differences.append("no alignment set in " + ("run A" if ja.alignment is None else "run B"))
    elif ja.alignment.sha256 != jb.alignment.sha256:
        differences.append("alignment sets differ")
    if differences:
        return "; ".join(differences)
    for name, summary in (("run A", a), ("run B", b)):
        reason = untrusted_reason(summary)
        if reason is not None:
            return f"{name}: {reason}"
    return None


def _rates(alignment) -> tuple[int, int, int, int]:
    return alignment.true_pass, alignment.positives, alignment.true_fail, alignment.negatives


def paired_passes(a: Summary, b: Summary, key: str) -> tuple[list[float], list[float]]:
    """Model ``key``'s judge verdicts (1 pass, 0 fail) in runs ``a`` and ``b`` over the items both judged, by id."""
    in_a, in_b = judge_passes(a, key), judge_passes(b, key)
    common = sorted(in_a.keys() & in_b.keys())
    return [float(in_a[k]) for k in common], [float(in_b[k]) for k in common]


@dataclass(frozen=True)
class CorrectedPaired:
    """Run B − run A of one model on judge verdicts: raw and corrected for the judge's measured error.

    ``ci_low``/``ci_high`` are the corrected difference's two-sided interval at the level asked for,
    carrying both the eval items' and the alignment set's uncertainty.
    """

    n_paired: int
    raw_a: float
    raw_b: float
    raw_difference: float
    corrected_a: float | None
    corrected_b: float | None
    corrected_difference: float | None
    ci_low: float
    ci_high: float
    losses: int
    gains: int
    method: str


def corrected_paired(a: Sequence[float], b: Sequence[float], alignment_a, alignment_b, *,
                     two_sided_alpha: float) -> CorrectedPaired:
    """The corrected paired difference of verdicts ``b − a`` (``results.judge_correction``), its interval
    two-sided at ``1 − two_sided_alpha`` (each end a one-sided bound at ``1 − two_sided_alpha / 2``).

    ``alignment_a`` and ``alignment_b`` are each run's measurement of the one judge on the one alignment
    set. When they differ (a judge that is not quite deterministic, graded again without the cache),
    each gives an interval that holds at the level, so their union does too: the union is shown, and
    the point estimate divides by the mean of the two Youden J's. Each run's own corrected accuracy
    uses its own measurement.
    """
    from distilleval.results.judge_alignment import judge_rates
    from distilleval.results.judge_correction import corrected_difference, rogan_gladen

    n = len(a)
    losses = sum(1 for x, y in zip(a, b) if x > y)
    gains = sum(1 for x, y in zip(a, b) if x < y)
    measured = [judge_rates(alignment_a)]
    if _rates(alignment_b) != _rates(alignment_a):
        measured.append(judge_rates(alignment_b))
    results = [corrected_difference(losses, gains, n, rates, alpha=two_sided_alpha) for rates in measured]
    youdens = [r.sensitivity + r.specificity - 1 for r in measured if r.sensitivity is not None
               and r.specificity is not None]
    youden = sum(youdens) / len(youdens) if len(youdens) == len(measured) else 0.0
    raw = results[0].raw
    point = min(1.0, max(-1.0, raw / youden)) if youden > 0 else None
    method = results[0].method
    if len(measured) > 1:
        method += "; union of the intervals from both runs' measurements of the judge"

    def corrected(rate: float, alignment) -> float | None:
        rates = judge_rates(alignment)
        if rates.sensitivity is None or rates.specificity is None:
            return None
        value = rogan_gladen(rate, rates.sensitivity, rates.specificity)
        return None if value != value else value  # NaN: J <= 0

    raw_a, raw_b = sum(a) / n, sum(b) / n
    return CorrectedPaired(n, raw_a, raw_b, raw, corrected(raw_a, alignment_a), corrected(raw_b, alignment_b), point,
                           min(r.ci_low for r in results), max(r.ci_high for r in results), losses, gains, method)
