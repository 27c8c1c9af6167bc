"""What a test needs from outside the repository, and one rule for when it is absent.

Chromium, marp-cli, the llama.cpp packages and the public data sets in ``../shared/data`` are
installed by ``.ci/run``. Without one of them a test skips with a one-line reason on a
developer's machine, but fails under ``CI=true``: there a skip would hide a broken install.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def missing(reason: str) -> None:
    """Skip the calling test with ``reason``; fail it instead when ``CI=true``."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason + " (CI=true: .ci/run installs it)")
    pytest.skip(reason)


def shared_data_dir() -> Path | None:
    """../shared/data beside the repository (or $DISTILLEVAL_SHARED_DATA), if present."""
    candidates = [os.environ.get("DISTILLEVAL_SHARED_DATA"), REPO_ROOT.parent / "shared" / "data", "/work/shared/data"]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def require_shared_data(relative: str = "") -> Path:
    """``../shared/data/<relative>`` (a file or folder that must exist), or skip/fail naming it."""
    folder = shared_data_dir()
    if folder is None:
        missing("../shared/data is not present on this machine")
    path = folder / relative if relative else folder  # type: ignore[operator]
    if not path.exists():
        missing(f"../shared/data/{relative} is not present")
    return path
