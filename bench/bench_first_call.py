"""Benchmark: how long `distilleval eval` takes to make its first call, and to exit after its last result.

Issue 27 asks for the first call within 5 s of the start at any size, and at most 10 s from the
last result to the exit at 1M items. This times both around a real `distilleval eval` process
(fast path, concurrency 64, two calls an item, cache off) against the scripted server, which
runs in this process and stamps every request it receives (``time.monotonic()``, the same clock
in every process on Linux):

- first call: from starting the eval process to the server receiving its first request;
- last result to exit: from the server answering its last request to the eval process exiting.

With ``--progress-every S`` (default 5) the eval's own progress lines show where the time before
the first call and after the last result goes (phases starting, calls, scoring).

    python bench/bench_first_call.py --items 100000 [--items 10000 ...]

``--first-call-only`` stops the eval as soon as its first request arrives (at 1M items the calls
themselves take an hour on two cores); ``--repo PATH`` (repeatable) times another checkout of
distilleval the same way, one after the other at each size, for a before/after comparison.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_tasks import cli_env, write_task  # noqa: E402

from distilleval.testing.openai_server import ModelScript, OpenAIServer  # noqa: E402


def measure(n_items: int, progress_every: float, *, repo: Path | None = None,
            first_call_only: bool = False) -> dict[str, float]:
    """Seconds to the first call, of calls, from the last result to the exit, and in all
    (only the first with ``first_call_only``; ``repo``: the checkout to run, default this one)."""
    scripts = {"teacher-m": ModelScript(answer="billing"), "student-m": ModelScript(answer="billing")}
    with tempfile.TemporaryDirectory() as tmp, OpenAIServer(scripts, keep_log=False) as server:
        folder = Path(tmp)
        spec = write_task(folder, server.base_url, n_items)
        argv = [sys.executable, "-m", "distilleval", "eval", str(spec), "--runs-dir", str(folder / "runs"),
                "--no-cache", "--concurrency", "64", "--progress-every", str(progress_every)]
        env = cli_env(**({"PYTHONPATH": str(repo)} if repo is not None else {}))
        if first_call_only:
            first_call_s, cpu_s = _first_call(argv, folder, env, server)
            return {"items": n_items, "first_call_s": first_call_s, "cpu_s": float("nan") if cpu_s is None else cpu_s}
        started = time.monotonic()
        child = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True)
        exited = time.monotonic()
        if child.returncode != 0:
            raise SystemExit(f"eval exited {child.returncode}: {child.stderr[-2000:]}")
        # Counts and first/last stamps only: a per-request log would hold 2M entries at 1M items.
        calls = sum(server.counts.values())
        first, last = server.first_received_at, server.last_finished_at
        if first is None or last is None:
            raise SystemExit("eval made no call")
        sys.stderr.write(child.stderr)
        return {"items": n_items, "calls": calls, "first_call_s": first - started, "calls_s": last - first,
                "last_result_to_exit_s": exited - last, "wall_s": exited - started}


def _first_call(argv: list[str], folder: Path, env: dict[str, str], server: OpenAIServer) -> tuple[float, float | None]:
    """Seconds from starting the eval to the server's first request, and the CPU seconds the eval
    process had used by then (Linux; None elsewhere): on a shared machine the wall time mostly
    says how busy it was. The eval is then stopped."""
    started = time.monotonic()
    child = subprocess.Popen(argv, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        while server.first_received_at is None:
            if child.poll() is not None:
                raise SystemExit(f"eval exited {child.returncode} before its first call: {child.stderr.read()[-2000:]}")
            time.sleep(0.005)
        return server.first_received_at - started, _cpu_s(child.pid)
    finally:
        child.kill()
        child.communicate()


def _cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` so far (from /proc; None where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, action="append", help="items per run (repeatable; default 10000)")
    parser.add_argument("--progress-every", type=float, default=5.0)
    parser.add_argument("--first-call-only", action="store_true", help="stop each eval at its first call")
    parser.add_argument("--repo", type=Path, action="append", help="a checkout to time (repeatable; default this one)")
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    for n in args.items or [10_000]:
        for repo in args.repo or [None]:
            if args.first_call_only:
                row = measure(n, args.progress_every, repo=repo, first_call_only=True)
                print(f"{row['items']:>9,} items, {repo or 'this checkout'}: first call after {row['first_call_s']:.1f} s "
                      f"({row['cpu_s']:.1f} CPU s)", flush=True)
                continue
            row = measure(n, args.progress_every, repo=repo)
            print(f"{row['items']:>9,} items, {row['calls']:,} calls: first call after {row['first_call_s']:.1f} s, "
                  f"calls {row['calls_s']:.1f} s, last result to exit {row['last_result_to_exit_s']:.1f} s, "
                  f"wall {row['wall_s']:.1f} s", flush=True)


if __name__ == "__main__":
    main()
