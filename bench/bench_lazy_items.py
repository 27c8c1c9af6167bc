"""Benchmark: ``check_eval_inputs`` on a large data file, its items held lazily or as a list, side by side.

Issue 27 bounds an eval's memory at a million items; the items were most of it (about 420 bytes
each as ``Item`` objects). ``spec.lazy_items.load_items_lazily`` keeps a few numbers a row instead
and reads each item again when it is used. For each way this runs ``check_eval_inputs`` in a fresh
process (so the figures are its own) on the same data file and prints the wall and CPU seconds of
loading and checking, the RSS after it, the process's peak RSS, and the CPU seconds of one pass over
every item (what each pass of an eval over the items costs: the lazy way reads each line again).

    python bench/bench_lazy_items.py --items 1000000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_tasks import write_task  # noqa: E402

_CHILD = """
import json, os, resource, sys, time
from distilleval.spec import lazy_items
from distilleval.spec.task_spec import load_spec
from distilleval.pipeline.preflight import check_eval_inputs
if sys.argv[2] == "list":
    lazy_items.LAZY_FROM = 10**12
spec = load_spec(sys.argv[1])
def rss():
    return next(int(l.split()[1]) for l in open(f"/proc/{os.getpid()}/status") if l.startswith("VmRSS")) / 1024
wall, cpu = time.perf_counter(), time.process_time()
checked = check_eval_inputs(spec)
loaded = {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu, "rss_mib": rss()}
cpu = time.process_time()
for item in checked.items:
    pass
loaded["pass_cpu_s"] = time.process_time() - cpu
loaded["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
loaded["kind"] = type(checked.items).__name__
print(json.dumps(loaded))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        spec = write_task(folder, "http://127.0.0.1:9/v1", args.items, name="lazy")
        found = {}
        for way in ("list", "lazy"):
            done = subprocess.run([sys.executable, "-c", _CHILD, str(spec), way], capture_output=True, text=True,
                                  check=True, cwd=REPO)
            found[way] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"check_eval_inputs over {args.items:,} items")
    print(f"{'':6} {'wall s':>7} {'CPU s':>6} {'RSS MiB':>8} {'peak MiB':>9} {'pass CPU s':>11}  items")
    for way, got in found.items():
        print(f"{way:6} {got['wall_s']:7.2f} {got['cpu_s']:6.2f} {got['rss_mib']:8.0f} {got['peak_mib']:9.0f} "
              f"{got['pass_cpu_s']:11.2f}  {got['kind']}")
    listed, lazy = found["list"], found["lazy"]
    print(f"lazy / list: CPU {lazy['cpu_s'] / listed['cpu_s']:.2f}x, RSS after loading "
          f"{lazy['rss_mib'] / listed['rss_mib']:.2f}x, one pass over the items {lazy['pass_cpu_s'] / listed['pass_cpu_s']:.1f}x")


if __name__ == "__main__":
    main()
