"""Shared fixtures for scorer tests: the real public data under shared/data, when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_data_dir() -> Path | None:
    """DISTILLEVAL_SHARED_DATA, else <repo>/../shared/data, else /work/shared/data."""
    candidates = []
    if os.environ.get("DISTILLEVAL_SHARED_DATA"):
        candidates.append(Path(os.environ["DISTILLEVAL_SHARED_DATA"]))
    candidates += [REPO_ROOT.parent / "shared" / "data", Path("/work/shared/data")]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return None


@pytest.fixture
def shared_data() -> Path:
    folder = shared_data_dir()
    if folder is None:
        pytest.skip("real data folder (shared/data) is absent; set DISTILLEVAL_SHARED_DATA to run this test")
    return folder
