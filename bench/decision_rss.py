"""Peak memory of ``eval``'s decision step alone: ``record_decision`` on a run folder, with the items loaded
as ``eval`` holds them (the tokenizer warmed first: its tables are a fixed cost).

    python bench/decision_rss.py RUN_DIR    # rewrites RUN_DIR/summary.json: use a copy of the run

Prints the process's resident size before the step and its peak over the step (Linux: the peak is
reset through /proc/self/clear_refs).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def _memory() -> dict[str, str]:
    with open("/proc/self/status") as status:
        fields = (line.split(":", 1) for line in status)
        return {key: value.strip() for key, value in fields if key in ("VmHWM", "VmRSS")}


def main(run: Path) -> None:
    """Load the run's items, then record its decision, and print the memory before and over it."""
    from distilleval.costs.tokens import count_tokens
    from distilleval.pipeline.decision import record_decision
    from distilleval.spec.data import load_items
    from distilleval.spec.resolved import load_resolved_spec

    items = load_items(load_resolved_spec(run / "spec.resolved.yaml"))
    count_tokens("warm the tokenizer")
    before = _memory()
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    started = time.perf_counter()
    recorded = record_decision(run, items=items)
    print(f"{len(items):,} items; decision recorded: {recorded}; {time.perf_counter() - started:.1f} s; "
          f"before {before['VmRSS']}; peak over the step {_memory()['VmHWM']}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
