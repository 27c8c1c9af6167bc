"""The gate's paired-drop family: Holm keeps noise from failing the build, however many models are gated.

Simulation model ("nothing changed", every item re-drawn): each item has a difficulty drawn
from Beta(1.7, 0.3) (mean accuracy 85%), one per model; the baseline run and the new run each
answer the item correctly with that probability, independently. Each cell is 2,000 seeded
replicates; the family-wise false-failure rate must stay at most the printed level (alpha / 2
= 2.5%) + 1 point + 2 Monte Carlo standard errors. The replicates are drawn as counts with numpy
and decided by the gate's own functions (``binomial_tail_p`` and ``holm_arrays`` at
``family_alpha``); ``test_the_vectorised_decisions_are_the_gates`` checks that they decide as
``paired_drop_family`` does.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

from distilleval.gate.family import family_alpha, paired_drop_family
from distilleval.results.families import binomial_tail_p, holm_arrays, sign_flip_p
from tests.montecarlo import DENSE, REPLICATES, error_rate_bound

ALPHA = 0.05
SIZES = (100, 300, 1_000) + ((50, 2_000) if DENSE else ())
FAMILY_SIZES = (1, 2, 3, 4, 5) + ((8, 10) if DENSE else ())

_tail = np.vectorize(lru_cache(maxsize=None)(binomial_tail_p), otypes=[float])


def redrawn_counts(rng: np.random.Generator, replicates: int, models: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Items lost and gained per (replicate, model) when both runs re-draw every item at the same accuracy."""
    difficulty = rng.beta(1.7, 0.3, (replicates, models, n))
    flip = difficulty * (1 - difficulty)  # P(lost) = P(gained) for the item
    u = rng.random((replicates, models, n))
    return (u < flip).sum(axis=-1), (u > 1 - flip).sum(axis=-1)


def false_failure_rate(lost: np.ndarray, gained: np.ndarray) -> float:
    """Share of replicates where the gate fails at least one model."""
    p = _tail(lost, gained)
    _, rejected, _ = holm_arrays(p, family_alpha(ALPHA))
    return float(np.mean(np.any(rejected & (lost > gained), axis=-1)))


@pytest.mark.parametrize("n", SIZES)
def test_noise_alone_fails_the_gate_at_most_at_its_level_for_1_to_5_models(n):
    rng = np.random.default_rng(1000 + n)
    lost, gained = redrawn_counts(rng, REPLICATES, max(FAMILY_SIZES), n)
    rates = {k: false_failure_rate(lost[:, :k], gained[:, :k]) for k in FAMILY_SIZES}
    bound = error_rate_bound(family_alpha(ALPHA))
    assert all(rate <= bound for rate in rates.values()), (n, rates, bound)


def test_without_the_correction_five_models_would_fail_noise_far_more_often():
    # The same replicates tested one by one at alpha / 2: the family error grows with K.
    rng = np.random.default_rng(7)
    lost, gained = redrawn_counts(rng, REPLICATES, 5, 300)
    uncorrected = float(np.mean(np.any((_tail(lost, gained) <= family_alpha(ALPHA)) & (lost > gained), axis=-1)))
    assert uncorrected > error_rate_bound(family_alpha(ALPHA)) > false_failure_rate(lost, gained)


def _partial_credit(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Two runs of one model with scores in {0, 0.5, 1} drawn from the same item-specific distribution."""
    cumulative = rng.dirichlet([0.3, 0.3, 2.0], n).cumsum(axis=1)
    levels = np.array([0.0, 0.5, 1.0])
    return (levels[(rng.random((n, 1)) > cumulative).sum(axis=1)], levels[(rng.random((n, 1)) > cumulative).sum(axis=1)])


@pytest.mark.parametrize("n", (100,) + ((300,) if DENSE else ()))
def test_partial_credit_noise_with_five_models_fails_at_most_at_its_level(n):
    # Non-0/1 scores get the paired sign-flip p-value; 399 flips keep the simulation fast (the
    # p-value is valid for any number of flips, and 1/400 is below Holm's first step, 0.005).
    rng = np.random.default_rng(n)
    models = 5
    p = np.empty((REPLICATES, models))
    dropped = np.empty((REPLICATES, models), dtype=bool)
    for r in range(REPLICATES):
        for k in range(models):
            base, run = _partial_credit(rng, n)
            p[r, k] = sign_flip_p(base, run, alternative="less", n_flips=399, seed=r * models + k)
            dropped[r, k] = run.mean() < base.mean()
    _, rejected, _ = holm_arrays(p, family_alpha(ALPHA))
    assert float(np.mean(np.any(rejected & dropped, axis=-1))) <= error_rate_bound(family_alpha(ALPHA))


def test_the_vectorised_decisions_are_the_gates():
    rng = np.random.default_rng(3)
    for _ in range(20):
        n = 200
        pairs, expected_lost = {}, []
        for k in range(4):
            base = (rng.random(n) < 0.85).astype(float)
            run = base.copy()
            flips = rng.choice(n, size=int(rng.integers(0, 30)), replace=False)
            run[flips] = 1 - run[flips] if k else 0.0  # model 0 only ever loses
            pairs[f"m{k}"] = (list(base), list(run))
            expected_lost.append((int(np.sum((base == 1) & (run == 0))), int(np.sum((base == 0) & (run == 1)))))
        tests = paired_drop_family(pairs, alpha=ALPHA)
        lost, gained = (np.array([[c[i] for c in expected_lost]]) for i in (0, 1))
        _, rejected, _ = holm_arrays(_tail(lost, gained), family_alpha(ALPHA))
        assert [t.dropped for t in tests] == list((rejected & (lost > gained))[0])


def test_each_check_names_the_correction_and_its_interval_agrees_with_it():
    # Three models; one lost 12 items and gained none (p = 2.4e-4, below 0.025 / 3).
    same = [1.0] * 150 + [0.0] * 50
    worse = [0.0] * 12 + [1.0] * 138 + [0.0] * 50
    tests = paired_drop_family({"a": (same, same), "b": (same, worse), "c": (same, same)}, alpha=ALPHA)
    b = tests[1]
    assert b.dropped and not tests[0].dropped and not tests[2].dropped
    assert b.decision.family_size == 3 and b.decision.level == pytest.approx(0.025 / 3)
    assert b.interval_confidence == pytest.approx(1 - 2 * 0.025 / 3)
    assert b.paired.ci_high < 0
    assert "Holm over 3 paired-drop checks" in b.correction_text() and "false-failure level 0.025" in b.correction_text()
    one = paired_drop_family({"b": (same, worse)}, alpha=ALPHA)[0]
    assert one.dropped and one.interval_confidence == pytest.approx(0.95) and "no correction needed" in one.correction_text()


def test_partial_credit_drop_uses_the_sign_flip_p_value_and_says_so():
    rng = np.random.default_rng(8)
    base = list(rng.choice([0.0, 0.5, 1.0], 300, p=[0.1, 0.2, 0.7]))
    worse = [max(0.0, v - 0.5) if i % 4 == 0 else v for i, v in enumerate(base)]
    drop, same = paired_drop_family({"m": (base, worse), "n": (base, base)}, alpha=ALPHA)
    assert drop.dropped and not same.dropped
    assert drop.method == "paired sign-flip test (9,999 flips), one-sided" and drop.p_value == pytest.approx(1 / 10_000)
    assert drop.paired.ci_high < 0 and same.p_value == 1.0
