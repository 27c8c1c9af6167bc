"""The paired baseline test: noise alone passes, a real drop fails (McNemar exact, paired bootstrap)."""

from __future__ import annotations

import numpy as np
import pytest

from distilleval.gate.paired import compare_paired_scores, is_significant_drop


def _noisy_pair(rng, n: int, drop: float = 0.0):
    # Item difficulty varies; each run draws each item's correctness independently (sampling noise).
    difficulty = rng.beta(0.85 * 2, 0.15 * 2, n)
    baseline = (rng.random(n) < difficulty).astype(float)
    run = (rng.random(n) < difficulty * (1 - drop / 0.85)).astype(float)
    return list(baseline), list(run)


def test_noise_alone_rarely_fails_the_paired_gate():
    # Same true accuracy (85%) in both runs: at least 95% of 200 simulated pairs must pass.
    rng = np.random.default_rng(20260201)
    failures = 0
    for _ in range(200):
        baseline, run = _noisy_pair(rng, 1_000)
        failures += is_significant_drop(compare_paired_scores(baseline, run, alpha=0.05), alpha=0.05)
    assert failures <= 10, f"{failures}/200 noise-only pairs failed the gate"


def test_a_real_five_point_drop_fails_the_paired_gate():
    # A temperature-0 baseline at 85% on 1,000 items; the new run keeps its answers except for
    # noise (3% of items re-drawn at the same accuracy) and a real drop: 50 right answers turn
    # wrong (-5 pts). Every one of 50 such runs must fail.
    rng = np.random.default_rng(11)
    for _ in range(50):
        baseline = (rng.random(1_000) < 0.85).astype(float)
        run = baseline.copy()
        noisy = rng.choice(1_000, size=30, replace=False)
        run[noisy] = (rng.random(30) < 0.85).astype(float)
        right = np.flatnonzero(run == 1.0)
        run[rng.choice(right, size=50, replace=False)] = 0.0
        result = compare_paired_scores(list(baseline), list(run), alpha=0.05)
        assert is_significant_drop(result, alpha=0.05), (result.losses, result.gains, result.p_value)


def test_paired_gate_power_under_full_resampling_noise():
    # Harsher: every item re-drawn in both runs (sampling noise everywhere), true 85% -> 80%.
    # McNemar's power is then 82.4% at 1,000 items (exact; see the test below) and 32% at 300;
    # require at least 80% of 50 seeded simulated pairs caught.
    rng = np.random.default_rng(7)
    caught = 0
    for _ in range(50):
        baseline, run = _noisy_pair(rng, 1_000, drop=0.05)
        caught += is_significant_drop(compare_paired_scores(baseline, run, alpha=0.05), alpha=0.05)
    assert caught >= 40, f"only {caught}/50 real drops were caught"


def test_exact_power_of_the_paired_gate_under_full_resampling_noise():
    """Every item re-drawn: only-baseline-right 0.85 x 0.20, only-run-right 0.15 x 0.80."""
    from scipy import stats

    from distilleval.results.conformance import _paired_outcomes

    powers = {}
    for n in (300, 1_000):
        losses, gains, mass = _paired_outcomes(n, 0.17, 0.12)
        discordant = losses + gains
        p = np.where(discordant == 0, 1.0, np.minimum(1.0, 2 * stats.binom.cdf(np.minimum(losses, gains), discordant, 0.5)))
        powers[n] = float(mass[(p < 0.05) & (losses > gains)].sum())
    assert powers[1_000] == pytest.approx(0.8235, abs=0.0005)
    assert powers[300] == pytest.approx(0.3232, abs=0.0005)


def test_the_gate_interval_agrees_with_its_p_value():
    rng = np.random.default_rng(5)
    for _ in range(200):
        n = int(rng.integers(20, 400))
        baseline = (rng.random(n) < 0.8).astype(float)
        run = np.where(rng.random(n) < rng.uniform(0, 0.3), 1 - baseline, baseline)
        result = compare_paired_scores(list(baseline), list(run), alpha=0.05)
        assert (result.p_value < 0.05) == (result.ci_high < 0 or result.ci_low > 0)
        assert result.ci_low <= result.difference <= result.ci_high
        assert is_significant_drop(result, alpha=0.05) == (result.ci_high < 0)


def test_unpaired_looking_drop_that_is_paired_noise_passes():
    # 2 items lost, 0 gained: a visible 0.2-pt drop, but p = 0.5 -> not significant.
    baseline = [1.0] * 1000
    run = [0.0, 0.0] + [1.0] * 998
    result = compare_paired_scores(baseline, run, alpha=0.05)
    assert (result.losses, result.gains) == (2, 0)
    assert result.p_value == pytest.approx(0.5)
    assert not is_significant_drop(result, alpha=0.05)


def test_non_binary_scores_use_the_paired_bootstrap():
    rng = np.random.default_rng(3)
    baseline = list(rng.uniform(0.5, 1.0, 400))
    worse = [max(0.0, v - 0.1) for v in baseline]
    result = compare_paired_scores(baseline, worse, alpha=0.05)
    # A constant 0.1 drop has no spread to studentize: the count-based score interval is used.
    assert result.p_value is None and "count-based" in result.method
    assert is_significant_drop(result, alpha=0.05)
    assert not is_significant_drop(compare_paired_scores(baseline, baseline, alpha=0.05), alpha=0.05)


def test_non_binary_scores_with_spread_use_the_bootstrap_t():
    rng = np.random.default_rng(8)
    baseline = rng.uniform(0.5, 1.0, 400)
    worse = list(np.clip(baseline - rng.uniform(0.0, 0.2, 400), 0, 1))
    result = compare_paired_scores(list(baseline), worse, alpha=0.05)
    assert "bootstrap-t" in result.method and result.ci_high < 0
    assert is_significant_drop(result, alpha=0.05)
