"""Conformance of every interval and test the tool prints: measured level against stated level.

Exact where the statistic depends only on counts (the probability of every possible outcome is
summed, no simulation noise); seeded Monte Carlo otherwise. The rule for every cell: coverage at
or above nominal - 1 point and error rates at or below nominal + 1 point in exact cells; Monte
Carlo cells within the same bounds widened by two Monte Carlo standard errors.

Run ``python -m distilleval.results.conformance`` to recompute the grid and rewrite
``docs/statistics.json`` and ``docs/statistics.md`` (``--dense`` for the denser grid);
``tests/results/test_conformance.py`` runs the same cells and checks the committed page.
Exact sums use scipy (imported here only, never on the tool's own path).
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from distilleval.results import conformance_families, intervals, learning_curve, paired_proportions

ALPHA = 0.05
CONFIDENCE = 0.95
TOLERANCE = 0.01  # one point
MC_REPLICATES = 2000

ACCURACY_SIZES = (20, 50, 100, 500)
ACCURACY_PS = tuple(round(0.5 + 0.005 * i, 3) for i in range(100))  # 0.5 .. 0.995
PAIRED_SIZES = (50, 100, 300, 1000)
DISCORDANCES = (0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.10, 0.15, 0.20, 0.30, 0.40)
MARGINS = (0.01, 0.02, 0.03, 0.05, 0.10)
NI_SIZES = (50, 60, 70, 80, 88, 90, 95, 100, 120, 150, 200, 300, 500, 1000, 2000, 5000)
DENSE_NI_SIZES = tuple(range(50, 301)) + (400, 500, 750, 1000, 1500, 2000, 3000, 4000, 5000)
DENSE_DISCORDANCES = tuple(round(0.01 * i, 2) for i in range(1, 41))


@dataclass
class Cell:
    """One grid cell: a statement, its parameters, its nominal and measured level."""

    statement: str
    kind: str  # "coverage" or "error"
    method: str
    parameters: dict[str, Any]
    nominal: float
    measured: float
    exact: bool
    mc_se: float = 0.0

    def bound(self) -> float:
        """The limit the rule sets for this cell."""
        slack = TOLERANCE + (0.0 if self.exact else 2 * self.mc_se)
        return self.nominal - slack if self.kind == "coverage" else self.nominal + slack

    def holds(self) -> bool:
        """Whether the measured level keeps the rule (tiny float slack for exact sums)."""
        if self.kind == "coverage":
            return self.measured >= self.bound() - 1e-12
        return self.measured <= self.bound() + 1e-12


# --- exact probability of every outcome --------------------------------------------------------

def _binomial_pmf(n: int, p: float) -> np.ndarray:
    from scipy import stats

    pmf: np.ndarray = stats.binom.pmf(np.arange(n + 1), n, p)
    return pmf


def _paired_outcomes(
    n: int, p_a_only: float, p_b_only: float, *, width: float = 12.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(a_only, b_only, probability)`` arrays over every outcome with non-negligible mass.

    The trinomial (a-only, b-only, tied) is summed as Binomial(n, discordance) for the number of
    discordant items times Binomial(discordant, share favouring a); outcomes more than ``width``
    standard deviations out (under 1e-30 of mass) are left out.
    """
    from scipy import stats

    discordance = p_a_only + p_b_only
    share_a = p_a_only / discordance if discordance > 0 else 0.0
    sd = math.sqrt(n * discordance * (1 - discordance)) + 1
    s = np.arange(max(0, int(n * discordance - width * sd)), min(n, int(n * discordance + width * sd) + 1) + 1)
    spread = np.ceil(width * np.sqrt(s * share_a * (1 - share_a)) + 1).astype(int)
    a_low = np.maximum(0, np.floor(s * share_a).astype(int) - spread)
    a_high = np.minimum(s, np.ceil(s * share_a).astype(int) + spread)
    counts = a_high - a_low + 1
    s_all = np.repeat(s, counts)
    a_all = np.repeat(a_low, counts) + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
    mass = stats.binom.pmf(s_all, n, discordance) * stats.binom.pmf(a_all, s_all, share_a)
    return a_all.astype(float), (s_all - a_all).astype(float), mass


