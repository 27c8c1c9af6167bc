"""argparse ``type=`` converters shared by the commands; each rejects bad text with a one-line message."""

from __future__ import annotations

import argparse
import math


def positive_int(text: str) -> int:
    """Parse a whole number greater than zero (``--limit``, ``--concurrency``).

    Args:
        text: the command-line value.

    Returns:
        The integer.

    Raises:
        argparse.ArgumentTypeError: not an integer, or not above zero.
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, found {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, found {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """Parse a whole number of zero or more (``--max-retries``).

    Args:
        text: the command-line value.

    Returns:
        The integer.

    Raises:
        argparse.ArgumentTypeError: not an integer, or below zero.
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, found {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, found {text!r}")
    return value


def positive_float(text: str) -> float:
    """Parse a number greater than zero (``--rpm``, ``--tpm``); NaN and infinity are rejected.

    Args:
        text: the command-line value.

    Returns:
        The number.

    Raises:
        argparse.ArgumentTypeError: not a number, or not above zero.
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, found {text!r}") from None
    # ``not value > 0`` also catches NaN, which every comparison answers False.
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a positive number, found {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """Parse a number of zero or more (token counts, days, dollars); NaN and infinity are rejected.

    Args:
        text: the command-line value.

    Returns:
        The number.

    Raises:
        argparse.ArgumentTypeError: not a number, below zero, NaN or infinite.
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, found {text!r}") from None
    if value < 0 or not math.isfinite(value):  # isfinite is False for NaN too
        raise argparse.ArgumentTypeError(f"expected a non-negative number, found {text!r}")
    return value


def latency_probe(text: str) -> tuple[int, int]:
    """Parse ``N`` or ``N@K`` (``--latency-probe``): N probe calls per model at concurrency K (default 1).

    Args:
        text: the command-line value.

    Returns:
        ``(N, K)``; N may be 0 (no probe, overriding the spec's).

    Raises:
        argparse.ArgumentTypeError: not of that form, N below 0 or K below 1.
    """
    calls, at, concurrency = text.partition("@")
    try:
        n, k = int(calls), int(concurrency) if at else 1
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or N@K (probe calls per model @ concurrency), found {text!r}") from None
    if n < 0 or k < 1:
        raise argparse.ArgumentTypeError(f"expected N >= 0 calls at concurrency K >= 1, found {text!r}")
    return n, k


MIN_RESAMPLES = 100


def resample_count(text: str) -> int:
    """Parse a number of bootstrap resamples: a whole number of at least ``MIN_RESAMPLES``
    (fewer cannot estimate a 2.5% tail).

    Raises:
        argparse.ArgumentTypeError: not an integer, or below ``MIN_RESAMPLES``.
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= {MIN_RESAMPLES}, found {text!r}") from None
    if value < MIN_RESAMPLES:
        raise argparse.ArgumentTypeError(f"expected a whole number >= {MIN_RESAMPLES} (a bootstrap needs resamples "
                                         f"to estimate a tail), found {text!r}")
    return value


def share(text: str) -> float:
    """Parse a share in (0, 1] (``--assumed-discordance``); NaN and infinity are rejected.

    Raises:
        argparse.ArgumentTypeError: not a number, or not in (0, 1].
    """
    value = positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"expected a share in (0, 1], found {text!r}")
    return value
