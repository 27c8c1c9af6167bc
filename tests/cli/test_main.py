"""The CLI entry point: fast --help that imports no model SDK, and exit codes."""

from __future__ import annotations

import argparse
import subprocess
import sys

from distilleval.cli.main import COMMANDS, build_parser, main

HEAVY = ("litellm", "tinker", "sklearn", "scipy", "openai", "torch")


def test_help_imports_no_heavy_library():
    code = (
        "import sys\n"
        "from distilleval.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print('LOADED=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "usage: distilleval" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "LOADED="


def test_every_command_has_help(capsys):
    for name in COMMANDS:
        try:
            main([name, "--help"])
        except SystemExit as exit_:
            assert exit_.code == 0
        assert "usage: distilleval" in capsys.readouterr().out


def test_no_option_shows_another_options_name_as_its_value():
    """An option sharing another's ``dest`` (cost's ``--tokens-in`` attaches to ``--model``) would show
    ``--tokens-in MODEL`` for a number unless it names its own metavar."""
    subcommands = next(action for action in build_parser()._actions if isinstance(action, argparse._SubParsersAction))
    misnamed = []
    for name, parser in subcommands.choices.items():
        for action in parser._actions:
            if not action.option_strings or action.nargs == 0 or action.metavar is not None or action.choices:
                continue
            flag = max(action.option_strings, key=len)
            if action.dest != flag.lstrip("-").replace("-", "_"):
                misnamed.append(f"{name} {flag} {action.dest.upper()}")
    assert misnamed == []


def test_cost_help_shows_a_number_for_the_token_counts(capsys):
    try:
        main(["cost", "--help"])
    except SystemExit as exit_:
        assert exit_.code == 0
    shown = " ".join(capsys.readouterr().out.split())  # argparse wraps lines where the terminal ends
    for flag in ("--tokens-in", "--tokens-out", "--cached-in"):
        assert f"{flag} N " in shown and f"{flag} MODEL" not in shown
    assert "--model MODEL " in shown


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_a_file_error_nobody_translated_is_one_line_with_exit_2(tmp_path, capsys, monkeypatch):
    """The last resort: an OSError or SQLite error reaching the CLI is one line, never a traceback."""
    import sqlite3

    from distilleval.commands import failures

    def fails(args):
        raise PermissionError(13, "Permission denied", str(tmp_path / "x"))

    monkeypatch.setattr(failures, "run", fails)
    assert main(["failures", "some-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"distilleval failures: error: {tmp_path / 'x'}: Permission denied (check the path, its permissions and the free space)"

    def damaged(args):
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(failures, "run", damaged)
    assert main(["failures", "some-run"]) == 2
    assert "SQLite: database disk image is malformed" in capsys.readouterr().err


def test_the_resume_command_keeps_every_flag_but_the_run_directory_ones():
    import argparse

    from distilleval.cli.main import how_to_continue

    interrupted = KeyboardInterrupt()
    interrupted.resume_run = "runs/my run"
    argv = ["eval", "spec.yaml", "--runs-dir", "r", "--concurrency", "4", "--out=x", "--cache", "c.sqlite"]
    assert how_to_continue(argparse.Namespace(command="eval"), argv, interrupted) == (
        "finished calls are saved in runs/my run; continue with: "
        "distilleval eval spec.yaml --concurrency 4 --cache c.sqlite --resume 'runs/my run'")
    label = how_to_continue(argparse.Namespace(command="label", no_cache=False), ["label", "s.yaml"], KeyboardInterrupt())
    assert label.endswith(": distilleval label s.yaml") and "replayed from the response cache" in label
