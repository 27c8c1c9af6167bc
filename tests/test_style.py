"""The codebase stays at zero ruff findings (rules and line length in pyproject.toml's [tool.ruff])."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

from tests.environment import REPO_ROOT, missing

CHECKED = ["distilleval", "tests", "bench"]


def test_ruff_finds_nothing():
    if importlib.util.find_spec("ruff") is None:
        missing("ruff is not installed in this venv (pip install -e '.[test]')")
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", *CHECKED],
        cwd=REPO_ROOT, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, f"ruff check {' '.join(CHECKED)}:\n{result.stdout}{result.stderr}"
