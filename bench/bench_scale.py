"""Benchmark: wall time and peak memory of the distilleval CLI as the eval split grows.

For each size in ``--items`` it writes the scripted ticket-routing task (``bench_tasks``) and
runs, each as its own ``python -m distilleval`` process:

- ``eval`` on the fast path at concurrency 64, writing a fresh response cache;
- ``eval`` again over that cache (every answer a cache hit, no call made);
- ``eval --batch`` through the OpenAI Batch API double (requests of 50,000 at most a batch);
- ``report`` (markdown), ``gate`` without and with ``--baseline`` (the cached re-run), and
  ``estimate --offline``;
- only when asked (``--steps ... eval-litellm``: LiteLLM answers a few hundred calls a second on 2
  cores), ``eval`` through the LiteLLM route (``fast_path: false``, its worker processes), no cache.
  Its line adds the workers' RSS at start-up (summed 5 s after the first worker appeared: LiteLLM
  imported, calls begun) and the tree's peak beyond it, the figure the issue bounds.

The test servers (``distilleval.testing.openai_server`` and ``batch_servers``) run in their own
processes and are not measured. Memory is the peak, over the command's life, of the summed
resident set size of the distilleval process and all its descendants (LiteLLM workers
included), sampled from /proc every 50 ms; the kernel's exact peak of the largest single process
(``ru_maxrss`` from ``wait4``) is printed beside it. Summing RSS counts pages shared between a
parent and its forked workers once per process, so the tree figure errs high.

Then, between the two largest sizes, the slope per item (bytes/item of peak memory, µs/item of
wall time), and, when both 100,000 and 1,000,000 ran, the memory ratio 1M / 100k (1.0 is flat).

    python bench/bench_scale.py                      # 10,000 and 100,000 items
    python bench/bench_scale.py --items 1000000 --steps eval-fast --merge-json scale.json
    python bench/bench_scale.py --json-out scale.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_tasks import REPO, cli_env, write_data, write_spec  # noqa: E402

STEPS = ("eval-fast", "eval-cached", "eval-batch", "report", "gate", "gate-baseline", "estimate", "eval-litellm")
DEFAULT_STEPS = STEPS[:-1]
WORKERS_SETTLE_S = 5.0
PAGE = os.sysconf("SC_PAGE_SIZE")
SAMPLE_S = 0.05


@dataclass
class Measured:
    """One command at one size."""

    step: str
    items: int
    status: int
    wall_s: float
    tree_peak_rss: int  # bytes, sampled
    max_single_rss: int  # bytes, kernel
    workers_startup_rss: int = 0  # bytes: the descendants' RSS WORKERS_SETTLE_S after the first appeared (0: none)


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (every thread's list), [] once it is gone."""
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found.extend(int(child) for child in handle.read().split())
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return found


def _tree(pid: int) -> Iterator[int]:
    """``pid`` and all its descendants."""
    pending = [pid]
    while pending:
        current = pending.pop()
        yield current
        pending.extend(_children(current))


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * PAGE
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0


def _kill_tree(pid: int) -> None:
    for member in reversed(list(_tree(pid))):
        try:
            os.kill(member, signal.SIGKILL)
        except ProcessLookupError:
            pass


