"""Benchmark: `distilleval eval` items/s on a fresh run and on a fully cached re-run, side by side.

Issue 27 asks for a fully cached re-run at 20,000 items/s or more, the first call within 5 s of
the start, and at most 10 s from the last result to the exit. This runs a real `distilleval eval`
process twice on the same spec (fast path, concurrency 64, two calls an item) against the
scripted server, which runs in this process: first with an empty response cache (every call goes
to the server), then again with that cache (every call is a hit). For each run it prints:

- wall: from starting the process to its exit, and items/s over that;
- first result: from the start to the first row the run store stamped (``finished_at``);
- first to last result: the call phase (for the re-run: replaying the hits), and items/s over that;
- last result to exit: from the last row the run store stamped to the exit;
- CPU seconds (user + system; ``wait4``'s rusage), which move less than the wall clock on a shared
  machine, and the eval process's peak RSS sampled from /proc every 50 ms (not ``ru_maxrss``: the
  child's maximum also counts this process's image before the exec, and this process holds the
  test server and its request log: a cached re-run at 300,000 items read 935 MiB there against a
  sampled 257).

``--repo PATH`` times another checkout (with its own ``.venv``), for a before/after figure.

    python bench/bench_cached_rerun.py --items 100000 [--items 10000 ...] [--repo /path/to/main]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_tasks import write_task  # noqa: E402
from distilleval.testing.openai_server import ModelScript, OpenAIServer  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def _rss(pid: int) -> int:
    """``pid``'s resident set size in bytes (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def _run_eval(spec: Path, runs_dir: Path, cache: Path, progress_every: float, repo: Path) -> dict[str, float]:
    """One `distilleval eval` process of the checkout ``repo``: wall seconds, first-result and last-result-to-exit
    seconds, peak RSS."""
    python = repo / ".venv" / "bin" / "python"
    argv = [str(python if python.exists() else sys.executable), "-m", "distilleval", "eval", str(spec), "--runs-dir", str(runs_dir), "--cache", str(cache),
            "--concurrency", "64", "--progress-every", str(progress_every)]
    env = {**os.environ, "PYTHONPATH": str(repo), "LITELLM_OFFLINE_MODE": "true"}
    started_wall, started = time.time(), time.monotonic()
    with tempfile.TemporaryFile("w+") as log:
        child = subprocess.Popen(argv, cwd=spec.parent, env=env, stdout=log, stderr=log, text=True)
        peak = 0
        while True:
            waited, status, usage = os.wait4(child.pid, os.WNOHANG)
            if waited:
                break
            peak = max(peak, _rss(child.pid))
            time.sleep(0.05)
        child.returncode = os.waitstatus_to_exitcode(status)
        exited_wall, exited = time.time(), time.monotonic()
        log.seek(0)
        output = log.read()
    if child.returncode != 0:
        raise SystemExit(f"eval exited {child.returncode}: {output[-2000:]}")
    sys.stderr.write(output)
    [records] = runs_dir.glob("*/records.sqlite")
    with sqlite3.connect(records) as db:
        first, last, rows, hits = db.execute(
            "SELECT MIN(finished_at), MAX(finished_at), COUNT(*), SUM(cache_hit) FROM records").fetchone()
    return {"wall_s": exited - started, "first_result_s": first - started_wall, "last_result_to_exit_s": exited_wall - last,
            "results_s": last - first,
            "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mib": peak / 2**20, "rows": rows, "hits": hits or 0}


def measure(n_items: int, progress_every: float, repo: Path = REPO) -> tuple[dict[str, float], dict[str, float]]:
    """A fresh run and a fully cached re-run of ``n_items`` items, in that order."""
    scripts = {"teacher-m": ModelScript(answer="billing"), "student-m": ModelScript(answer="billing")}
    with tempfile.TemporaryDirectory() as tmp, OpenAIServer(scripts) as server:
        folder = Path(tmp)
        spec = write_task(folder, server.base_url, n_items, name="bench_cached_rerun")
        cache = folder / "cache.sqlite"
        fresh = _run_eval(spec, folder / "fresh", cache, progress_every, repo)
        called = len(server.requests_for("teacher-m") + server.requests_for("student-m"))
        cached = _run_eval(spec, folder / "cached", cache, progress_every, repo)
        called_again = len(server.requests_for("teacher-m") + server.requests_for("student-m")) - called
        if called_again or cached["hits"] != cached["rows"]:
            raise SystemExit(f"the re-run was not fully cached: {called_again} calls, {cached['hits']} hits")
    return fresh, cached


def _line(name: str, n_items: int, row: dict[str, float]) -> str:
    return (f"  {name:<7} wall {row['wall_s']:7.1f} s = {n_items / row['wall_s']:9,.0f} items/s; first result "
            f"{row['first_result_s']:5.1f} s, first to last result {row['results_s']:6.1f} s = "
            f"{n_items / max(row['results_s'], 1e-3):9,.0f} items/s, last result to exit {row['last_result_to_exit_s']:5.1f} s; "
            f"CPU {row['cpu_s']:6.1f} s; peak RSS {row['peak_rss_mib']:7,.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, action="append", help="items per run (repeatable; default 10000)")
    parser.add_argument("--progress-every", type=float, default=5.0)
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout to time (its .venv when it has one)")
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    for n in args.items or [10_000]:
        fresh, cached = measure(n, args.progress_every, args.repo)
        print(f"{n:,} items, {int(fresh['rows']):,} calls:", flush=True)
        print(_line("fresh", n, fresh))
        print(_line("cached", n, cached), flush=True)


if __name__ == "__main__":
    main()
