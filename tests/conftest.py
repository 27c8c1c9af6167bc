"""Shared fixtures: paths to the repository, the test fixtures and the real public data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Skip-or-fail for what a test needs from outside the repository (shared_data_dir is re-exported).
from tests.environment import require_shared_data, shared_data_dir  # noqa: F401

# The real-server tier's fixtures (llama, llama_proxy) and its wall-time line at the end of the run.
from tests.llama_tier import (  # noqa: F401 - pytest finds fixtures and hooks by name here
    llama,
    llama_proxy,
    pytest_collection_modifyitems,
    pytest_runtest_logfinish,
    pytest_runtest_logreport,
    pytest_runtest_logstart,
    pytest_terminal_summary,
)

# The suite's property tests draw the same examples on every run, so CI passes or fails for the
# code, not for the draw. HYPOTHESIS_PROFILE=explore draws new examples each run (to hunt for bugs).
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"




@pytest.fixture
def tiny_spec_path() -> Path:
    """A six-item label task with a rubric file."""
    return FIXTURES / "tiny" / "spec.yaml"


@pytest.fixture
def shared_data() -> Path:
    """The real public data sets; skips the test when they are absent (fails under CI=true)."""
    return require_shared_data()
