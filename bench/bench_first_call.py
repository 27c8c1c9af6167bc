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
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from distilleval.testing.openai_server import ModelScript, OpenAIServer  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def _write_task(folder: Path, base_url: str, n_items: int) -> Path:
    with (folder / "data.jsonl").open("w") as handle:
        for i in range(n_items):
            label = ("billing", "technical", "other")[i % 3]
            handle.write(json.dumps({"id": f"t{i}", "message": f"ticket #{i} about {label}", "label": label,
                                     "split": "eval"}) + "\n")
    (folder / "spec.yaml").write_text(f"""name: bench_first_call
data: {{path: data.jsonl, input: {{text: message}}, gold: label, id: id, split: {{column: split}}}}
output: {{kind: label, labels: [billing, technical, other]}}
scorer: exact_match
teacher:
  model: openai/teacher-m
  prompt: "Route the ticket to billing, technical or other.\\nTicket: {{text}}"
  api_base: {base_url}
  price_as: anthropic/claude-opus-4-6
  fast_path: true
student:
  model: openai/student-m
  prompt: "{{text}}"
  api_base: {base_url}
  price_as: tinker/lora
  fast_path: true
""")
    return folder / "spec.yaml"


def measure(n_items: int, progress_every: float) -> dict[str, float]:
    """Seconds to the first call, of calls, from the last result to the exit, and in all."""
    scripts = {"teacher-m": ModelScript(answer="billing"), "student-m": ModelScript(answer="billing")}
    with tempfile.TemporaryDirectory() as tmp, OpenAIServer(scripts) as server:
        folder = Path(tmp)
        spec = _write_task(folder, server.base_url, n_items)
        argv = [sys.executable, "-m", "distilleval", "eval", str(spec), "--runs-dir", str(folder / "runs"),
                "--no-cache", "--concurrency", "64", "--progress-every", str(progress_every)]
        env = {**os.environ, "PYTHONPATH": str(REPO), "LITELLM_OFFLINE_MODE": "true"}
        started = time.monotonic()
        child = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True)
        exited = time.monotonic()
        if child.returncode != 0:
            raise SystemExit(f"eval exited {child.returncode}: {child.stderr[-2000:]}")
        log = server.requests_for("teacher-m") + server.requests_for("student-m")
        first = min(r.received_at for r in log)
        last = max(r.finished_at or r.received_at for r in log)
        sys.stderr.write(child.stderr)
        return {"items": n_items, "calls": len(log), "first_call_s": first - started, "calls_s": last - first,
                "last_result_to_exit_s": exited - last, "wall_s": exited - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, action="append", help="items per run (repeatable; default 10000)")
    parser.add_argument("--progress-every", type=float, default=5.0)
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    for n in args.items or [10_000]:
        row = measure(n, args.progress_every)
        print(f"{row['items']:>9,} items, {row['calls']:,} calls: first call after {row['first_call_s']:.1f} s, "
              f"calls {row['calls_s']:.1f} s, last result to exit {row['last_result_to_exit_s']:.1f} s, "
              f"wall {row['wall_s']:.1f} s", flush=True)


if __name__ == "__main__":
    main()
