"""The student against every local baseline, corrected together — never the best one picked and tested on the same items.

Picking the baseline that scored highest and then testing the student against it on the same
items tests a winner chosen by the noise it is tested on: with K equal baselines the "no better
than the local baseline" claim comes up about three times as often at K = 5 as at K = 1. Here the
student is compared with each scored baseline (two-sided: exact McNemar for 0/1 scores, a paired
sign-flip permutation test otherwise) and Holm's step-down over the K p-values at ``alpha``
decides which differences are real, so the chance of any false claim about the family stays at
most ``alpha``. Each interval is printed at the level its Holm step used, so it agrees with the
decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from distilleval.gate.paired import PairedResult, compare_paired_as_tested
from distilleval.results.families import HolmDecision, Scores, holm, two_sided_p_value

Direction = Literal["better", "worse", "inconclusive"]


@dataclass(frozen=True)
class BaselineComparison:
    """The student against one baseline (student − baseline), decided within the family.

    Attributes:
        key: the baseline's model key.
        name: its display name.
        paired: the paired comparison with its interval at the Holm level.
        p_value: two-sided p-value of a difference.
        method: how ``p_value`` was computed.
        decision: Holm's decision for this baseline.
    """

    key: str
    name: str
    paired: PairedResult
    p_value: float
    method: str
    decision: HolmDecision

    @property
    def direction(self) -> Direction:
        """Whether the student is shown better, shown worse, or neither."""
        if not self.decision.rejected or self.paired.difference is None or self.paired.difference == 0:
            return "inconclusive"
        return "better" if self.paired.difference > 0 else "worse"

    @property
    def interval_confidence(self) -> float:
        """Two-sided coverage of ``paired``'s interval."""
        return 1.0 - self.decision.level


def correction_text(comparisons: list[BaselineComparison], alpha: float) -> str:
    """How the family was corrected, in words."""
    k = len(comparisons)
    if k == 1:
        return f"one baseline, so no correction needed (alpha {alpha:g})"
    return f"Holm over {k} baseline comparisons at family-wise alpha {alpha:g}"


def compare_with_baselines(
    baselines: Mapping[str, tuple[str, Scores, Scores]], *, alpha: float,
) -> list[BaselineComparison]:
    """Compare the student with every baseline, decided together by Holm.

    Args:
        baselines: baseline key -> (display name, baseline scores, student scores on the same items).
        alpha: family-wise level of the two-sided tests.

    Returns:
        One comparison per baseline with paired items, in the order given.
    """
    usable = {key: value for key, value in baselines.items() if len(value[1])}
    tested = [two_sided_p_value(a, b) for _, a, b in usable.values()]
    decisions = holm([p for p, _ in tested], alpha)
    comparisons = []
    for (key, (name, a, b)), (p, method), decision in zip(usable.items(), tested, decisions):
        paired = compare_paired_as_tested(a, b, alpha=decision.level)
        comparisons.append(BaselineComparison(key, name, paired, p, method, decision))
    return comparisons


def says_no_better(differences: np.ndarray, rejected: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Whether the verdict says "no better than the local baseline", vectorised over leading axes.

    True when Holm rejects some comparison whose baseline counts (meets the floor) and the
    student scored lower on it.

    Args:
        differences: student − baseline per comparison (last axis: the K baselines).
        rejected: Holm's decisions, same shape.
        counts: whether each baseline meets the floor (it is an alternative to the student).
    """
    return np.any(np.asarray(rejected) & (np.asarray(differences) < 0) & np.asarray(counts, dtype=bool), axis=-1)


def shown_better_than_all(differences: np.ndarray, rejected: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Whether the student is shown better than every baseline that counts, vectorised over leading axes."""
    better = np.asarray(rejected) & (np.asarray(differences) > 0)
    counts = np.asarray(counts, dtype=bool)
    return np.all(better | ~counts, axis=-1) & np.any(counts, axis=-1)