# --- single accuracy ------------------------------------------------------------------------

def accuracy_cells(sizes: Sequence[int] = ACCURACY_SIZES, ps: Sequence[float] = ACCURACY_PS) -> list[Cell]:
    """Exact coverage of the Clopper–Pearson accuracy interval at every ``(n, p)``."""
    cells = []
    for n in sizes:
        bounds = np.array([intervals.clopper_pearson(k, n, confidence=CONFIDENCE) for k in range(n + 1)])
        for p in ps:
            covered = (bounds[:, 0] <= p) & (p <= bounds[:, 1])
            cells.append(Cell("accuracy 95% CI", "coverage", intervals.CLOPPER_PEARSON, {"n": n, "p": p},
                              CONFIDENCE, float(_binomial_pmf(n, p)[covered].sum()), True))
    return cells


# --- paired 0/1 difference: non-inferiority and its interval --------------------------------

def non_inferiority_cells(sizes: Sequence[int] = NI_SIZES, margins: Sequence[float] = MARGINS,
                          discordances: Sequence[float] = DISCORDANCES) -> list[Cell]:
    """Exact type I error of "non-inferior" and of "inferior" with the truth at ``-margin``.

    At the margin (student exactly ``margin`` worse) teacher-only items have rate
    ``(D + margin) / 2`` and student-only ``(D - margin) / 2`` for discordance ``D >= margin``.
    """
    cells = []
    for n in sizes:
        for margin in margins:
            for discordance in discordances:
                if discordance < margin - 1e-12:
                    continue
                a, b, mass = _paired_outcomes(n, (discordance + margin) / 2, max((discordance - margin) / 2, 0.0))
                decision = paired_proportions.decide_non_inferiority(a, b, n, margin, ALPHA)
                parameters = {"n": n, "margin": margin, "discordance": discordance}
                for word in ("non-inferior", "inferior"):
                    cells.append(Cell(f'"{word}" at the margin', "error", paired_proportions.SCORE_METHOD, parameters,
                                      ALPHA, float(mass[decision == word].sum()), True))
    return cells


def _paired_grid(sizes: Sequence[int], discordances: Sequence[float]) -> list[tuple[int, float, float, str]]:
    """``(n, p_a_only, p_b_only, split)``: difference 0, student behind by 3 points, one-sided splits."""
    grid = []
    for n in sizes:
        for discordance in discordances:
            grid.append((n, discordance / 2, discordance / 2, "difference 0"))
            if discordance >= 0.03:
                grid.append((n, (discordance + 0.03) / 2, (discordance - 0.03) / 2, "difference -0.03"))
            grid.append((n, discordance, 0.0, "teacher-only"))
            grid.append((n, 0.0, discordance, "student-only"))
            grid.append((n, 0.8 * discordance, 0.2 * discordance, "split 80/20"))
    return grid


def paired_interval_cells(sizes: Sequence[int] = PAIRED_SIZES, discordances: Sequence[float] = DISCORDANCES) -> list[Cell]:
    """Exact coverage of the score interval of student − teacher (two-sided 95%, and each
    one-sided 95% bound) over the paired grid."""
    cells = []
    for n, p_a, p_b, split in _paired_grid(sizes, discordances):
        a, b, mass = _paired_outcomes(n, p_a, p_b)
        truth = p_b - p_a
        low, high = paired_proportions.score_bounds(a, b, n, (1 - CONFIDENCE) / 2)
        lower, upper = paired_proportions.score_bounds(a, b, n, ALPHA)
        parameters = {"n": n, "discordance": round(p_a + p_b, 4), "split": split}
        cells.append(Cell("student − teacher 95% CI", "coverage", paired_proportions.SCORE_METHOD, parameters,
                          CONFIDENCE, float(mass[(low <= truth) & (truth <= high)].sum()), True))
        cells.append(Cell("one-sided 95% lower bound", "coverage", paired_proportions.SCORE_METHOD, parameters,
                          1 - ALPHA, float(mass[lower <= truth].sum()), True))
        cells.append(Cell("one-sided 95% upper bound", "coverage", paired_proportions.SCORE_METHOD, parameters,
                          1 - ALPHA, float(mass[truth <= upper].sum()), True))
    return cells


