"""The ``judge`` scorer: a judge model grades free-text answers against a criteria file.

The judge's calls are ordinary runner calls (role ``judge``; cache, retries, resume, pricing,
every route), made by ``distilleval.pipeline.judging`` before scoring. A judge call is keyed by
the item and a hash of the answer, never by the model that wrote it, and its prompt holds only
the criteria, the item's inputs, the reference answer when the spec names one, and the answer:
the judge never sees whose answer it grades (and two models' identical answers share one call).

A failed or unparsable judge call is missing data: the item's score is None (excluded from
the denominator), never a fail, and it counts in the judge's error rate.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from distilleval.errors import ScoringError
from distilleval.results.summary_json import MetricValue
from distilleval.scoring.base import ItemScore, Scorer, _check_lengths, no_output_score, rate_metric

JUDGE_ROLE = "judge"
ALIGNMENT_ROLE = "judge_alignment"
PAIRWISE_ROLE = "judge_pairwise"

_VERDICT = re.compile(r"verdict\s*[:=]\s*\**\s*(pass|fail)", re.IGNORECASE)
_SCORE = re.compile(r"score\s*[:=]\s*\**\s*([1-5])\b", re.IGNORECASE)
_PREFERENCE = re.compile(r"winner\s*[:=]\s*\**\s*(1|2|tie)\b", re.IGNORECASE)


def answer_key(item_id: str, answer: str) -> str:
    """The judge call's item id: the item and a hash of the answer (not the model that wrote it)."""
    return f"{item_id}~{hashlib.sha256(answer.encode('utf-8')).hexdigest()[:16]}"


def _inputs_text(inputs: Mapping[str, str]) -> str:
    return "\n".join(f"{name}: {value}" for name, value in inputs.items())


def _instructions(scale: str) -> str:
    if scale == "graded":
        return ("Grade the answer against the criteria from 1 (fails them entirely) to 5 (meets every one). "
                "Give one short reason, then end with a line 'SCORE: <1-5>'.")
    return ("Decide whether the answer meets the criteria. Give one short reason, then end with a line "
            "'VERDICT: PASS' or 'VERDICT: FAIL'.")


def judge_messages(criteria: str, inputs: Mapping[str, str], answer: str, *, reference: str | None,
                   scale: str) -> tuple[dict[str, Any], ...]:
    """The judge's messages for one answer: criteria as the system message (a cacheable prefix),
    the task's inputs, the reference when given, and the answer; nothing names the answer's model."""
    parts = [f"Task input:\n{_inputs_text(inputs)}"]
    if reference is not None:
        parts.append(f"Reference answer:\n{reference}")
    parts.append(f"Answer to grade:\n{answer}")
    parts.append(_instructions(scale))
    return ({"role": "system", "content": f"You grade answers.\nCriteria:\n{criteria}"},
            {"role": "user", "content": "\n\n".join(parts)})


def pairwise_messages(criteria: str, inputs: Mapping[str, str], first: str, second: str, *,
                      reference: str | None) -> tuple[dict[str, Any], ...]:
    """The judge's messages comparing two answers, shown as "Answer 1" and "Answer 2" only."""
    parts = [f"Task input:\n{_inputs_text(inputs)}"]
    if reference is not None:
        parts.append(f"Reference answer:\n{reference}")
    parts.append(f"Answer 1:\n{first}")
    parts.append(f"Answer 2:\n{second}")
    parts.append("Which answer meets the criteria better? Give one short reason, then end with a line "
                 "'WINNER: 1', 'WINNER: 2' or 'WINNER: tie'.")
    return ({"role": "system", "content": f"You compare answers.\nCriteria:\n{criteria}"},
            {"role": "user", "content": "\n\n".join(parts)})


@dataclass(frozen=True)
class Verdict:
    """A parsed judge answer: ``passed`` for the correction, ``score`` in [0, 1] (graded: (k − 1) / 4)."""

    passed: bool
    score: float


def parse_verdict(text: str | None, *, scale: str = "pass_fail", pass_score: int = 4) -> Verdict | None:
    """The last verdict (or score) line of a judge's answer; None when it has none (missing data).

    >>> parse_verdict("Clear and polite.\\nVERDICT: PASS")
    Verdict(passed=True, score=1.0)
    >>> parse_verdict("SCORE: 3", scale="graded")
    Verdict(passed=False, score=0.5)
    >>> parse_verdict("I cannot tell") is None
    True
    """
    if not text:
        return None
    if scale == "graded":
        found = _SCORE.findall(text)
        if not found:
            return None
        grade = int(found[-1])
        return Verdict(passed=grade >= pass_score, score=(grade - 1) / 4)
    found = _VERDICT.findall(text)
    if not found:
        return None
    passed = found[-1].lower() == "pass"
    return Verdict(passed=passed, score=1.0 if passed else 0.0)


def parse_preference(text: str | None) -> str | None:
    """``"1"``, ``"2"`` or ``"tie"`` from a pairwise judge answer's last WINNER line; None when absent."""
    found = _PREFERENCE.findall(text or "")
    return found[-1].lower() if found else None


class JudgeScore(Scorer):
    """Scores each answer by the judge's verdict on it (``verdicts``: judge call item id -> judge answer text,
    None for a failed call). Primary metric: the raw pass rate (graded: the mean grade in [0, 1])."""

    kind = "judge"
    primary_metric = "judge_pass_rate"

    def __init__(self, config: Any, verdicts: Mapping[str, str | None] | None = None):
        self.config = config
        self.verdicts = verdicts

    def verdict_for(self, item_id: str, answer: str) -> Verdict | None:
        """The parsed verdict on this answer, None when the judge call failed or gave no verdict."""
        if self.verdicts is None:
            raise ScoringError("scorer kind 'judge' scores answers through judge calls, which only eval and run make "
                               "(score and offline runs cannot)")
        return parse_verdict(self.verdicts.get(answer_key(item_id, answer)), scale=self.config.scale,
                             pass_score=self.config.pass_score)

    def score_items(self, outputs: Sequence[str | None], items: Sequence[Any]) -> list[ItemScore]:
        """One ``ItemScore`` per answer: 1 / 0 (graded: (k − 1) / 4); None with reason ``judge_failed``
        when the judge gave no verdict."""
        _check_lengths(outputs, items)
        scores = []
        for output, item in zip(outputs, items):
            if output is None:
                scores.append(no_output_score())
                continue
            verdict = self.verdict_for(item.id, output)
            if verdict is None:
                scores.append(ItemScore(score=None, reason="judge_failed"))
            else:
                scores.append(ItemScore(score=verdict.score, reason=None if verdict.passed else "judge_fail",
                                        canonical=output.strip(), details={"passed": verdict.passed}))
        return scores

    def summarize(self, scores: Sequence[ItemScore]) -> tuple[MetricValue, dict[str, float | None]]:
        """The raw pass rate with its interval, and the share of answers the judge left unscored."""
        answered = [s for s in scores if s.reason != "no_output"]
        unscored = sum(1 for s in answered if s.score is None)
        return rate_metric(self.primary_metric, scores), {
            "judge_unscored_rate": unscored / len(answered) if answered else None,
        }
