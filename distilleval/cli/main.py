"""Parse the command line and dispatch to one ``distilleval.commands.<verb>`` module.

Exit codes are decided here and nowhere else: 0 success, 1 a gate or check failed (returned
by the command), 2 bad usage, bad input or an operational failure (any ``DistillevalError``,
and, as a last resort, a file or SQLite error nobody translated: one line, never a
traceback), 130 interrupted by Ctrl-C (SIGINT), 143 stopped by SIGTERM. An interrupted
command says in one line how to continue (for ``eval``, the exact ``--resume`` command).
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import signal
import sqlite3
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from distilleval.errors import DistillevalError
from distilleval.version import __version__

# Order is the order shown in --help. Each name is a module in distilleval.commands (a dash in it an underscore).
COMMANDS = (
    "run",
    "estimate",
    "cost",
    "pricing",
    "curve",
    "label",
    "import-logs",
    "validate",
    "train",
    "eval",
    "score",
    "report",
    "failures",
    "export",
    "iterate",
    "compare",
    "gate",
    "drift",
    "align",
)

EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so it unwinds (and commits) exactly as Ctrl-C does."""


def build_parser() -> argparse.ArgumentParser:
    """Build the full parser; importing the command modules is cheap by contract."""
    parser = argparse.ArgumentParser(
        prog="distilleval",
        description="Should this task move from a big prompted model to a small fine-tuned one?",
    )
    parser.add_argument("--version", action="version", version=f"distilleval {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"distilleval.commands.{name.replace('-', '_')}")
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        with _sigterm_raises():
            return int(args._run(args) or 0)
    except DistillevalError as err:
        print(f"distilleval {args.command}: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt as err:
        stopped = "stopped by SIGTERM" if isinstance(err, Terminated) else "interrupted"
        print(f"distilleval {args.command}: {stopped}; {how_to_continue(args, argv, err)}", file=sys.stderr)
        return EXIT_TERMINATED if isinstance(err, Terminated) else EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0
    except OSError as err:  # a file the command could not read or write, not translated further down
        where = f"{err.filename}: " if err.filename else ""
        print(f"distilleval {args.command}: error: {where}{err.strerror or err} (check the path, its permissions "
              "and the free space)", file=sys.stderr)
        return 2
    except sqlite3.Error as err:
        print(f"distilleval {args.command}: error: SQLite: {err} (a run store or cache file is damaged or cannot be "
              "written)", file=sys.stderr)
        return 2


@contextmanager
def _sigterm_raises() -> Iterator[None]:
    """While the command runs, SIGTERM raises ``Terminated`` (only the main thread can set handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the clean-up short
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# Flags of `eval` that choose the run directory: the resume command names it with --resume instead.
_RUN_DIRECTORY_FLAGS = ("--resume", "--out", "--runs-dir")


def how_to_continue(args: argparse.Namespace, argv: list[str], interrupted: BaseException) -> str:
    """One phrase: how to continue an interrupted command (the exact command where there is one)."""
    run_dir = getattr(interrupted, "resume_run", None)
    if args.command == "eval" and run_dir is not None:
        kept: list[str] = []
        skip = False
        for token in argv:
            if skip:
                skip = False
                continue
            if token in _RUN_DIRECTORY_FLAGS:
                skip = True
                continue
            if token.startswith(tuple(flag + "=" for flag in _RUN_DIRECTORY_FLAGS)):
                continue
            kept.append(token)
        command = shlex.join(["distilleval", *kept, "--resume", str(run_dir)])
        return f"finished calls are saved in {run_dir}; continue with: {command}"
    again = shlex.join(["distilleval", *argv])
    if args.command in ("eval", "label", "run", "validate", "iterate"):
        kept_by = "nothing is kept" if getattr(args, "no_cache", False) else "answers already paid for are replayed from the response cache"
        return f"run the same command again to continue ({kept_by}): {again}"
    return f"run it again: {again}"
