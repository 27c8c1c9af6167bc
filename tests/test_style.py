"""The codebase stays at zero ruff findings (rules and line length in pyproject.toml's [tool.ruff])
and zero mypy findings (pyproject.toml's [tool.mypy]: strict in spec/, costs/, results/ and scoring/)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tomllib

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


STRICT_PACKAGES = ["distilleval.spec.*", "distilleval.costs.*", "distilleval.results.*", "distilleval.scoring.*"]
# What `mypy --strict` turns on, less the flags [tool.mypy] sets for the whole package.
STRICT_FLAGS = [
    "disallow_any_generics", "disallow_subclassing_any", "disallow_untyped_calls", "disallow_untyped_defs",
    "disallow_incomplete_defs", "check_untyped_defs", "disallow_untyped_decorators", "warn_return_any",
    "no_implicit_reexport", "strict_equality", "extra_checks",
]


def test_mypy_finds_nothing():
    """mypy over distilleval/ with the project's config. Its incremental cache (.mypy_cache/,
    git-ignored) makes a rerun take about a second; a fresh clone pays one cold check."""
    if importlib.util.find_spec("mypy") is None:
        missing("mypy is not installed in this venv (pip install -e '.[test]')")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", "pyproject.toml", "--no-pretty"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, f"mypy (pyproject.toml [tool.mypy]):\n{result.stdout}{result.stderr}"


def test_the_strict_packages_keep_every_strict_flag():
    """The zero above means "strict" in the four packages only while their override keeps the flags."""
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    strict = [o for o in config["overrides"] if o["module"] == STRICT_PACKAGES]
    assert len(strict) == 1, f"one [[tool.mypy.overrides]] with module = {STRICT_PACKAGES}"
    assert {flag: strict[0].get(flag) for flag in STRICT_FLAGS} == dict.fromkeys(STRICT_FLAGS, True)
    assert config["warn_unused_ignores"] is True and config["warn_redundant_casts"] is True
