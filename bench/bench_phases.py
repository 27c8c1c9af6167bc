"""Benchmark: where in an ``eval`` the time and memory go, phase by phase.

Writes the scripted ticket-routing task (``bench_tasks``) at ``--items`` items, starts the local
OpenAI-shaped test server, and runs ``eval`` twice (a fresh run filling a response cache, then a
re-run where every answer is a cache hit) and ``report``, each as its own process with
``--progress-every 1``. The eval's heartbeat lines (stderr, one a second: the phase, calls done)
are printed as they come with the process tree's RSS at that moment, then the peak RSS and the
seconds spent in each phase.

    python bench/bench_phases.py --items 100000
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_scale import _rss, _Server, _tree  # noqa: E402
from bench_tasks import cli_env, write_data, write_spec  # noqa: E402

PHASE = re.compile(r"^distilleval \w+: [0-9.]+ s: ([a-z ]+?)(?:,|$)")


def profile(argv: list[str], env: dict[str, str]) -> dict[str, tuple[float, int]]:
    """Run ``python -m distilleval ARGV``; phase -> (seconds in it, peak tree RSS in bytes)."""
    child = subprocess.Popen([sys.executable, "-m", "distilleval", *argv], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    started = time.perf_counter()
    phases: dict[str, list[float]] = {}
    current = ["start", started]

    def sample() -> None:
        while child.poll() is None:
            rss = sum(_rss(pid) for pid in _tree(child.pid))
            entry = phases.setdefault(str(current[0]), [0.0, 0])
            entry[1] = max(entry[1], rss)
            time.sleep(0.05)

    threading.Thread(target=sample, daemon=True).start()
    assert child.stderr is not None
    for line in child.stderr:
        rss = sum(_rss(pid) for pid in _tree(child.pid))
        print(f"  {time.perf_counter() - started:7.1f} s {rss / 2**20:6.0f} MiB | {line.rstrip()[:120]}", flush=True)
        match = PHASE.match(line)
        if match and match.group(1) != current[0]:
            phases.setdefault(str(current[0]), [0.0, 0])[0] += time.perf_counter() - float(current[1])
            current[:] = [match.group(1), time.perf_counter()]
    child.wait()
    phases.setdefault(str(current[0]), [0.0, 0])[0] += time.perf_counter() - float(current[1])
    if child.returncode != 0:
        raise SystemExit(f"distilleval {' '.join(argv[:1])} exited {child.returncode}")
    return {name: (seconds, int(peak)) for name, (seconds, peak) in phases.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-phases-") as tmp, \
            _Server(["distilleval.testing.openai_server", "--answer", "billing"]) as server:
        folder = Path(tmp)
        write_data(folder / "data.jsonl", args.items)
        spec = write_spec(folder / "spec.yaml", name="bench_phases", data="data.jsonl", teacher_base=server.first_line,
                          student_base=server.first_line, gates=True)
        env = cli_env(DISTILLEVAL_CACHE=str(folder / "default-cache.sqlite"))
        common = ["--concurrency", "64", "--cache", str(folder / "cache.sqlite"), "--progress-every", "1"]
        runs = {
            "eval, fresh": ["eval", str(spec), "--out", str(folder / "runs" / "fresh"), *common],
            "eval, cached": ["eval", str(spec), "--out", str(folder / "runs" / "cached"), *common],
            "report": ["report", str(folder / "runs" / "fresh"), "--format", "md", "--out", str(folder / "report.md")],
        }
        for name, argv in runs.items():
            print(f"{name} at {args.items:,} items:", flush=True)
            for phase, (seconds, peak) in profile(argv, env).items():
                print(f"    {phase:<18} {seconds:7.1f} s, peak {peak / 2**20:6.0f} MiB")


if __name__ == "__main__":
    main()
