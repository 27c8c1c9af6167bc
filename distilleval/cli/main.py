"""Parse the command line and dispatch to one ``distilleval.commands.<verb>`` module.

Exit codes are decided here and nowhere else: 0 success, 1 a gate or check failed (returned
by the command), 2 bad usage or bad input (any ``DistillevalError``), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from distilleval import __version__
from distilleval.errors import DistillevalError

# Order is the order shown in --help. Each name is a module in distilleval.commands.
COMMANDS = (
    "run",
    "estimate",
    "cost",
    "pricing",
    "curve",
    "label",
    "validate",
    "train",
    "eval",
    "score",
    "report",
    "failures",
    "compare",
    "gate",
)


class _ArgumentParser(argparse.ArgumentParser):
    """argparse exits 2 on usage errors already; keep its message to one line plus usage."""


def build_parser() -> argparse.ArgumentParser:
    """Build the full parser; importing the command modules is cheap by contract."""
    parser = _ArgumentParser(
        prog="distilleval",
        description="Should this task move from a big prompted model to a small fine-tuned one?",
    )
    parser.add_argument("--version", action="version", version=f"distilleval {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"distilleval.commands.{name}")
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except DistillevalError as err:
        print(f"distilleval {args.command}: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print(f"distilleval {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
