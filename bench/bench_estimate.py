"""Benchmark `distilleval estimate` at scale: 150,000 items under the ticket-routing rubric.

Writes a temporary copy of specs/ticket_routing whose data file holds N messages (the
example's own messages, each with a numbered suffix so none repeats), then times:
  * the whole `distilleval estimate SPEC --format json` command, in a fresh process;
  * counting every item's teacher request the fast way (the rubric's fixed ends counted once,
    costs/estimates.input_token_counts) against counting each rendered request whole, on the
    first --compare items, and checks that both give the same numbers.
Timings on a shared machine are noisy: read the ratio, measured side by side.

Run: python bench/bench_estimate.py [--items 150000] [--compare 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def make_spec(folder: Path, n_items: int) -> Path:
    """A copy of the ticket-routing spec over ``n_items`` messages; returns the spec path."""
    source = REPO / "specs" / "ticket_routing"
    for name in ("spec.yaml", "rubric.md"):
        shutil.copy(source / name, folder / name)
    spec_text = (folder / "spec.yaml").read_text(encoding="utf-8").replace("../../pricing/", f"{REPO}/pricing/")
    (folder / "spec.yaml").write_text(spec_text, encoding="utf-8")
    rows = [json.loads(line) for line in (source / "data.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    with (folder / "data.jsonl").open("w", encoding="utf-8") as handle:
        for n in range(n_items):
            row = dict(rows[n % len(rows)])
            row["id"] = f"r{n}"
            row["message"] = f"{row['message']} (ref {n})"
            handle.write(json.dumps(row) + "\n")
    return folder / "spec.yaml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=150_000)
    parser.add_argument("--compare", type=int, default=5_000, help="items counted both ways for the ratio")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        spec_path = make_spec(Path(tmp), args.items)
        env = dict(os.environ, PYTHONPATH=str(REPO))
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "distilleval", "estimate", str(spec_path), "--format", "json"],
                       check=True, capture_output=True, env=env)
        print(f"distilleval estimate over {args.items:,} items: {time.perf_counter() - started:.1f} s (fresh process)")

        from distilleval.costs.estimates import input_token_counts
        from distilleval.costs.tokens import count_message_tokens
        from distilleval.spec.data import load_items
        from distilleval.spec.messages import build_messages
        from distilleval.spec.task_spec import load_spec

        spec = load_spec(spec_path)
        items = load_items(spec)[: args.compare]
        started = time.perf_counter()
        fast = input_token_counts(spec, "teacher", items)
        fast_s = time.perf_counter() - started
        started = time.perf_counter()
        slow = [count_message_tokens(build_messages(spec.teacher, item, embed_images=False)) for item in items]
        slow_s = time.perf_counter() - started
        assert fast == slow, "fast and whole-request counts differ"
        print(f"teacher requests of {len(items):,} items: fixed ends once {fast_s:.2f} s, each request whole "
              f"{slow_s:.2f} s (x{slow_s / fast_s:.1f}); counts identical")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
