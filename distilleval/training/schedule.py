"""The learning-rate schedule: linear decay from the base rate towards zero."""

from __future__ import annotations


def linear_decay_lr(base_lr: float, step: int, total_steps: int) -> float:
    """Learning rate for optimizer step ``step`` (0-based) of ``total_steps``.

    ``lr(step) = base_lr * (1 - step / total_steps)``: the first step uses the full rate and
    the last one ``base_lr / total_steps``, so no step is wasted at a rate of zero.

    >>> linear_decay_lr(1e-4, 0, 4), linear_decay_lr(1e-4, 3, 4)
    (0.0001, 2.5e-05)

    Raises:
        ValueError: ``total_steps`` < 1 or ``step`` outside ``[0, total_steps)``.
    """
    if total_steps < 1:
        raise ValueError(f"total_steps must be at least 1, got {total_steps}")
    if not 0 <= step < total_steps:
        raise ValueError(f"step must be in [0, {total_steps}), got {step}")
    return base_lr * (1.0 - step / total_steps)
