"""McNemar's exact p at many discordant pairs: the old exact-integer sum against the log-space sum.

Run: ``python bench/bench_mcnemar.py``. Prints, for each number of discordant pairs, the seconds
each takes (best of 3) and the two p-values side by side.
"""

from __future__ import annotations

import math
import time

from distilleval.results.paired_proportions import mcnemar_exact


def old_integer_mcnemar(a_only: int, b_only: int) -> float:
    """The previous implementation: the binomial tail as a sum of exact integers."""
    n = a_only + b_only
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(a_only, b_only) + 1))
    return min(1.0, 2 * tail / 2**n)


def best_of(function, *args, repeat: int = 3) -> tuple[float, float]:
    best, value = math.inf, math.nan
    for _ in range(repeat):
        start = time.perf_counter()
        value = function(*args)
        best = min(best, time.perf_counter() - start)
    return best, value


def main() -> None:
    print(f"{'discordant':>10} {'a_only':>7} {'old s':>9} {'new s':>9} {'old p':>12} {'new p':>12}")
    for discordant in (100, 1_000, 10_000):
        a_only = int(discordant * 0.48)
        old_seconds, old_p = best_of(old_integer_mcnemar, a_only, discordant - a_only)
        new_seconds, new_p = best_of(mcnemar_exact, a_only, discordant - a_only)
        print(f"{discordant:>10,} {a_only:>7,} {old_seconds:>9.4f} {new_seconds:>9.4f} {old_p:>12.6g} {new_p:>12.6g}")


if __name__ == "__main__":
    main()
