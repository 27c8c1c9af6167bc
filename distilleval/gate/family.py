"""The gate's paired-drop checks as one family: every model's drop test corrected together (Holm).

``gate --baseline RUN`` asks, for each model measured in both runs, "did this model get worse?".
Asked uncorrected of K models, noise alone fails the build up to K times as often as one test
would. Here each model gets a one-sided p-value that it dropped (exact McNemar tail for 0/1
scores, a paired sign-flip permutation test for other scores), and Holm's step-down procedure
over the K p-values decides, at family-wise level ``alpha / 2`` for a false failure: the same
per-test level as the single two-sided test at ``alpha`` that fails only on the worse side, so
one model is judged exactly as before.

Each drop's printed interval is the two-sided paired interval at the level its Holm step used
(``1 - 2·level``), so an interval below zero goes with a failed check: for 0/1 scores McNemar's
exact conditional interval, for other scores the interval that inverts the sign-flip test
itself (``distilleval.results.families.sign_flip_interval``), never a bootstrap beside a
permutation decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from distilleval.gate.paired import PairedResult, compare_paired_as_tested
from distilleval.results.families import HolmDecision, Scores, drop_p_value, holm


@dataclass(frozen=True)
class DropTest:
    """One model's paired-drop test, decided within its family.

    Attributes:
        key: the model.
        paired: the paired comparison (run − baseline) with its interval at the Holm level.
        p_value: one-sided p-value of a drop.
        method: how ``p_value`` was computed.
        decision: Holm's decision for this model.
        family_alpha: the family-wise false-failure level (``alpha / 2``).
    """

    key: str
    paired: PairedResult
    p_value: float
    method: str
    decision: HolmDecision
    family_alpha: float

    @property
    def dropped(self) -> bool:
        """True when the drop is significant after the correction."""
        return self.decision.rejected and self.paired.difference is not None and self.paired.difference < 0

    @property
    def interval_confidence(self) -> float:
        """Two-sided coverage of ``paired``'s interval."""
        return 1.0 - 2.0 * self.decision.level

    def correction_text(self) -> str:
        """How the family was corrected, for the check's line."""
        k = self.decision.family_size
        if k == 1:
            return f"one comparison, no correction needed (false-failure level {self.family_alpha:g})"
        return (f"Holm over {k} paired-drop checks: adjusted p={self.decision.adjusted_p:.4g}, "
                f"family-wise false-failure level {self.family_alpha:g}")


def family_alpha(alpha: float) -> float:
    """The family-wise false-failure level for the spec's ``alpha``: a drop is one tail of a two-sided test."""
    return alpha / 2


def paired_drop_family(pairs: Mapping[str, tuple[Scores, Scores]], *, alpha: float) -> list[DropTest]:
    """Test every model for a drop against the baseline run, corrected together by Holm.

    Args:
        pairs: model -> (baseline scores, run scores), paired by position; models with no
            paired items must be left out (they are not compared).
        alpha: the spec's significance level; a false failure of the whole family has
            probability at most ``alpha / 2``.

    Returns:
        One ``DropTest`` per model, in the order of ``pairs``.
    """
    level = family_alpha(alpha)
    tested = {key: drop_p_value(a, b) for key, (a, b) in pairs.items()}
    decisions = holm([p for p, _ in tested.values()], level)
    results = []
    for (key, (a, b)), (p, method), decision in zip(pairs.items(), tested.values(), decisions):
        # Two-sided at 1 - 2·level: its upper end is the one-sided test's at the Holm level.
        paired = compare_paired_as_tested(a, b, alpha=2 * decision.level)
        results.append(DropTest(key, paired, p, method, decision, level))
    return results