def _conditional_bounds(a: np.ndarray, b: np.ndarray, n: int, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """``paired_proportions.conditional_interval`` on arrays (Clopper–Pearson by scipy's beta
    quantiles, which ``tests/results/test_intervals.py`` checks equal ``clopper_pearson``)."""
    from scipy import special

    def cp(successes: np.ndarray, trials: np.ndarray | int, level: float) -> tuple[np.ndarray, np.ndarray]:
        tail = (1 - level) / 2
        with np.errstate(invalid="ignore", divide="ignore"):
            low = np.where(successes == 0, 0.0,
                           special.betaincinv(np.maximum(successes, 1e-300), trials - successes + 1, tail))
            high = np.where(successes == trials, 1.0,
                            special.betaincinv(successes + 1, np.maximum(trials - successes, 1e-300), 1 - tail))
        return low, high

    s = a + b
    pi_low, pi_high = cp(b, np.maximum(s, 1), confidence)
    d_low, d_high = cp(s, n, paired_proportions.DISCORDANCE_CONFIDENCE)
    low = np.where(pi_low < 0.5, d_high, d_low) * (2 * pi_low - 1)
    high = np.where(pi_high > 0.5, d_high, d_low) * (2 * pi_high - 1)
    none_low, none_high = paired_proportions.score_bounds(0, 0, n, (1 - confidence) / 2)
    return np.where(s == 0, none_low, low), np.where(s == 0, none_high, high)


def gate_cells(sizes: Sequence[int] = PAIRED_SIZES, discordances: Sequence[float] = DISCORDANCES) -> list[Cell]:
    """The gate's baseline comparison: exact type I error of McNemar's exact test (a change
    flagged when nothing changed) and exact coverage of its conditional interval."""
    from scipy import stats

    cells = []
    for n, p_a, p_b, split in _paired_grid(sizes, discordances):
        a, b, mass = _paired_outcomes(n, p_a, p_b)
        parameters = {"n": n, "discordance": round(p_a + p_b, 4), "split": split}
        truth = p_b - p_a
        low, high = _conditional_bounds(a, b, n, 1 - ALPHA)
        cells.append(Cell("gate paired 95% CI", "coverage", paired_proportions.CONDITIONAL_METHOD, parameters,
                          1 - ALPHA, float(mass[(low <= truth) & (truth <= high)].sum()), True))
        if split == "difference 0":
            s = a + b
            p_value = np.minimum(1.0, 2 * stats.binom.cdf(np.minimum(a, b), s, 0.5))
            p_value = np.where(s == 0, 1.0, p_value)
            cells.append(Cell("gate McNemar p < alpha with nothing changed", "error",
                              paired_proportions.CONDITIONAL_METHOD, parameters, ALPHA,
                              float(mass[p_value < ALPHA].sum()), True))
            score_p = paired_proportions.score_p_value(a, b, n)
            cells.append(Cell("student − teacher p < alpha with no difference", "error",
                              paired_proportions.SCORE_P_METHOD, parameters, ALPHA,
                              float(mass[score_p < ALPHA].sum()), True))
    return cells


# --- Monte Carlo: bounded scores and micro-F1 -----------------------------------------------

def _draw_partial(rng: np.random.Generator, n: int, mean: float) -> np.ndarray:
    """Scores in {0, 0.5, 1}: P(0.5) = 0.3 * min(mean, 1 - mean) * 2, the rest 0/1 to the mean."""
    half = 0.6 * min(mean, 1 - mean)
    one = mean - half / 2
    return rng.choice([0.0, 0.5, 1.0], size=n, p=[1 - half - one, half, one])


def _draw_continuous(rng: np.random.Generator, n: int, mean: float) -> np.ndarray:
    """Scores from Beta(8 mean, 8 (1 - mean)) (continuous in (0, 1))."""
    return rng.beta(8 * mean, 8 * (1 - mean), size=n)


def _draw_micro(rng: np.random.Generator, n: int, accuracy: float) -> np.ndarray:
    """Micro-F1 rows: 1–5 fields an item, each right with ``accuracy`` (TP) else FP + FN.
    The true micro-F1 is ``accuracy``."""
    fields = rng.integers(1, 6, size=n)
    right = rng.binomial(fields, accuracy)
    wrong = fields - right
    return np.column_stack([2.0 * right, 2.0 * right + 2.0 * wrong])


MC_DISTRIBUTIONS: dict[str, Callable[[np.random.Generator, int, float], np.ndarray]] = {
    "partial credit {0, 0.5, 1}": _draw_partial,
    "continuous Beta(8m, 8(1-m))": _draw_continuous,
}


def _mc_cell(statement: str, method_of: str, parameters: dict[str, Any], covered: int, replicates: int, nominal: float) -> Cell:
    measured = covered / replicates
    return Cell(statement, "coverage", method_of, parameters, nominal, measured, False,
                mc_se=math.sqrt(nominal * (1 - nominal) / replicates))


def monte_carlo_cells(sizes: Sequence[int] = (20, 50, 100), means: Sequence[float] = (0.7, 0.95, 0.99), *, replicates: int = MC_REPLICATES,
                      n_resamples: int = 1000, seed: int = 20261207) -> list[Cell]:
    """Seeded Monte Carlo coverage of the single-model intervals of bounded scores and
    micro-F1, and of the paired difference interval of partial-credit scores."""
    from distilleval.results.statistics import paired_difference

    cells = []
    rng = np.random.default_rng(seed)
    for n in sizes:
        for mean in means:
            for name, draw in MC_DISTRIBUTIONS.items():
                covered, methods = 0, set()
                for _ in range(replicates):
                    result = intervals.mean_interval(draw(rng, n, mean), n_resamples=n_resamples,
                                                     seed=int(rng.integers(1 << 31)))
                    covered += _covers(result.low, result.high, mean)
                    methods.add(result.method.split(" on ")[0].split(",")[0])
                cells.append(_mc_cell(f"mean score 95% CI ({name})", " / ".join(sorted(methods)),
                                      {"n": n, "mean": mean}, covered, replicates, CONFIDENCE))
            covered, methods = 0, set()
            for _ in range(replicates):
                result = intervals.ratio_interval(_draw_micro(rng, n, mean), n_resamples=n_resamples,
                                                  seed=int(rng.integers(1 << 31)))
                covered += _covers(result.low, result.high, mean)
                methods.add(result.method.split(" on ")[0].split(",")[0])
            cells.append(_mc_cell("micro-F1 95% CI (1-5 fields an item)", " / ".join(sorted(methods)),
                                  {"n": n, "micro_f1": mean}, covered, replicates, CONFIDENCE))
            # Paired partial credit: the student drops half a point on some items the teacher got.
            covered, methods = 0, set()
            drop = 0.06
            for _ in range(replicates):
                teacher = _draw_partial(rng, n, mean)
                student = teacher - 0.5 * (rng.random(n) < drop / 0.5 * (teacher > 0)) * 1.0
                student = np.where(teacher > 0, student, teacher)
                truth = -0.5 * drop / 0.5 * (1 - _partial_zero_share(mean))
                difference = paired_difference(teacher, student, confidence=CONFIDENCE, n_resamples=n_resamples,
                                               seed=int(rng.integers(1 << 31)))
                covered += _covers(difference.low, difference.high, truth)
                methods.add(difference.method.split(" on ")[0].split(",")[0].split(" (")[0])
            cells.append(_mc_cell("paired partial-credit difference 95% CI", " / ".join(sorted(methods)),
                                  {"n": n, "teacher_mean": mean}, covered, replicates, CONFIDENCE))
    return cells


def _covers(low: float | None, high: float | None, truth: float) -> bool:
    """Whether an interval holds ``truth``; an undefined one (no items) covers nothing."""
    return low is not None and high is not None and low <= truth <= high


def _partial_zero_share(mean: float) -> float:
    half = 0.6 * min(mean, 1 - mean)
    return 1 - half - (mean - half / 2)


# --- the whole suite and its page -----------------------------------------------------------

MC_SIZES, MC_MEANS, MC_RESAMPLES = (20, 50), (0.7, 0.99), 500
DENSE_MC_SIZES, DENSE_MC_MEANS, DENSE_MC_RESAMPLES = (20, 50, 100), (0.7, 0.95, 0.99), 1000


def family_cells(**grid: Any) -> list[Cell]:
    """Monte Carlo cells of the gate, compare and baseline Holm families (``conformance_families``)."""
    return [Cell(**fields) for fields in conformance_families.family_cells(**grid)]


def learning_curve_cells(**grid: Any) -> list[Cell]:
    """Monte Carlo cells of the learning curve's gain interval and its "flattens" call."""
    return [Cell(**fields) for fields in conformance_families.learning_curve_cells(**grid)]


def run_suite(*, dense: bool = False, only: list[str] | None = None) -> dict[str, list[Cell]]:
    """Every cell of the suite, by section (``dense``: the denser grid, minutes; ``only``: these sections)."""
    ni_sizes, discordances = (DENSE_NI_SIZES, DENSE_DISCORDANCES) if dense else (NI_SIZES, DISCORDANCES)
    mc = (DENSE_MC_SIZES, DENSE_MC_MEANS, DENSE_MC_RESAMPLES) if dense else (MC_SIZES, MC_MEANS, MC_RESAMPLES)
    sections: dict[str, Callable[[], list[Cell]]] = {
        "accuracy": accuracy_cells,
        "non_inferiority": lambda: non_inferiority_cells(ni_sizes, MARGINS, discordances),
        "paired_interval": paired_interval_cells,
        "gate": gate_cells,
        "monte_carlo": lambda: monte_carlo_cells(mc[0], mc[1], n_resamples=mc[2]),
        "families": family_cells,
        "learning_curve": learning_curve_cells,
    }
    unknown = sorted(set(only or ()) - set(sections))
    if unknown:
        raise ValueError(f"unknown section(s) {', '.join(unknown)}; sections: {', '.join(sections)}")
    return {name: compute() for name, compute in sections.items() if only is None or name in only}


def summarize(sections: dict[str, list[Cell]]) -> list[dict[str, Any]]:
    """One row per statement (its methods joined): cells, worst measured level, where, and whether all hold."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for section, cells in sections.items():
        for cell in cells:
            key = (cell.statement, "")
            row = rows.setdefault(key, {"section": section, "statement": cell.statement, "method": cell.method,
                                        "kind": cell.kind, "nominal": cell.nominal, "exact": cell.exact,
                                        "cells": 0, "worst": None, "worst_at": None, "failing": 0})
            row["cells"] += 1
            methods = set(row["method"].split(" / ")) | set(cell.method.split(" / "))
            row["method"] = " / ".join(sorted(methods))
            worse = row["worst"] is None or (cell.measured < row["worst"] if cell.kind == "coverage"
                                             else cell.measured > row["worst"])
            if worse:
                row["worst"], row["worst_at"] = cell.measured, cell.parameters
            row["failing"] += not cell.holds()
    return list(rows.values())


HEADER = """# Statistics: what each printed statement means and how well it holds

Generated by `python -m distilleval.results.conformance` from the conformance suite
(`tests/results/test_conformance.py`); do not edit by hand. The rule for every cell:
coverage at or above nominal − 1 point and error rates at or below nominal + 1 point
where the level is computed exactly (the probability of every possible count outcome
summed); Monte Carlo cells (seeded, {replicates:,} replicates a cell, {mc_resamples} bootstrap
resamples each where a bootstrap is used; the tool itself uses 2,000) within the same bounds
widened by two Monte Carlo standard errors.

## Methods

| Printed statement | Method | Nominal level |
|---|---|---|
| accuracy of one model (0/1 scores), "95% CI"; per-class recall in the report | Clopper–Pearson exact binomial interval | 95% two-sided, each tail ≤ 2.5% |
| mean of partial-credit or continuous scores, "95% CI" | studentized bootstrap (bootstrap-t) when ≥ {min_items} items with ≥ {min_informative} differing from the most common value; else Clopper–Pearson on the score sum over the number of items (count-based, conservative for scores in [0, 1]) | 95% |
| micro-F1, "95% CI" | bootstrap-t with items resampled whole (a cluster bootstrap; delta-method standard error of the ratio); else Clopper–Pearson over the effective number of items (Kish) | 95% |
| student − teacher, 0/1 scores: "95% CI", one-sided bounds, non-inferior / inferior / inconclusive | Tango's score test for paired proportions (restricted maximum-likelihood variance), continuity-corrected by {continuity} item for a claim toward zero (non-inferior) and {continuity_away} item for a claim away from zero (inferior); the interval and bounds invert the same tests | decisions one-sided at α = {alpha} each; the interval 95% two-sided |
| student − teacher, other scores | bootstrap-t of the difference when ≥ {min_items} items of which ≥ {min_informative} differ; else the same score test on fractional discordant counts (each item's loss and gain) | as above |
| gate `--baseline` paired check, 0/1 scores | McNemar's exact two-sided test, with the exact conditional interval (Clopper–Pearson on the share of discordant items, scaled by the observed discordance): it excludes 0 exactly when p < α | α two-sided; interval 1 − α |
| p beside the student − teacher interval in `score` and the report (0/1 scores, or the count-based fallback) | Tango's score test at a difference of 0, two-sided, continuity-corrected by {continuity_away} item: the test the interval inverts, so the 95% interval excludes 0 exactly when p < 0.05 | α = {alpha} two-sided |
| McNemar's exact p in summary.json (`mcnemar_p`) | exact binomial tail summed in log space, recorded with the exact conditional interval that agrees with it (`mcnemar_ci_low`/`mcnemar_ci_high`) | exact |
| `gate --baseline` family of paired-drop checks | one-sided exact McNemar tail (sign-flip test for other scores) per model, Holm's step-down at α/2 over the models | family-wise false failure α/2 |
| `compare` family | two-sided exact McNemar per model, Holm's step-down at α | family-wise α |
| interval beside a paired decision on other than 0/1 scores (gate `--baseline`, `compare`, the report's baseline rows) | the inversion of the paired sign-flip test that made the decision (`results.families.sign_flip_interval`: each end the shift at which the one-sided test rejects, same random signs), so it excludes 0 exactly when the test rejects; two-sided p = twice the smaller one-sided p | 1 − 2 × the Holm step's one-sided level; covers a symmetric shift (Monte Carlo in `tests/results/test_families.py`, 400 replicates of 60 items) |
| report verdict against the local baselines ("no better than the local baseline") | the student against every baseline (two-sided exact McNemar), Holm's step-down at α; never the best baseline picked on the same items | family-wise α |
| learning curve: gain per doubling "[90% interval]", "flattens" | least-squares slope on log2(size) over the last {window} sizes, variance from a seeds × items analysis of variance, each part with its own t quantile; "flattens" when the one-sided {flat_level:.0%} upper bound is below the margin | at most {flat_alpha:.0%} false "flat" among curves gaining the margin |
| cascade threshold ("chosen": the cascade's error at most the fallback's + the margin) | Learn-then-Test, fixed-sequence testing from defer-all down; a threshold is certified when an upper bound on the losses (Clopper–Pearson for 0/1 scores, Hoeffding–Bentkus for partial credit) minus a lower bound on the gains, δ/2 each, is within the margin; none certified: defer every item (docs/cascades.md) | holds with probability ≥ 1 − δ over the calibration items (Monte Carlo in `tests/results/test_cascades.py`, 200 replicates a cell, with a boundary cell) |

`DISTILLEVAL_DENSE_STATS=1 pytest tests/results/test_conformance.py` runs a denser grid
(non-inferiority at every size from 50 to 300 and every discordance from 1% to 40%, more Monte
Carlo cells); it is not written here.

Cost, saving and break-even figures are measured token counts × dated prices (and the spec's
one-time costs): no printed cost figure depends on accuracy, so they carry no accuracy
interval. Whether the student is good enough is the non-inferiority decision above, printed
with its bounds.

Identical or all-perfect data never get a zero-width interval: the count-based methods give a
bound from the number of items (for a difference, the score test with no discordant items).
Non-inferiority is decided only when the score test on that many items rejects, which for
identical 0/1 data happens once (1 − margin)^n is below about α.

## Measured levels

| Statement | Method | Kind | Nominal | Cells | Worst measured | At | Cells breaking the rule |
|---|---|---|---|---|---|---|---|
"""


def render(summary_rows: list[dict[str, Any]]) -> str:
    """The text of ``docs/statistics.md`` from the summary rows."""
    text = HEADER.format(replicates=MC_REPLICATES, mc_resamples=MC_RESAMPLES, min_items=intervals.MIN_ITEMS,
                         min_informative=intervals.MIN_INFORMATIVE, continuity=paired_proportions.CONTINUITY,
                         continuity_away=paired_proportions.CONTINUITY_AWAY,
                         alpha=ALPHA, window=learning_curve.WINDOW, flat_alpha=learning_curve.FLAT_ALPHA,
                         flat_level=1 - learning_curve.FLAT_ALPHA)
    for row in summary_rows:
        where = ", ".join(f"{k}={v}" for k, v in row["worst_at"].items())
        kind = f"{row['kind']} ({'exact' if row['exact'] else 'Monte Carlo'})"
        text += (f"| {row['statement']} | {row['method']} | {kind} | {row['nominal']:.1%} | {row['cells']} | "
                 f"{row['worst']:.2%} | {where} | {row['failing']} |\n")
    text += ("\nWhere a row shows cells breaking the rule, the printed level is not reached there: read the worst "
             "measured level as the interval's real coverage at that size.\n")
    return text


_STORED = ("statement", "method", "parameters", "measured")


def main(argv: list[str] | None = None) -> int:
    """Recompute the suite and write ``docs/statistics.json`` and ``docs/statistics.md``."""
    parser = argparse.ArgumentParser(prog="python -m distilleval.results.conformance", description=__doc__)
    parser.add_argument("--docs", default="docs", help="folder of statistics.json / statistics.md (default docs)")
    parser.add_argument("--dense", action="store_true", help="denser non-inferiority grid (slow; not written)")
    parser.add_argument("--only", nargs="+", metavar="SECTION",
                        help="recompute only these sections; keep the others from the stored statistics.json")
    parser.add_argument("--render-only", action="store_true",
                        help="rewrite statistics.md from the stored statistics.json without recomputing")
    args = parser.parse_args(argv)
    folder = Path(args.docs)
    if args.render_only:
        stored = json.loads((folder / "statistics.json").read_text(encoding="utf-8"))
        (folder / "statistics.md").write_text(render(stored["summary"]), encoding="utf-8")
        print(f"wrote {folder / 'statistics.md'}")
        return 0
    sections = run_suite(dense=args.dense, only=args.only)
    rows = summarize(sections)
    stored = None
    if args.only and not args.dense:
        # Keep the other sections' stored rows and cells, in the suite's section order.
        stored = json.loads((folder / "statistics.json").read_text(encoding="utf-8"))
        order = list(dict.fromkeys([row["section"] for row in stored["summary"]] + list(sections)))
        kept = [row for row in stored["summary"] if row["section"] not in sections]
        rows = sorted(kept + rows, key=lambda row: order.index(row["section"]))
    for row in rows:
        print(f"{row['statement']:<48} {row['kind']:<8} worst {row['worst']:.4f} at {row['worst_at']} "
              f"({row['cells']} cells, {row['failing']} breaking the rule)")
    if args.dense:
        return 0
    cells = {name: [{key: value for key, value in asdict(cell).items() if key in _STORED}
                    for cell in section] for name, section in sections.items()}
    if stored is not None:
        cells = {**stored["cells"], **cells}
    (folder / "statistics.json").write_text(json.dumps({"summary": rows, "cells": cells}, separators=(",", ":"))
                                            + "\n", encoding="utf-8")
    (folder / "statistics.md").write_text(render(rows), encoding="utf-8")
    print(f"wrote {folder / 'statistics.json'} and {folder / 'statistics.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
