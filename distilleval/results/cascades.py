"""TEMPORARY STAND-IN for helper "cascade"'s ``results/cascades.py`` (issue 21): same interface
(``CascadeItems``, ``cascade_curve``, ``split_calibration``, ``choose_threshold``), simplest sound
method, written by helper "cand" only so the wiring in ``results/cascade_summary`` runs and is
tested. The integrator replaces this file with helper "cascade"'s version.

A cascade keeps the first model's answer when its confidence is at least the threshold and
defers the rest to the fallback; a deferred item pays for and waits for both calls.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CascadeItems:
    """Per-item arrays, aligned by item, over the items both models answered.

    ``first_confidence`` is NaN where the first model gave none (such an item is always deferred).
    """

    item_ids: np.ndarray
    first_correct: np.ndarray
    first_confidence: np.ndarray
    fallback_correct: np.ndarray
    first_cost_usd: np.ndarray
    fallback_cost_usd: np.ndarray
    first_latency_ms: np.ndarray
    fallback_latency_ms: np.ndarray

    def subset(self, mask: np.ndarray) -> "CascadeItems":
        """The items where ``mask`` is true."""
        return CascadeItems(**{name: getattr(self, name)[mask] for name in self.__dataclass_fields__})

    def __len__(self) -> int:
        return len(self.item_ids)


@dataclass(frozen=True)
class CascadePoint:
    """The cascade at one threshold."""

    threshold: float
    deferral_rate: float
    accuracy: float
    cost_per_request_usd: float
    latency_p50_ms: float | None
    latency_p95_ms: float | None


@dataclass(frozen=True)
class ThresholdChoice:
    """The chosen threshold (None: none meets the guarantee) and how it was chosen."""

    threshold: float | None
    method: str
    delta: float
    margin: float
    n_calibration: int
    upper_bound_excess_error: float | None


def deferred(items: CascadeItems, threshold: float) -> np.ndarray:
    """Which items the first model hands on at ``threshold`` (no confidence: always)."""
    confidence = items.first_confidence
    return ~(np.nan_to_num(confidence, nan=-np.inf) >= threshold)


def cascade_curve(items: CascadeItems, thresholds: Sequence[float]) -> list[CascadePoint]:
    """Deferral rate, accuracy, cost per request and latency of the cascade at each threshold."""
    points = []
    for threshold in thresholds:
        defer = deferred(items, threshold)
        correct = np.where(defer, items.fallback_correct, items.first_correct)
        cost = items.first_cost_usd + np.where(defer, items.fallback_cost_usd, 0.0)
        latency = items.first_latency_ms + np.where(defer, items.fallback_latency_ms, 0.0)
        measured = latency[~np.isnan(latency)]
        p50, p95 = (float(v) for v in np.percentile(measured, [50, 95])) if len(measured) else (None, None)
        points.append(CascadePoint(
            threshold=float(threshold), deferral_rate=float(defer.mean()) if len(defer) else 0.0,
            accuracy=float(correct.mean()) if len(correct) else 0.0,
            cost_per_request_usd=float(cost.mean()) if len(cost) else 0.0,
            latency_p50_ms=p50, latency_p95_ms=p95,
        ))
    return points


def split_calibration(item_ids: Sequence[str], fraction: float = 0.5) -> np.ndarray:
    """A boolean mask: True for the calibration items, chosen by a hash of each id (order-free)."""
    def unit(item_id: str) -> float:
        digest = hashlib.sha256(f"cascade-calibration|{item_id}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    return np.array([unit(str(i)) < fraction for i in item_ids], dtype=bool)


def choose_threshold(
    calibration_items: CascadeItems, margin: float, delta: float, thresholds: Sequence[float]
) -> ThresholdChoice:
    """Learn-then-Test by fixed-sequence testing with a Hoeffding bound: from the highest
    threshold down, keep going while the one-sided 1 - delta upper bound of the cascade's excess
    error over the fallback's is at most ``margin``; the lowest threshold reached is chosen."""
    n = len(calibration_items)
    chosen, bound_at_choice = None, None
    if n:
        slack = 2.0 * math.sqrt(math.log(1.0 / delta) / (2.0 * n))  # excess loss per item is in [-1, 1]
        for threshold in sorted(thresholds, reverse=True):
            defer = deferred(calibration_items, threshold)
            cascade_correct = np.where(defer, calibration_items.fallback_correct, calibration_items.first_correct)
            excess = float((calibration_items.fallback_correct - cascade_correct).mean())
            bound = excess + slack
            if bound > margin:
                break
            chosen, bound_at_choice = float(threshold), bound
    return ThresholdChoice(chosen, "learn_then_test:fixed_sequence:hoeffding", delta, margin, n, bound_at_choice)
