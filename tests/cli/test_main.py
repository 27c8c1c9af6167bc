"""The CLI entry point: fast --help that imports no model SDK, and exit codes."""

from __future__ import annotations

import subprocess
import sys

from distilleval.cli.main import COMMANDS, main

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


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out
