"""Command-line options several commands share, declared once so their name, check and metavar agree."""

from __future__ import annotations

import argparse

from distilleval.commands.argument_types import positive_int

PRICING_HELP = "pricing table (default: the spec's, else the bundled one)"
"""What ``--pricing`` means for a command that prices a spec."""


def add_pricing_option(parser: argparse.ArgumentParser, help: str = PRICING_HELP) -> None:
    """Add ``--pricing FILE``: a pricing table YAML that overrides the default one.

    Args:
        parser: the command's parser.
        help: what the default table is for this command (``PRICING_HELP`` for spec commands).
    """
    parser.add_argument("--pricing", metavar="FILE", help=help)


def add_limit_option(parser: argparse.ArgumentParser, help: str) -> None:
    """Add ``--limit N``: use only the first N items in the canonical order; N must be above zero.

    Args:
        parser: the command's parser.
        help: which items this command limits.
    """
    parser.add_argument("--limit", type=positive_int, metavar="N", help=help)
