"""A real server that dies in the middle of an eval: the run stops, says so, and resumes later."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path


from distilleval.cli.main import main
from distilleval.testing.llama_server import LlamaServer
from tests.real_server.server_record import recorded_calls
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
        line = err.strip()
        assert "\n" not in line and server.base_url in line and "--resume" in line, line

        # Back on the same port: --resume finishes the run, and no call recorded before is made again.
        with LlamaServer(parallel=2, port=server.port):
            assert main(["eval", str(spec), "--resume", str(run_dir), "--concurrency", "1", "--no-cache"]) == 0
        after = {(r.item_id, r.role): r for r in recorded_calls(run_dir)}
        assert len(after) == N_CALLS and all(r.status == "ok" for r in after.values())
        assert all(after[key] == record for key, record in done_before.items())
