"""The rule every Monte Carlo check of a statistical promise is held to, and the dense-grid switch.

A simulated error rate passes when it is at most nominal + 1 point + 2 Monte Carlo standard
errors (the standard error of a rate at the nominal level over the replicates). Seeded, so a
run always draws the same replicates. ``DISTILLEVAL_DENSE_STATS=1`` adds denser grids.
"""

from __future__ import annotations

import math
import os

REPLICATES = 2_000
DENSE = os.environ.get("DISTILLEVAL_DENSE_STATS") == "1"


def error_rate_bound(nominal: float, replicates: int = REPLICATES) -> float:
    """The largest simulated error rate that still holds a promise made at ``nominal``."""
    return nominal + 0.01 + 2 * math.sqrt(nominal * (1 - nominal) / replicates)
