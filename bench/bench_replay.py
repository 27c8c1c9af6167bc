"""Benchmark: the call phase of a fully cached re-run, in one process, in CPU seconds as well as wall.

``bench_cached_rerun.py`` times whole `distilleval eval` processes and needs a fresh run first to
fill the cache (minutes at 300,000 items). This one writes the scripted ticket-routing task
(``bench_tasks``) and fills a response cache with an answer for every call directly, then times,
in this process, the three steps of a fully cached re-run that issue 27 is about:

- scan: ``EvalCalls.roles_with_misses`` (every call's key, and a look-up of each, to find the
  roles that need a real backend);
- replay: ``EvalCalls.calls`` into a new run store (every hit written, no call made);
- results: ``RunStore.results`` of each role (what the summary reads back).

CPU seconds (``time.process_time``) move less than the wall clock on a shared machine. ``gc.freeze()``
is called after the items are loaded, as ``eval`` does. Run it with the checkout to time on the
path (``PYTHONPATH=/path/to/checkout``) for a before/after figure.

    python bench/bench_replay.py --items 100000 [--items 300000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_tasks import write_data, write_spec  # noqa: E402

from distilleval.backends.base import Completion  # noqa: E402
from distilleval.pipeline.eval_calls import EvalCalls  # noqa: E402
from distilleval.pipeline.preflight import check_eval_inputs  # noqa: E402
from distilleval.run.cache import ResponseCache  # noqa: E402
from distilleval.run.store import RunStore  # noqa: E402
from distilleval.spec.task_spec import load_spec  # noqa: E402

ROLES = ["teacher", "student"]


def make_task(folder: Path, n_items: int) -> None:
    """The task's data, spec and a cache answering every call (skipped when ``folder`` has them)."""
    if (folder / "cache.sqlite").is_file():
        return
    folder.mkdir(parents=True, exist_ok=True)
    write_data(folder / "data.jsonl", n_items)
    write_spec(folder / "spec.yaml", name="bench_replay", data="data.jsonl", teacher_base="http://127.0.0.1:9/v1",
               student_base="http://127.0.0.1:9/v1", gates=True)
    spec = load_spec(folder / "spec.yaml")
    calls = EvalCalls(spec, check_eval_inputs(spec).evaluate, ROLES)
    with ResponseCache(folder / "cache.sqlite") as cache:
        for chunk in calls.keyed_chunks(calls.model_ids):
            for role in ROLES:
                cache.put_many(calls.model_ids[role], [
                    (key, Completion("billing", 40 + n % 7, 1, 100.0 + n % 50, 0.0001))
                    for n, (_, called, _, key, _, _) in enumerate(chunk) if called == role])


def _clock() -> tuple[float, float]:
    return time.process_time(), time.perf_counter()


def measure(folder: Path) -> dict[str, float]:
    """CPU and wall seconds of the scan, the replay and reading the results back, with the counts."""
    spec = load_spec(folder / "spec.yaml")
    calls = EvalCalls(spec, check_eval_inputs(spec).evaluate, ROLES)
    gc.freeze()
    figures: dict[str, float] = {"calls": len(calls)}
    cpu, wall = _clock()
    missing = calls.roles_with_misses(folder / "cache.sqlite")
    if missing:
        raise SystemExit(f"the cache does not answer every call of {sorted(missing)}")
    (scan_cpu, scan_wall), hits = _clock(), [0]

    def counted(role: str, count: int) -> None:
        hits[0] += count

    with tempfile.TemporaryDirectory() as run_dir, ResponseCache(folder / "cache.sqlite") as cache, \
            RunStore(run_dir) as store:
        misses = sum(1 for _ in calls.calls(cache, store, calls.model_ids, on_hits=counted))
        store.flush()
        replay_cpu, replay_wall = _clock()
        rows = sum(len(store.results(role)) for role in ROLES)
        results_cpu, results_wall = _clock()
    if misses or hits[0] != rows or rows != len(calls):
        raise SystemExit(f"not a fully cached replay: {misses} misses, {hits[0]} hits, {rows} rows")
    figures.update(scan_cpu=scan_cpu - cpu, scan_wall=scan_wall - wall, replay_cpu=replay_cpu - scan_cpu,
                   replay_wall=replay_wall - scan_wall, results_cpu=results_cpu - replay_cpu,
                   results_wall=results_wall - replay_wall,
                   peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, action="append", help="items (repeatable; default 10000)")
    parser.add_argument("--keep", type=Path, help="keep the tasks and caches under this folder (made once, reused)")
    args = parser.parse_args()
    for n in args.items or [10_000]:
        with tempfile.TemporaryDirectory() as tmp:
            folder = (args.keep or Path(tmp)) / f"replay-{n}"
            make_task(folder, n)
            row = measure(folder)
        calls = row["calls"]
        print(f"{n:,} items, {calls:,.0f} cached calls; peak RSS {row['peak_rss_mib']:,.0f} MiB")
        for step in ("scan", "replay", "results"):
            print(f"  {step:<8} CPU {row[step + '_cpu']:6.2f} s = {calls / row[step + '_cpu']:9,.0f} calls/CPU-s;"
                  f" wall {row[step + '_wall']:6.2f} s = {calls / row[step + '_wall']:9,.0f} calls/s", flush=True)
        both = row["scan_cpu"] + row["replay_cpu"]
        print(f"  scan + replay CPU {both:6.2f} s = {n / both:9,.0f} items/CPU-s")


if __name__ == "__main__":
    main()