def run_measured(step: str, items: int, argv: list[str], *, cwd: Path, env: dict[str, str],
                 rss_limit: int | None = None) -> Measured:
    """Run ``python -m distilleval ARGV``, sampling its process tree's RSS until it exits.

    Past ``rss_limit`` bytes the tree is killed (SIGKILL, exit -9): a guard for a shared machine.
    """
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "distilleval", *argv], cwd=cwd, env=env,
                                 stdout=subprocess.DEVNULL, stderr=stderr)
        peak, killed = 0, False
        workers_seen_at: float | None = None
        workers_startup = 0
        while True:
            waited, status, usage = os.wait4(child.pid, os.WNOHANG)
            if waited:
                break
            members = list(_tree(child.pid))
            peak = max(peak, sum(_rss(pid) for pid in members))
            if len(members) > 1 and workers_seen_at is None:
                workers_seen_at = time.perf_counter()
            if workers_seen_at is not None and not workers_startup and time.perf_counter() - workers_seen_at >= WORKERS_SETTLE_S:
                workers_startup = sum(_rss(pid) for pid in members[1:])
            if rss_limit is not None and peak > rss_limit and not killed:
                killed = True
                sys.stderr.write(f"{step} at {items:,} items: tree RSS {peak / 2**20:.0f} MiB passed the limit "
                                 f"after {time.perf_counter() - started:.0f} s; killed\n")
                _kill_tree(child.pid)
            time.sleep(SAMPLE_S)
        wall_s = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        max_single = usage.ru_maxrss * 1024
        acceptable = (0, 1) if step.startswith("gate") else (0,)  # gate exits 1 when a check fails
        if child.returncode not in acceptable:
            stderr.seek(0)
            tail = stderr.read().decode(errors="replace")[-1500:]
            sys.stderr.write(f"{step} at {items:,} items exited {child.returncode}:\n{tail}\n")
    return Measured(step, items, child.returncode, wall_s, max(peak, max_single), max_single, workers_startup)


