"""Monte Carlo conformance of the corrected families and the learning curve's "flattens".

The cells (as ``conformance.Cell`` fields) of ``distilleval.results.conformance`` for statements decided by several tests at once
or across seeds, measured by seeded simulation with the tool's own vectorised decisions:

- the gate's paired-drop family (``gate --baseline``): one-sided exact McNemar tails, Holm at
  ``alpha / 2``; a build fails when some model is rejected and lost more than it gained;
- the report's student-against-every-baseline family: two-sided exact McNemar, Holm at ``alpha``;
  "no better than the local baseline" when some rejected baseline beat the student;
- ``compare``: two-sided exact McNemar per model, Holm at ``alpha``; any rejection is a change;
- the learning curve: "flattens" when the upper end of the gain per doubling (``gain_intervals``,
  one-sided ``1 - FLAT_ALPHA``) is below the margin, among curves that still gain the margin, and
  the coverage of the printed two-sided ``1 - 2 FLAT_ALPHA`` interval of the gain.

The simulation models are those of ``tests/gate/test_family.py``,
``tests/report/test_baseline_family.py``, ``tests/commands/test_compare.py`` and
``tests/results/test_learning_curve.py`` (which check that the vectorised decisions equal the
commands'); each is stated in its function's docstring.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from distilleval.results import learning_curve
from distilleval.results.families import binomial_tail_p, holm_arrays
from distilleval.results.paired_proportions import mcnemar_exact

_one_sided = np.vectorize(lru_cache(maxsize=None)(binomial_tail_p), otypes=[float])
_two_sided = np.vectorize(lru_cache(maxsize=None)(mcnemar_exact), otypes=[float])

GATE_METHOD = "exact McNemar, one-sided, Holm at alpha/2"
TWO_SIDED_METHOD = "McNemar exact, two-sided, Holm"
CURVE_METHOD = "gain per doubling over the last sizes, seeds x items variance, one-sided upper bound"


def _cell(statement: str, kind: str, method: str, parameters: dict[str, Any], nominal: float, measured: float,
          replicates: int) -> dict[str, Any]:
    """The fields of one Monte Carlo ``conformance.Cell``."""
    return {"statement": statement, "kind": kind, "method": method, "parameters": parameters, "nominal": nominal,
            "measured": measured, "exact": False, "mc_se": math.sqrt(nominal * (1 - nominal) / replicates)}


def _error_cell(statement: str, method: str, parameters: dict[str, Any], nominal: float, measured: float,
                replicates: int) -> dict[str, Any]:
    return _cell(statement, "error", method, parameters, nominal, measured, replicates)


def _redrawn(rng: np.random.Generator, replicates: int, models: int, n: int,
             beta: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """(lost, gained) per (replicate, model): each item's accuracy ~ Beta(beta), both runs re-drawn."""
    accuracy = rng.beta(*beta, (replicates, models, n))
    flip = accuracy * (1 - accuracy)
    u = rng.random((replicates, models, n))
    return (u < flip).sum(axis=-1), (u > 1 - flip).sum(axis=-1)


