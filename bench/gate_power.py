"""How often `distilleval gate --baseline` fails on noise alone, and how often it catches a real drop.

Usage: python bench/gate_power.py [--replicates 10000] [--seed 0]

Every item re-drawn, in two models of the items. "varying": each item has a difficulty drawn
from Beta(1.7, 0.3) (mean accuracy 85%), the same in both runs, so easy items stay right and hard
ones wrong. "uniform": every item is right with probability 0.85, so the runs agree only by
chance (the most discordant pairs, the hardest case for a paired test). The baseline run answers
an item correctly with its probability, the new run with that probability times
(1 - drop / 0.85), so a drop of 0.05 takes the true accuracy from 85% to 80%. Both runs draw
independently, so every item is sampling noise, not only the ones a drop changed. Each
replicate is decided as the gate decides it: the one-sided exact McNemar tail per model and
Holm's step-down over the gated models at alpha / 2 (alpha = 0.05). With K models, one has the
drop and the other K - 1 are unchanged.

Prints one row per (items, models): the false-failure rate with nothing changed (Holm, and each
model tested alone without a correction), and the power (share of replicates failing the
dropped model) at a 5-point drop, each with its Monte Carlo standard error.
"""

from __future__ import annotations

import argparse
import math
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from distilleval.gate.family import family_alpha  # noqa: E402
from distilleval.results.families import binomial_tail_p, holm_arrays  # noqa: E402

ALPHA = 0.05
_tail = np.vectorize(lru_cache(maxsize=None)(binomial_tail_p), otypes=[float])


def counts(rng: np.random.Generator, replicates: int, models: int, n: int, drops: np.ndarray, items: str
           ) -> tuple[np.ndarray, np.ndarray]:
    """Items lost and gained per (replicate, model), drawn in chunks to bound memory."""
    lost, gained = np.empty((replicates, models), dtype=int), np.empty((replicates, models), dtype=int)
    chunk = max(1, 2_000_000 // (models * n))
    for start in range(0, replicates, chunk):
        rows = min(chunk, replicates - start)
        difficulty = rng.beta(1.7, 0.3, (rows, models, n)) if items == "varying" else np.full((rows, models, n), 0.85)
        baseline = rng.random((rows, models, n)) < difficulty
        run = rng.random((rows, models, n)) < difficulty * (1 - drops[None, :, None] / 0.85)
        lost[start:start + rows] = (baseline & ~run).sum(axis=-1)
        gained[start:start + rows] = (~baseline & run).sum(axis=-1)
    return lost, gained


def failures(lost: np.ndarray, gained: np.ndarray, *, corrected: bool = True) -> np.ndarray:
    """Which models the gate fails in each replicate (``corrected=False``: each model tested alone at alpha / 2)."""
    p = _tail(lost, gained)
    if not corrected:
        return (p <= family_alpha(ALPHA)) & (lost > gained)
    _, rejected, _ = holm_arrays(p, family_alpha(ALPHA))
    return rejected & (lost > gained)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    r = args.replicates
    print(f"{'item model':>10} {'items':>6} {'models':>6} {'false failure':>15} {'uncorrected':>15} "
          f"{'power (5-pt drop)':>19}   ({r:,} replicates each)")
    for items in ("varying", "uniform"):
        for n in (300, 1_000, 2_000):
            for models in (1, 5):
                noise = counts(rng, r, models, n, np.zeros(models), items)
                unchanged = failures(*noise).any(axis=-1).mean()
                alone = failures(*noise, corrected=False).any(axis=-1).mean()
                drops = np.zeros(models)
                drops[0] = 0.05
                caught = failures(*counts(rng, r, models, n, drops, items))[:, 0].mean()
                se = lambda p: math.sqrt(p * (1 - p) / r)  # noqa: E731
                print(f"{items:>10} {n:>6,} {models:>6} {unchanged:>9.2%} ±{se(unchanged):.2%} "
                      f"{alone:>9.2%} ±{se(alone):.2%} {caught:>12.1%} ±{se(caught):.1%}")


if __name__ == "__main__":
    main()
