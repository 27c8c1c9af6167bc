"""Gate checks of a judge-scored run: floors and non-inferiority on the corrected figures.

A judge's verdicts count only when ``summary.judge.trusted``: the spec declares an alignment set,
the set meets every requirement of ``scorer.alignment`` and the judge's calls failed no more
often than ``gates.max_error_rate``. Otherwise each judged check fails with the reason (a result
that cannot be trusted is never a pass, as with a model above the error-rate limit), and the
``judge`` check names the requirement that is not met. Each function returns ``(status,
message)``; ``gate.checks`` makes the ``Check``.
"""

from __future__ import annotations

from distilleval.results.summary_json import Summary


def untrusted_reason(summary: Summary) -> str | None:
    """Why the run's judge verdicts do not count, or None when they do (or no judge scored it)."""
    judge = summary.judge
    if judge is None or judge.trusted:
        return None
    return "judge not trusted, its verdicts do not count: " + "; ".join(judge.untrusted_reasons)


def judge_check(summary: Summary) -> tuple[str, str]:
    """The ``judge`` check's ``(status, message)``: pass when the judge's verdicts count, else fail naming what is
    not met."""
    reason = untrusted_reason(summary)
    if reason is not None:
        return ("fail", reason)
    alignment = summary.judge.alignment
    return ("pass", f"judge {summary.judge.model}: {alignment.rows} alignment rows, sensitivity "
                    f"{alignment.sensitivity.value:.3f} (lower {alignment.sensitivity.ci_low:.3f}), specificity "
                    f"{alignment.specificity.value:.3f} (lower {alignment.specificity.ci_low:.3f}), kappa "
                    f"{alignment.kappa if alignment.kappa is None else round(alignment.kappa, 3)}")


def judged_floor(key: str, summary: Summary, floor: float) -> tuple[str, str]:
    """``(status, message)`` of a floor on the corrected accuracy of model ``key``."""
    reason = untrusted_reason(summary)
    if reason is not None:
        return ("fail", reason)
    figures = summary.judge.figures.get(key)
    if figures is None or figures.corrected.value is None:
        return ("fail", f"no corrected {key} accuracy in the run to compare with the floor {floor:.3f}")
    value = figures.corrected.value
    ok = value >= floor
    return ("pass" if ok else "fail",
            f"{key} corrected accuracy {value:.4f} {'>=' if ok else '<'} floor {floor:.4f} (judge pass rate "
            f"{figures.raw.value:.4f}, corrected for the judge's measured error; over {figures.n} judged answers)")


def judged_non_inferiority(summary: Summary, margin: float, alpha: float) -> tuple[str, str]:
    """``(status, message)`` of the student's non-inferiority on the corrected paired difference."""
    reason = untrusted_reason(summary)
    if reason is not None:
        return ("fail", reason)
    comparison = summary.judge.comparison
    if comparison is None or comparison.lower_bound is None or comparison.margin is None \
            or abs(comparison.margin - margin) > 1e-12:
        return ("fail", "no corrected teacher-student comparison at this margin in the run")
    ok = bool(comparison.non_inferior)
    shown = "undefined" if comparison.corrected_difference is None else f"{comparison.corrected_difference:+.4f}"
    return ("pass" if ok else "fail",
            f"student - teacher corrected {shown} (raw {comparison.raw_difference:+.4f}), one-sided "
            f"{1 - alpha:.0%} lower bound {comparison.lower_bound:+.4f} {'>' if ok else '<='} -margin "
            f"{-margin:+.4f} ({comparison.method}, n={comparison.n_paired})")
