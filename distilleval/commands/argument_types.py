"""argparse ``type=`` converters shared by the commands; each rejects bad text with a one-line message."""

from __future__ import annotations

import argparse


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
    """Parse a number greater than zero (``--rpm``, ``--tpm``); NaN is rejected.

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
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, found {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """Parse a number of zero or more (token counts, days, dollars); NaN is rejected.

    Args:
        text: the command-line value.

    Returns:
        The number.

    Raises:
        argparse.ArgumentTypeError: not a number, or below zero, or NaN.
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, found {text!r}") from None
    if value < 0 or value != value:
        raise argparse.ArgumentTypeError(f"expected a non-negative number, found {text!r}")
    return value
