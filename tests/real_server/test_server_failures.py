"""A real server that dies in the middle of an eval: the run stops, says so, and resumes later."""

from __future__ import annotations

import collections
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from distilleval.cli.main import main
from distilleval.testing.llama_server import LlamaServer
from distilleval.testing.recording_proxy import RecordingProxy
from tests.real_server.server_record import recorded_calls, server_calls
from tests.real_server.task import REVIEWS, write_task

REPO_ROOT = Path(__file__).resolve().parents[2]
N_CALLS = 2 * len(REVIEWS)
STOP_WITHIN_S = 60  # issue 26: a dead endpoint is noticed within a bounded time
GIVE_UP_AFTER_S = 10  # shorter than the default 30 s, to keep the tier quick; the rule is the same


def _ok_rows(path: Path) -> int:
    try:
        with sqlite3.connect(path, timeout=1) as db:
            return db.execute("SELECT COUNT(*) FROM records WHERE status='ok'").fetchone()[0]
    except sqlite3.Error:
        return 0


def _run_until_stopped(spec: Path, runs: Path, cwd: Path, stop, *extra: str) -> tuple[subprocess.CompletedProcess, Path, float]:
    """Start eval in a child; once it has 6 answers call ``stop()``; the child's output, its run folder, and
    the seconds from ``stop()`` to its exit."""
    argv = [sys.executable, "-m", "distilleval", "eval", str(spec), "--runs-dir", str(runs), "--concurrency", "1",
            "--no-cache", *extra]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    child = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    stores: list[Path] = []
    while time.monotonic() < deadline and child.poll() is None:
        stores = list(runs.glob("*/records.sqlite")) if runs.exists() else []
        if stores and _ok_rows(stores[0]) >= 6:
            break
        time.sleep(0.05)
    stop()
    stopped_at = time.monotonic()
    try:
        out, err = child.communicate(timeout=STOP_WITHIN_S)
    except subprocess.TimeoutExpired:
        child.kill()
        out, err = child.communicate()
    assert stores, err
    return subprocess.CompletedProcess(argv, child.returncode, out, err), stores[0].parent, time.monotonic() - stopped_at


def test_a_server_frozen_mid_run_stops_the_run_which_resumes_without_paying_twice(llama, tmp_path):
    # SIGSTOP: the server's socket still accepts connections but nothing answers, and each call's own
    # timeout (120 s in this spec) is far away. The run notices the silence, probes the endpoint, stops.
    runs = tmp_path / "runs"
    with LlamaServer(parallel=2) as server, RecordingProxy(server.root_url) as proxy:
        spec = write_task(tmp_path / "task", proxy.base_url)
        frozen = lambda: os.killpg(server.process.pid, signal.SIGSTOP)  # noqa: E731
        try:
            child, run_dir, took_s = _run_until_stopped(spec, runs, tmp_path, frozen, "--give-up-after", "3",
                                                        "--models", "student")  # the student alone: a shorter test
            stopped_at = time.time()
        finally:
            os.killpg(server.process.pid, signal.SIGCONT)
        print(f"\n  frozen server: the run stopped {took_s:.1f} s after SIGSTOP")
        assert child.returncode == 2 and took_s < STOP_WITHIN_S, (child.returncode, took_s, child.stderr[-300:])
        line = child.stderr.strip().splitlines()[-1]
        assert proxy.base_url in line and f"--resume {run_dir}" in line, line
        done_before = {(r.item_id, r.role): r for r in recorded_calls(run_dir) if r.status == "ok"}
        assert 6 <= len(done_before) < len(REVIEWS)

        # Thawed: --resume finishes, and no call recorded before the freeze is asked again.
        assert main(["eval", str(spec), "--resume", str(run_dir), "--concurrency", "2", "--no-cache", "--models", "student"]) == 0
        calls = server_calls(proxy.exchanges())
    after = {(r.item_id, r.role): r for r in recorded_calls(run_dir)}
    assert len(after) == len(REVIEWS) and all(r.status == "ok" for r in after.values())
    assert all(after[key] == record for key, record in done_before.items())
    asked_after = {(c.item_id, c.role) for c in calls if c.received_at > stopped_at}
    assert not asked_after & set(done_before)
    # Answered twice by the server only if in flight at the freeze (concurrency 1: one call).
    answered = collections.Counter((c.item_id, c.role) for c in calls if c.status == 200)
    assert len(answered) == len(REVIEWS) and sum(n - 1 for n in answered.values()) <= 1


def test_a_server_killed_mid_run_stops_the_run_which_resumes_when_it_is_back(llama, tmp_path):
    runs = tmp_path / "runs"
    with LlamaServer(parallel=2) as server:
        spec = write_task(tmp_path / "task", server.base_url)
        argv = [sys.executable, "-m", "distilleval", "eval", str(spec), "--runs-dir", str(runs), "--concurrency", "1", "--no-cache",
                "--give-up-after", str(GIVE_UP_AFTER_S)]
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        child = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None:
            stores = list(runs.glob("*/records.sqlite")) if runs.exists() else []
            if stores and _ok_rows(stores[0]) >= 6:
                break
            time.sleep(0.05)
        server.kill()
        try:
            out, err = child.communicate(timeout=STOP_WITHIN_S)
        except subprocess.TimeoutExpired:
            child.kill()
            out, err = child.communicate()
        run_dir = stores[0].parent
        done_before = {(r.item_id, r.role): r for r in recorded_calls(run_dir) if r.status == "ok"}
        assert child.returncode == 2, f"exit {child.returncode} (killed after {STOP_WITHIN_S} s if None/-9): {err[-300:]}"
        line = err.strip().splitlines()[-1]  # after any progress lines (stderr is a pipe)
        assert line.startswith("distilleval") and server.base_url in line and "--resume" in line, line

        # Back on the same port: --resume finishes the run, and no call recorded before is made again.
        with LlamaServer(parallel=2, port=server.port):
            assert main(["eval", str(spec), "--resume", str(run_dir), "--concurrency", "2", "--no-cache"]) == 0
        after = {(r.item_id, r.role): r for r in recorded_calls(run_dir)}
        assert len(after) == N_CALLS and all(r.status == "ok" for r in after.values())
        assert all(after[key] == record for key, record in done_before.items())
