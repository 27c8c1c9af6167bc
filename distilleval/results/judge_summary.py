"""Assemble ``summary.judge``: the judge's calls and cost, its alignment, and corrected figures.

Every judge-scored accuracy appears twice, raw and corrected (``results.judge_correction``),
and the teacher-vs-student comparison is corrected too. The judge is trusted only when the spec
declares an alignment set, the set meets every requirement of ``scorer.alignment``, and the
judge's own calls failed no more often than ``gates.max_error_rate``; an untrusted judge's
figures are still written (so they can be read) with the reasons, and the gate and verdict
refuse to judge them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from distilleval.results.judge_alignment import judge_rates
from distilleval.results.judge_correction import corrected_difference, corrected_rate
from distilleval.results.summary_json import (
    JudgeAlignmentResult,
    JudgeComparison,
    JudgeFigures,
    JudgeSummary,
    MetricValue,
    PairwiseResult,
)

if TYPE_CHECKING:
    from distilleval.spec.scorer_config import JudgeScorer

NO_ALIGNMENT = "no alignment set (scorer.alignment): the judge's error is unmeasured, so its verdicts do not count"


def _figures(passed: Sequence[bool], alignment: JudgeAlignmentResult | None, confidence: float) -> JudgeFigures:
    n, passes = len(passed), sum(passed)
    correctable = alignment is not None and alignment.positives > 0 and alignment.negatives > 0
    rates = judge_rates(alignment) if alignment is not None and correctable else None
    if n == 0:
        empty = MetricValue(name="raw_pass_rate", value=None, confidence=confidence)
        return JudgeFigures(n=0, passes=0, raw=empty, corrected=empty.model_copy(update={"name": "corrected_accuracy"}))
    from distilleval.results.judge_correction import CORRECTION_METHOD, clopper_pearson_array

    raw_low, raw_high = clopper_pearson_array(passes, n, confidence=confidence)
    raw = MetricValue(name="raw_pass_rate", value=passes / n, ci_low=raw_low, ci_high=raw_high,
                      ci_method="clopper-pearson", confidence=confidence)
    if rates is None:
        return JudgeFigures(n=n, passes=passes, raw=raw,
                            corrected=MetricValue(name="corrected_accuracy", value=None, confidence=confidence))
    result = corrected_rate(passes, n, rates, confidence=confidence)
    return JudgeFigures(n=n, passes=passes, raw=raw, corrected=MetricValue(
        name="corrected_accuracy", value=result.corrected, ci_low=result.corrected_low, ci_high=result.corrected_high,
        ci_method=CORRECTION_METHOD, confidence=confidence))


def _comparison(a: str, b: str, verdicts: Mapping[str, Mapping[str, bool | None]],
                alignment: JudgeAlignmentResult | None, *, margin: float | None,
                alpha: float) -> JudgeComparison | None:
    shared = sorted(item for item, v in verdicts[a].items()
                    if v is not None and verdicts[b].get(item) is not None)
    if not shared or alignment is None or not (alignment.positives and alignment.negatives):
        return None
    a_only = sum(1 for item in shared if verdicts[a][item] and not verdicts[b][item])
    b_only = sum(1 for item in shared if verdicts[b][item] and not verdicts[a][item])
    result = corrected_difference(a_only, b_only, len(shared), judge_rates(alignment), alpha=alpha, margin=margin)
    return JudgeComparison(a=a, b=b, n_paired=len(shared), raw_difference=result.raw,
                           corrected_difference=result.corrected, ci_low=result.ci_low, ci_high=result.ci_high,
                           method=result.method, margin=margin,
                           lower_bound=result.lower_bound if margin is not None else None,
                           non_inferior=result.non_inferior)


def build_judge_summary(
    config: JudgeScorer, *, criteria_sha256: str, calls: Sequence[Any], price_call: Callable[[Any], float],
    usable: Callable[[Any], bool],
    verdicts: Mapping[str, Mapping[str, bool | None]], alignment: JudgeAlignmentResult | None,
    pairwise: PairwiseResult | None = None, margin: float | None = None, alpha: float = 0.05,
    max_error_rate: float = 0.02, priced_as: str | None = None, confidence: float = 0.95,
) -> JudgeSummary:
    """``summary.judge`` from the judge's call results and its verdicts.

    Args:
        config: the spec's ``scorer:`` (a ``JudgeScorer``).
        calls: every judge call result of the run (grading, alignment and pairwise), run-store rows.
        price_call: a call's cost at the run's pricing table (cache hits included).
        usable: whether an answered call holds a verdict (or preference); one that does not is a
            failed judge call (missing data) and counts in the error rate.
        verdicts: model name -> item id -> the judge passed its answer (None: no verdict).
        alignment: the judge measured on the alignment set (None when the spec has none).
        pairwise: side-by-side results, when the spec asks for them.
        margin, alpha: the non-inferiority margin and level (``gates``).
        max_error_rate: the judge's failed calls above this share make it untrusted.
    """
    failed = [c for c in calls if not c.ok]
    errors: dict[str, int] = {}
    for call in failed:
        errors[call.error_kind or "error"] = errors.get(call.error_kind or "error", 0) + 1
    unparsed = sum(1 for c in calls if c.ok and not usable(c))
    if unparsed:
        errors["no_verdict"] = unparsed
    error_rate = (len(failed) + unparsed) / len(calls) if calls else 0.0
    reasons = []
    if alignment is None:
        reasons.append(NO_ALIGNMENT)
    else:
        reasons.extend(f"alignment requirement not met: {unmet}" for unmet in alignment.unmet)
    if error_rate > max_error_rate:
        reasons.append(f"judge error rate {error_rate:.1%} > max_error_rate {max_error_rate:.1%}")
    figures = {name: _figures([v for v in per_item.values() if v is not None], alignment, confidence)
               for name, per_item in verdicts.items()}
    comparison = (_comparison("teacher", "student", verdicts, alignment, margin=margin, alpha=alpha)
                  if {"teacher", "student"} <= set(verdicts) else None)
    return JudgeSummary(
        model=config.model, priced_as=priced_as, criteria_sha256=criteria_sha256, scale=config.scale,
        calls=len(calls), failed_calls=len(failed) + unparsed, errors=errors, error_rate=error_rate,
        input_tokens_total=sum(c.input_tokens or 0 for c in calls),
        output_tokens_total=sum(c.output_tokens or 0 for c in calls),
        cost_usd=sum(price_call(c) for c in calls), spent_usd=sum(price_call(c) for c in calls if not c.cache_hit),
        trusted=not reasons, untrusted_reasons=reasons, alignment=alignment, figures=figures,
        comparison=comparison, pairwise=pairwise,
    )
