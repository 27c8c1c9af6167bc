"""Tests for distilleval.scoring.sql_worker: the pool's hard kill and crash recovery."""

from __future__ import annotations

import time

from distilleval.scoring.sql_worker import WorkerPool, read_only_uri


def test_pool_kills_a_job_the_progress_handler_cannot_interrupt():
    # time.sleep ignores SQLite's progress handler: only the hard kill can stop it.
    with WorkerPool(2, target="time:sleep", grace_s=0.3) as pool:
        started = time.monotonic()
        results = pool.map([((60,), 0.5), ((0.01,), 0.5), ((60,), 0.5)])
        elapsed = time.monotonic() - started
        assert results[0][0] == "timeout" and results[2][0] == "timeout"
        assert results[1] is None  # time.sleep returns None: the job finished normally
        assert pool.killed == 2
        assert elapsed < 5.0
        # Killed workers are replaced on demand.
        assert pool.map([((0.01,), 1.0)]) == [None]


def test_a_worker_that_dies_is_reported_and_replaced():
    with WorkerPool(1, target="os:_exit") as pool:
        assert pool.map([((3,), 5.0)])[0][0] == "error"
    with WorkerPool(1, target="math:sqrt") as pool:
        assert pool.map([((-1,), 5.0), ((4,), 5.0)]) == [("error", "worker: ValueError: math domain error"), 2.0]


def test_read_only_uri_escapes_odd_paths(tmp_path):
    uri = read_only_uri(tmp_path / "a b?c#d.sqlite")
    assert uri.startswith("file:///") and uri.endswith("?mode=ro")
    assert "a%20b%3Fc%23d.sqlite" in uri


def test_jobs_queued_behind_a_killed_job_are_run_not_lost():
    # One worker holds two jobs at a time: the ones queued behind a runaway must be re-sent.
    with WorkerPool(1, target="time:sleep", grace_s=0.2) as pool:
        started = time.monotonic()
        results = pool.map([((0.05,), 0.5), ((60,), 0.5), ((0.01,), 0.5), ((60,), 0.5), ((0.01,), 0.5)])
        elapsed = time.monotonic() - started
    assert [r if r is None else r[0] for r in results] == [None, "timeout", None, "timeout", None]
    assert pool.killed == 2 and elapsed < 6.0


def test_each_jobs_clock_starts_when_it_starts_running():
    # Three 0.3 s jobs on one worker with a 0.6 s limit each: none may be killed, although
    # the last finishes 0.9 s after the batch was sent.
    with WorkerPool(1, target="time:sleep", grace_s=0.1) as pool:
        assert pool.map([((0.3,), 0.6)] * 3) == [None, None, None]
        assert pool.killed == 0
