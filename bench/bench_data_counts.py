"""Benchmark: the decision step's count of the data (``report.data_counts.count_data``) and its reuse.

A run counts every item's teacher and student request and gold answer when it records its decision.
This times, in one process and in CPU seconds, side by side on the same items:

- per item: each request's messages built and counted one by one (how ``count_data`` counted before);
- count_data: the counts as a run makes them now (prompts rendered, each distinct text encoded once);
- reuse: what a later run over the same spec and data pays instead (``counts_key`` and ``earlier_counts``,
  with the data file's sha256 the decision computes anyway left out).

    python bench/bench_data_counts.py --items 100000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_tasks import write_task  # noqa: E402

from distilleval.costs.tokens import count_message_tokens  # noqa: E402
from distilleval.report import data_counts  # noqa: E402
from distilleval.results.summary_json import Summary  # noqa: E402
from distilleval.spec.data import load_items  # noqa: E402
from distilleval.spec.messages import build_messages  # noqa: E402
from distilleval.spec.task_spec import load_spec  # noqa: E402


def per_item(spec, items) -> int:
    """Every item's teacher and student request, its messages built and counted one at a time."""
    total = 0
    for role in ("teacher", "student"):
        model = spec.models()[role]
        total += sum(count_message_tokens(build_messages(model, item, (), embed_images=False)) for item in items)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        spec = load_spec(write_task(folder, "http://127.0.0.1:9/v1", args.items, name="bench_counts"))
        items = load_items(spec)
        limits = {"teacher": len(items), "student": len(items)}
        count_message_tokens(build_messages(spec.teacher, items[0], ()))  # the tokenizer loaded before timing
        start = time.process_time()
        slow = per_item(spec, items)
        old = time.process_time() - start
        start = time.process_time()
        counts = data_counts.count_data(spec, items, limits)
        new = time.process_time() - start
        if counts.eval_input_tokens["teacher"].total + counts.eval_input_tokens["student"].total != slow:
            raise SystemExit("count_data and the per-item count disagree")
        key = data_counts.counts_key(spec, limits, "0" * 64)
        assert key is not None
        runs = folder / "runs"
        (runs / "earlier").mkdir(parents=True)
        summary = Summary.model_construct(spec_data=counts.model_copy(update={"counted_with": key}))
        (runs / "earlier" / "summary.json").write_text(summary.model_dump_json(include={"spec_data"}))
        start = time.process_time()
        found = data_counts.earlier_counts(runs, data_counts.counts_key(spec, limits, "0" * 64) or "")
        reuse = time.process_time() - start
        assert found is not None
    print(f"{args.items:,} items, teacher and student requests (CPU seconds)")
    print(f"  per item    {old:6.2f} s")
    print(f"  count_data  {new:6.2f} s = {old / new:5.1f}x faster")
    print(f"  reuse       {reuse:6.3f} s = {old / reuse:5.0f}x faster")


if __name__ == "__main__":
    main()
