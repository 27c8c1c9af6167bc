"""What ``build_summary`` needs of a scorer, as a type.

The scorers live a layer above (``distilleval.scoring``), so this layer names only the methods
it calls; every ``scoring.base.Scorer`` has them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from distilleval.results.summary_json import MetricValue


class ItemScorer(Protocol):
    """Scores outputs item by item and summarises the scores into the primary metric.

    The scores are ``scoring.base.ItemScore`` objects; this layer reads their fields only.
    """

    primary_metric: str
    micro_averaged: bool

    def score_items(self, outputs: Sequence[str | None], items: Sequence[Any]) -> list[Any]:
        """One score per output, against the item at the same position."""
        ...

    def summarize(self, scores: Sequence[Any]) -> tuple[MetricValue, dict[str, float | None]]:
        """The primary metric with its interval, and secondary metrics by name."""
        ...

    def metric_rows(self, scores: Sequence[Any]) -> list[tuple[float, float]]:
        """Per-item ``(numerator, denominator)`` of the primary metric."""
        ...
