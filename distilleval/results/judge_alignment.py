"""How well a judge agrees with humans, measured on an alignment set, and whether that is enough.

An alignment set holds answers humans judged right (positives) or wrong (negatives). The judge's
sensitivity is the share of positives it passes, its specificity the share of negatives it
fails; both carry Clopper–Pearson intervals, and they are what ``results.judge_correction``
corrects every judge-scored figure with. A row whose judge call failed is left out (missing
data) and counted.
"""

from __future__ import annotations

from collections.abc import Sequence

from distilleval.results.intervals import clopper_pearson
from distilleval.results.judge_correction import JudgeRates
from distilleval.results.statistics import cohen_kappa
from distilleval.results.summary_json import JudgeAlignmentResult, MetricValue

CP = "clopper-pearson"


def _rate(name: str, hits: int, n: int, confidence: float) -> MetricValue:
    if n == 0:
        return MetricValue(name=name, value=None, confidence=confidence)
    low, high = clopper_pearson(hits, n, confidence=confidence)
    return MetricValue(name=name, value=hits / n, ci_low=low, ci_high=high, ci_method=CP, confidence=confidence)


def measure_alignment(human: Sequence[bool], judge: Sequence[bool | None], *, path: str, sha256: str,
                      min_rows: int = 30, min_sensitivity_lower: float | None = None,
                      min_specificity_lower: float | None = None, confidence: float = 0.95) -> JudgeAlignmentResult:
    """Agreement, sensitivity, specificity (each with its interval) and Cohen's kappa of the judge
    against the human verdicts, and which of the spec's requirements are not met.

    Args:
        human: the human verdict per row (True: the answer is right).
        judge: the judge's verdict per row; None where its call failed or gave no verdict.
    """
    kept = [(h, j) for h, j in zip(human, judge) if j is not None]
    positives = sum(1 for h, _ in kept if h)
    negatives = len(kept) - positives
    true_pass = sum(1 for h, j in kept if h and j)
    true_fail = sum(1 for h, j in kept if not h and not j)
    sensitivity = _rate("sensitivity", true_pass, positives, confidence)
    specificity = _rate("specificity", true_fail, negatives, confidence)
    unmet = []
    if len(kept) < min_rows:
        unmet.append(f"alignment rows {len(kept)} < min_rows {min_rows}")
    for name, metric, floor in (("sensitivity", sensitivity, min_sensitivity_lower),
                                ("specificity", specificity, min_specificity_lower)):
        if floor is not None and (metric.ci_low is None or metric.ci_low < floor):
            shown = "none" if metric.ci_low is None else f"{metric.ci_low:.3f}"
            unmet.append(f"{name} lower 95% bound {shown} < min_{name}_lower {floor:g}")
    if positives == 0 or negatives == 0:
        unmet.append("the alignment set needs answers humans judged right and answers they judged wrong")
    kappa = cohen_kappa([str(h) for h, _ in kept], [str(j) for _, j in kept]) if kept else None
    return JudgeAlignmentResult(
        path=path, sha256=sha256, rows=len(kept), failed_calls=len(human) - len(kept), positives=positives,
        negatives=negatives, true_pass=true_pass, true_fail=true_fail,
        agreement=_rate("agreement", true_pass + true_fail, len(kept), confidence),
        sensitivity=sensitivity, specificity=specificity, kappa=kappa, requirements_met=not unmet, unmet=unmet,
    )


def judge_rates(result: JudgeAlignmentResult) -> JudgeRates:
    """The counts ``results.judge_correction`` corrects with."""
    return JudgeRates(result.true_pass, result.positives, result.true_fail, result.negatives)