def family_cells(*, sizes: Sequence[int] = (100, 300, 1000), family_sizes: Sequence[int] = (1, 2, 3, 4, 5),
                 alpha: float = 0.05, replicates: int = 2000, seed: int = 20261207) -> list[dict[str, Any]]:
    """False-failure / false-claim rates of the three Holm families with nothing changed."""
    rng = np.random.default_rng(seed)
    cells = []
    k_max = max(family_sizes)
    for n in sizes:
        # Gate: every item's accuracy ~ Beta(1.7, 0.3) (mean 85%), one per model, both runs re-drawn.
        lost, gained = _redrawn(rng, replicates, k_max, n, (1.7, 0.3))
        for k in family_sizes:
            _, rejected, _ = holm_arrays(_one_sided(lost[:, :k], gained[:, :k]), alpha / 2)
            rate = float(np.mean(np.any(rejected & (lost[:, :k] > gained[:, :k]), axis=-1)))
            cells.append(_error_cell("gate --baseline fails with nothing changed (family-wise)",
                                     GATE_METHOD, {"n": n, "models": k}, alpha / 2, rate, replicates))
        # compare: the same model, Holm over two-sided tests at alpha (any change reported).
        lost, gained = _redrawn(rng, replicates, k_max, n, (1.7, 0.3))
        for k in family_sizes:
            _, rejected, _ = holm_arrays(_two_sided(lost[:, :k], gained[:, :k]), alpha)
            rate = float(np.mean(np.any(rejected, axis=-1)))
            cells.append(_error_cell("compare reports a change with nothing changed (family-wise)",
                                     TWO_SIDED_METHOD, {"n": n, "models": k}, alpha, rate, replicates))
        # Report: all models equally good; item accuracy ~ Beta(1.8, 0.45) (mean 80%), shared by the
        # student and every baseline, each answering independently.
        difficulty = rng.beta(1.8, 0.45, (replicates, 1, n))
        student = rng.random((replicates, 1, n)) < difficulty
        others = rng.random((replicates, k_max, n)) < difficulty
        baseline_only, student_only = (others & ~student).sum(axis=-1), (student & ~others).sum(axis=-1)
        for k in family_sizes:
            _, rejected, _ = holm_arrays(_two_sided(baseline_only[:, :k], student_only[:, :k]), alpha)
            no_better = np.any(rejected & (student_only[:, :k] < baseline_only[:, :k]), axis=-1)
            cells.append(_error_cell('verdict "no better than the local baseline" when all are equal',
                                     TWO_SIDED_METHOD, {"n": n, "baselines": k}, alpha,
                                     float(np.mean(no_better)), replicates))
    return cells


def learning_curve_cells(*, grid: Sequence[tuple[int, int]] = ((2, 2), (2, 3), (3, 2), (3, 3), (5, 3), (5, 5)),
                         items: int = 300, margin: float = 0.03, replicates: int = 2000,
                         seed: int = 20261208) -> list[dict[str, Any]]:
    """Share of curves gaining exactly ``margin`` per doubling that are called flat, and how often
    the printed interval of the gain holds that true gain.

    Model: sizes 200 · 2^j; the expected score at a size is 0.6 + margin · log2(size / 200). Each
    eval item has a threshold t ~ U(0, 1) shared by every fit; seed s at size j gets it right when
    t + e < mean_j + d_sj, d_sj ~ N(0, 0.02) per (seed, size), e ~ U(-0.1, 0.1) per (seed, size, item).
    """
    rng = np.random.default_rng(seed)
    cells = []
    for n_sizes, seeds in grid:
        sizes = [200 * 2**j for j in range(n_sizes)]
        x = np.log2(np.asarray(sizes, dtype=float) / sizes[0])
        mean = 0.6 + margin * x
        thresholds = rng.random((replicates, 1, 1, items))
        draw = rng.normal(0, 0.02, (replicates, seeds, n_sizes, 1))
        jitter = rng.uniform(-0.1, 0.1, (replicates, seeds, n_sizes, items))
        scores = (thresholds + jitter < mean[None, None, :, None] + draw).astype(float)
        window = learning_curve.WINDOW
        _, low, high = learning_curve.gain_intervals(scores[:, :, -window:, :], sizes[-window:])
        parameters = {"sizes": n_sizes, "seeds": seeds, "items": items, "margin": margin}
        confidence = 1 - 2 * learning_curve.FLAT_ALPHA
        cells.append(_cell(f"learning curve gain per doubling {confidence:.0%} CI", "coverage", CURVE_METHOD,
                           parameters, confidence, float(np.mean((low <= margin) & (margin <= high))), replicates))
        cells.append(_error_cell('learning curve "flattens" when each doubling still gains the margin',
                                 CURVE_METHOD, parameters,
                                 learning_curve.FLAT_ALPHA, float(np.mean(high < margin)), replicates))
    return cells
