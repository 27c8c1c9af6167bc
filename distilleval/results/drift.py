"""Has a model's behaviour moved? Its answers to the same canary items, then and now, compared.

The question a scheduled check must answer without a false green: *has this model changed more
than a share* ``threshold`` *of its answers?* So a model passes only when the data show its share
of changed answers is below the threshold: the one-sided upper Clopper–Pearson bound at level
``alpha`` is under it. That bound inverts the exact binomial test of ``share >= threshold``, so a
model whose true share is at or above the threshold passes with probability at most ``alpha``
(for every share and every number of canaries: the exact tail). The price of that guarantee is a
minimum sample: with ``n`` canaries even zero changes only show a share below
``1 - alpha ** (1 / n)``, so fewer than ``minimum_canaries(threshold, alpha)`` can never pass.

Beside that, for items with a gold answer: accuracy then and now, McNemar's exact test on the
items where one was right and the other wrong, and the interval of the change that inverts it
(``paired_proportions``); and for label tasks, which classes changed into which.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from distilleval.results.intervals import clopper_pearson
from distilleval.results.paired_proportions import conditional_interval, mcnemar_exact


def changed_share_upper_bound(changed: int, compared: int, *, alpha: float) -> float:
    """One-sided ``1 - alpha`` upper Clopper–Pearson bound of the share of changed answers.

    >>> round(changed_share_upper_bound(0, 200, alpha=0.05), 4)
    0.0149
    """
    return clopper_pearson(changed, compared, confidence=1 - 2 * alpha)[1]


def most_changes_that_pass(compared: int, *, threshold: float, alpha: float) -> int | None:
    """The largest number of changed answers among ``compared`` that still passes (None: not even 0)."""
    passing = None
    for changed in range(compared + 1):
        if changed_share_upper_bound(changed, compared, alpha=alpha) >= threshold:
            break
        passing = changed
    return passing


def minimum_canaries(threshold: float, *, alpha: float) -> int:
    """The fewest compared items with which a model that changed nothing can pass.

    >>> minimum_canaries(0.05, alpha=0.05)
    59
    """
    compared = 1
    while changed_share_upper_bound(0, compared, alpha=alpha) >= threshold:
        compared += 1
    return compared


@dataclass(frozen=True)
class Correctness:
    """Right-or-wrong against gold, then and now, on the items both runs answered that have gold."""

    items: int
    accuracy_before: float
    accuracy_after: float
    right_before_only: int
    right_after_only: int
    mcnemar_p: float
    change_interval: tuple[float, float]


@dataclass(frozen=True)
class DriftComparison:
    """One model's answers on the canaries, then and now.

    ``changed_interval`` is the two-sided ``1 - 2 alpha`` Clopper–Pearson interval of the share,
    whose upper end is the bound the verdict compares with ``threshold``.
    """

    role: str
    compared: int
    changed: int
    threshold: float
    alpha: float
    changed_interval: tuple[float, float] | None
    passed: bool
    reason: str
    correctness: Correctness | None = None
    per_class: list[dict[str, Any]] = field(default_factory=list)

    @property
    def changed_share(self) -> float | None:
        """Changed answers over compared items (None when none was compared)."""
        return self.changed / self.compared if self.compared else None

    @property
    def agreement(self) -> float | None:
        """Share of unchanged answers."""
        return None if not self.compared else 1 - self.changed / self.compared


def correctness_change(right_before: Sequence[bool], right_after: Sequence[bool], *, alpha: float) -> Correctness | None:
    """Accuracy then and now on the same items, McNemar's exact p and the interval of the change."""
    items = len(right_before)
    if items == 0:
        return None
    before_only = sum(1 for b, a in zip(right_before, right_after) if b and not a)
    after_only = sum(1 for b, a in zip(right_before, right_after) if a and not b)
    return Correctness(
        items=items, accuracy_before=sum(right_before) / items, accuracy_after=sum(right_after) / items,
        right_before_only=before_only, right_after_only=after_only, mcnemar_p=mcnemar_exact(before_only, after_only),
        change_interval=conditional_interval(before_only, after_only, items, 1 - alpha),
    )


def class_changes(before: Sequence[str], after: Sequence[str]) -> list[dict[str, Any]]:
    """Per class of the earlier answer: how many, how many changed, and into what (most first)."""
    moves: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for old, new in zip(before, after):
        moves[old][new] += 1
    rows = []
    for label in sorted(moves):
        counts = moves[label]
        total = sum(counts.values())
        into = {new: count for new, count in counts.most_common() if new != label}
        rows.append({"label": label, "items": total, "changed": sum(into.values()), "into": into})
    return rows


def compare_answers(
    role: str,
    before: Sequence[str],
    after: Sequence[str],
    *,
    threshold: float,
    alpha: float,
    right_before: Sequence[bool] = (),
    right_after: Sequence[bool] = (),
    by_class: bool = False,
) -> DriftComparison:
    """Compare one model's canonical answers to the same items, then (``before``) and now (``after``).

    Args:
        role: the model's role name.
        before / after: the answers, aligned by item, over the items both runs answered.
        threshold: the largest share of changed answers allowed.
        alpha: the chance that a model changed by ``threshold`` or more passes.
        right_before / right_after: correctness against gold on the items that have it (may be empty).
        by_class: add per-class changes (label tasks).
    """
    compared = len(before)
    changed = sum(1 for old, new in zip(before, after) if old != new)
    interval = clopper_pearson(changed, compared, confidence=1 - 2 * alpha) if compared else None
    floor = minimum_canaries(threshold, alpha=alpha)
    if compared < floor:
        passed = False
        reason = (f"{compared} items answered both times: too few to show a change below {threshold:.1%} "
                  f"(at least {floor} needed, even with no change)")
    elif interval is not None and interval[1] < threshold:
        passed = True
        reason = f"changed {changed}/{compared}; the share is below {threshold:.1%} (upper bound {interval[1]:.2%})"
    else:
        allowed = most_changes_that_pass(compared, threshold=threshold, alpha=alpha)
        passed = False
        upper = interval[1] if interval is not None else 1.0
        reason = (f"changed {changed}/{compared}: a share up to {upper:.2%} cannot be ruled out, over "
                  f"{threshold:.1%} ({allowed} changes or fewer would pass)")
    return DriftComparison(
        role=role, compared=compared, changed=changed, threshold=threshold, alpha=alpha, changed_interval=interval,
        passed=passed, reason=reason, correctness=correctness_change(right_before, right_after, alpha=alpha),
        per_class=class_changes(before, after) if by_class else [],
    )