class _Server:
    """A test server module run in its own process; the first line it prints says where it listens."""

    def __init__(self, argv: list[str]):
        self.argv = argv
        self.process: subprocess.Popen[str] | None = None
        self.first_line = ""

    def __enter__(self) -> "_Server":
        self.process = subprocess.Popen([sys.executable, "-m", *self.argv], stdout=subprocess.PIPE, text=True,
                                        env=cli_env())
        self.first_line = (self.process.stdout.readline() if self.process.stdout else "").strip()
        if not self.first_line:
            self.process.kill()
            raise SystemExit(f"the test server {self.argv[0]} did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)


def measure_size(items: int, steps: tuple[str, ...], progress_every: float, rss_limit: int | None) -> list[Measured]:
    """Every selected step at ``items`` items, in a fresh folder."""
    chat = _Server(["distilleval.testing.openai_server", "--answer", "billing"])
    batch = _Server(["distilleval.testing.batch_servers", "--polls", "1", "--answer", "billing"])
    rows: list[Measured] = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp, chat, batch:
        folder = Path(tmp)
        write_data(folder / "data.jsonl", items)
        spec = write_spec(folder / "spec.yaml", name="bench_scale", data="data.jsonl", teacher_base=chat.first_line,
                          student_base=chat.first_line, gates=True)
        litellm_spec = write_spec(folder / "spec_litellm.yaml", name="bench_scale_litellm", data="data.jsonl",
                                  teacher_base=chat.first_line, student_base=chat.first_line, fast_path=False)
        batch_base = f"http://127.0.0.1:{batch.first_line}/v1"
        batch_spec = write_spec(folder / "spec_batch.yaml", name="bench_scale_batch", data="data.jsonl",
                                teacher_base=batch_base, student_base=batch_base, student_price_as="openai/gpt-4.1-mini")
        env = cli_env(DISTILLEVAL_CACHE=str(folder / "default-cache.sqlite"))
        progress = ["--progress-every", str(progress_every)]
        fast = ["--concurrency", "64", "--cache", str(folder / "cache.sqlite"), *progress]
        commands = {
            "eval-fast": ["eval", str(spec), "--out", str(folder / "runs" / "fast"), *fast],
            "eval-cached": ["eval", str(spec), "--out", str(folder / "runs" / "cached"), *fast],
            "eval-batch": ["eval", str(batch_spec), "--batch", "--batch-poll", "0.2", "--no-cache",
                           "--out", str(folder / "runs" / "batch"), *progress],
            "report": ["report", str(folder / "runs" / "fast"), "--format", "md", "--out", str(folder / "report.md")],
            "gate": ["gate", str(folder / "runs" / "fast")],
            "gate-baseline": ["gate", str(folder / "runs" / "fast"), "--baseline", str(folder / "runs" / "cached")],
            "estimate": ["estimate", str(spec), "--offline", "--format", "json"],
            "eval-litellm": ["eval", str(litellm_spec), "--concurrency", "64", "--no-cache",
                             "--out", str(folder / "runs" / "litellm"), *progress],
        }
        for step in steps:
            row = run_measured(step, items, commands[step], cwd=folder, env=env, rss_limit=rss_limit)
            rows.append(row)
            print(f"  {step:<14} {items:>9,} items: {row.wall_s:8.1f} s, tree peak {row.tree_peak_rss / 2**20:7.0f} MiB"
                  f" (largest process {row.max_single_rss / 2**20:.0f} MiB), exit {row.status}"
                  + (f"; workers at start-up {row.workers_startup_rss / 2**20:.0f} MiB, peak beyond them "
                     f"{(row.tree_peak_rss - row.workers_startup_rss) / 2**20:.0f} MiB" if row.workers_startup_rss else ""),
                  flush=True)
    return rows


def print_table(rows: list[Measured], sizes: list[int], steps: tuple[str, ...]) -> None:
    """The wall time and peak memory of every step at every size, and the per-item slopes."""
    by = {(r.step, r.items): r for r in rows}
    cells = "".join(f" | {n:,} items: s, MiB" for n in sizes)
    slope = " | µs/item | bytes/item" if len(sizes) > 1 else ""
    ratio = " | RSS 1M/100k" if {100_000, 1_000_000} <= set(sizes) else ""
    print(f"\n| step{cells}{slope}{ratio} |")
    print("|---" * (1 + len(sizes) + (2 if slope else 0) + (1 if ratio else 0)) + "|")
    for step in steps:
        line = f"| {step}"
        for n in sizes:
            r = by[step, n]
            mark = "" if r.status == 0 else f" (exit {r.status})"
            line += f" | {r.wall_s:.1f} s, {r.tree_peak_rss / 2**20:.0f} MiB{mark}"
        if slope:
            small, large = by[step, sizes[-2]], by[step, sizes[-1]]
            span = large.items - small.items
            line += f" | {(large.wall_s - small.wall_s) / span * 1e6:.1f} | {(large.tree_peak_rss - small.tree_peak_rss) / span:.0f}"
        if ratio:
            line += f" | {by[step, 1_000_000].tree_peak_rss / by[step, 100_000].tree_peak_rss:.2f}"
        print(line + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, nargs="+", default=[10_000, 100_000],
                        help="sizes (default 10000 100000; add 1000000 to measure a million)")
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=list(DEFAULT_STEPS),
                        help="which commands (default all but eval-litellm; report, gate and cached re-run need eval-fast)")
    parser.add_argument("--progress-every", type=float, default=60.0)
    parser.add_argument("--json-out", type=Path, help="also write every measurement here as JSON")
    parser.add_argument("--merge-json", type=Path, action="append", default=[],
                        help="an earlier --json-out: its sizes not measured now join the table (e.g. 100k beside a 1M run)")
    parser.add_argument("--rss-limit-mib", type=float, help="kill a command whose tree RSS passes this (shared machines)")
    args = parser.parse_args()
    sizes = sorted(set(args.items))
    steps = tuple(s for s in STEPS if s in args.steps)
    load = os.getloadavg()[0]
    print(f"load average {load:.2f} on {os.cpu_count()} cores; python {sys.version.split()[0]}; repo {REPO}", flush=True)
    rows: list[Measured] = []
    for items in sizes:
        limit = None if args.rss_limit_mib is None else int(args.rss_limit_mib * 2**20)
        rows.extend(measure_size(items, steps, args.progress_every, limit))
    for earlier in args.merge_json:
        kept = [Measured(**row) for row in json.loads(earlier.read_text())]
        rows.extend(r for r in kept if r.items not in sizes and r.step in steps)
    measured = {(r.step, r.items) for r in rows}
    sizes = sorted({r.items for r in rows if all((step, r.items) in measured for step in steps)})
    print_table(rows, sizes, steps)
    print(f"\nthis process's own peak RSS (not counted above): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    if args.json_out:
        args.json_out.write_text(json.dumps([asdict(r) for r in rows], indent=1) + "\n")


if __name__ == "__main__":
    main()
