"""Progress where there is no terminal: plain lines at a fixed interval, from start to exit."""

import io
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from distilleval.run.heartbeat import Heartbeat, interval_from_env, wants_plain_lines
from distilleval.testing.openai_server import ModelScript, OpenAIServer
from tests.commands.test_eval import _student, _teacher, write_spec

REPO_ROOT = Path(__file__).resolve().parents[2]
LINE = re.compile(r"^distilleval eval: (\d+\.\d) s: (\w+)(.*)$")


def test_a_line_reports_phase_calls_rate_failures_and_eta():
    beat = Heartbeat("distilleval eval", interval_s=60, stream=io.StringIO())
    beat.set_phase("calls", total=10)
    for ok in (True, True, False, True):
        beat.advance(ok=ok)
    line = beat.line()
    assert ": calls, 4/10 calls done (40%), " in line and " calls/s, ETA " in line and line.endswith(", 1 failed")


def test_a_command_shorter_than_one_interval_writes_nothing():
    # Its one-line error (or result) must stay the only line.
    stream = io.StringIO()
    with Heartbeat("distilleval eval", interval_s=60, stream=stream):
        pass
    assert stream.getvalue() == ""


def test_the_interval_and_where_lines_are_wanted(monkeypatch):
    monkeypatch.setenv("DISTILLEVAL_PROGRESS_EVERY", "2.5")
    assert interval_from_env() == 2.5
    monkeypatch.setenv("DISTILLEVAL_PROGRESS_EVERY", "soon")
    assert interval_from_env() == 10.0
    monkeypatch.delenv("CI", raising=False)
    assert wants_plain_lines(io.StringIO())  # not a terminal
    monkeypatch.setenv("CI", "true")
    tty = io.StringIO()
    tty.isatty = lambda: True  # type: ignore[method-assign]
    assert wants_plain_lines(tty)


def test_eval_in_a_pipe_prints_progress_lines_at_the_interval_from_start_to_exit(tmp_path):
    n = 12
    scripts = {"teacher-m": ModelScript(answer=_teacher, delay_ms=100), "student-m": ModelScript(answer=_student, delay_ms=100)}
    with OpenAIServer(scripts) as server:
        spec = write_spec(tmp_path / "task", server.base_url, n)
        argv = [sys.executable, "-m", "distilleval", "eval", str(spec), "--runs-dir", str(tmp_path / "runs"), "--no-cache",
                "--concurrency", "2", "--progress-every", "0.2"]
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        env.pop("CI", None)
        started = time.monotonic()
        child = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        wall_s = time.monotonic() - started
    assert child.returncode == 0, child.stderr
    lines = [LINE.match(line) for line in child.stderr.splitlines()]
    assert lines and all(lines), child.stderr
    elapsed = [float(m.group(1)) for m in lines]
    phases = [m.group(2) for m in lines]
    gaps = [b - a for a, b in zip(elapsed, elapsed[1:])]
    # From start-up (before the first call) ...
    assert phases[0] == "starting" and elapsed[0] <= 1.0, child.stderr
    assert "calls" in phases and any(f"/{2 * n} calls done" in m.group(3) for m in lines if m.group(2) == "calls")
    # ... at the interval (one machine shared with other tests: the median, and no long silence) ...
    assert 0.15 <= statistics.median(gaps) <= 0.4 and max(gaps) <= 1.5, gaps
    # ... to the exit: the last line is the finished run, written as the command returned.
    assert phases[-1] == "finished" and f"{2 * n}/{2 * n} calls done" in lines[-1].group(3) and ", 0 failed" in lines[-1].group(3)
    # Outside the heartbeat: the interpreter's start (before eval's code runs) and its teardown with
    # LiteLLM loaded (about 1 s of CPU, several seconds on a loaded machine).
    assert wall_s - elapsed[-1] < 12.0, (wall_s, elapsed[-1])
