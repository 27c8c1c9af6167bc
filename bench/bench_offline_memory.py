"""Peak memory and wall time of `distilleval run SPEC --offline` on a large training split.

A spec shaped like specs/ticket_routing (one text input, a label, both local baselines, a
teacher, a student, a candidate and a cascade) is written to a temporary folder over a data
file built from one public intent set in ../shared/data: its training texts repeated and
shuffled (seeded) up to N training rows, each row with its own id, and its test split as the
eval split. `distilleval run SPEC --offline` then runs as a subprocess while this script reads
the resident memory of that process and all its descendants (the baselines hash texts in
worker processes) from /proc 20 times a second: the peak of the whole process tree, and the
wall time.

Tuned on BANKING77 (the profile that found the costs was taken there); HWU64 is the check on
data nothing was tuned on. Measured on a shared 2-core machine (peak MiB, before -> after the
issue-23 changes; every summary figure identical but the measured CPU times and costs):
BANKING77 120k 990 -> 697, 150k 1133 -> 750; HWU64 120k 810 -> 622, 150k 970 -> 659.

Data: ../shared/data (BANKING77 and HWU64 CC-BY-4.0, SNIPS CC0; see its README), found via
DISTILLEVAL_SHARED_DATA, then <repo>/../shared/data, then /work/shared/data. Read at run time,
never copied into the repository; the script skips (exit 0) when the folder is absent.

Run: python bench/bench_offline_memory.py [--dataset banking77|hwu64|snips ...] [--rows N ...]
     [--keep-summary DIR]   (copies each run's summary.json to DIR/<dataset>-<rows>.json)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SETS = ("banking77", "hwu64", "snips")


def shared_data_dir() -> Path | None:
    """The shared data folder, or None when it is not on this machine."""
    for candidate in (os.environ.get("DISTILLEVAL_SHARED_DATA"), REPO.parent / "shared" / "data", "/work/shared/data"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def read_set(data_dir: Path, name: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]] | None:
    """(train, test) lists of (text, label) for one public set, or None when it is absent."""
    if name == "banking77":
        folder = data_dir / "banking77"
        if not (folder / "train.csv").is_file():
            return None

        def rows(path: Path) -> list[tuple[str, str]]:
            with path.open(encoding="utf-8", newline="") as handle:
                return [(r["text"], r["category"]) for r in csv.DictReader(handle)]

        return rows(folder / "train.csv"), rows(folder / "test.csv")
    path = data_dir / name / ("hwu64_kfold1.jsonl" if name == "hwu64" else "snips_2017.jsonl")
    if not path.is_file():
        return None
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    split = {"train": [], "test": []}
    for record in records:
        split[record["split"]].append((record["text"], record["label"]))
    return split["train"], split["test"]


def write_task(folder: Path, name: str, train: list[tuple[str, str]], test: list[tuple[str, str]], rows: int) -> Path:
    """Write data.jsonl (``rows`` training rows, the test split to evaluate), system.md and spec.yaml; return the spec."""
    rng = random.Random(0)
    labels = sorted({label for _, label in train + test})
    with (folder / "data.jsonl").open("w", encoding="utf-8") as handle:
        written = 0
        while written < rows:
            batch = list(train)
            rng.shuffle(batch)
            for text, label in batch[: rows - written]:
                handle.write(json.dumps({"id": f"tr-{written}", "text": text, "label": label, "split": "train"}) + "\n")
                written += 1
        for number, (text, label) in enumerate(test):
            handle.write(json.dumps({"id": f"ev-{number}", "text": text, "label": label, "split": "test"}) + "\n")
    (folder / "system.md").write_text(f"Classify the message into one of these intents: {', '.join(labels)}.\n")
    spec = {
        "name": f"{name}_offline_memory",
        "data": {"path": "data.jsonl", "input": {"text": "text"}, "gold": "label", "id": "id", "split": {"column": "split"}},
        "output": {"kind": "label", "labels": labels},
        "scorer": {"kind": "exact_match"},
        "teacher": {"model": "openai/gpt-5.2", "system": "system.md", "prompt": "Message: {text}\nIntent:", "max_tokens": 8},
        "student": {"model": "tinker://offline-memory-qwen3-8b/sampler_weights/final", "prompt": "{text}", "max_tokens": 8},
        "candidates": [{"name": "gpt-4.1-mini", "model": "openai/gpt-4.1-mini", "max_tokens": 8}],
        "baselines": ["tfidf_logreg", "wordllama_logreg"],
        "cascades": [{"first": "student", "fallback": "teacher", "delta": 0.1, "calibration_fraction": 0.5}],
        "traffic": {"volumes_per_day": [1000, 100000, 1000000], "cached_input_fraction": 0.0},
        "training": {"base_model": "Qwen/Qwen3-8B", "rank": 32},
        "pricing": str(REPO / "pricing" / "2026-02.yaml"),
    }
    path = folder / "spec.yaml"
    path.write_text(json.dumps(spec, indent=1))  # JSON is YAML
    return path


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants (Linux /proc)."""
    page = os.sysconf("SC_PAGE_SIZE")
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/statm") as handle:
                total += int(handle.read().split()[1]) * page
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    stack += [int(child) for child in handle.read().split()]
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


def run_offline(spec: Path, runs_dir: Path) -> dict:
    """Run the offline pipeline as a subprocess; its exit status, wall time and process-tree peak."""
    command = [sys.executable, "-m", "distilleval", "run", str(spec), "--offline", "--runs-dir", str(runs_dir)]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=REPO, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    peak, window_peak, lines = 0, 0, []

    def read_output() -> None:
        # Each output line stamped with the time and the tree's peak since the previous line:
        # which step of the run holds the memory.
        nonlocal window_peak
        for line in process.stdout:
            lines.append(f"{time.perf_counter() - started:7.1f} s {window_peak / 2**20:6.0f} MiB | {line.rstrip()}")
            window_peak = 0

    reader = threading.Thread(target=read_output, daemon=True)
    reader.start()
    while process.poll() is None:
        rss = tree_rss_bytes(process.pid)
        peak, window_peak = max(peak, rss), max(window_peak, rss)
        time.sleep(0.05)
    reader.join()
    return {"rc": process.returncode, "wall_s": time.perf_counter() - started, "peak_bytes": peak, "log": "\n".join(lines)}


def headline(summary: dict) -> str:
    """The scored models' metrics and the token means, as the run's summary has them."""
    parts = []
    for name, model in summary["models"].items():
        if model.get("metric"):
            parts.append(f"{name} {model['metric']['value']:.4f}")
        elif model.get("input_tokens"):
            parts.append(f"{name} in {model['input_tokens']['mean']:.2f} tok")
    return "; ".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", action="append", choices=SETS, help="public set(s) to build from (default banking77, hwu64)")
    parser.add_argument("--rows", action="append", type=int, help="training rows (default 120000 and 150000)")
    parser.add_argument("--timeline", action="store_true", help="print the run's output, each line with the peak since the last")
    parser.add_argument("--keep-summary", type=Path, default=None, metavar="DIR", help="copy each summary.json here")
    args = parser.parse_args()
    data_dir = shared_data_dir()
    if data_dir is None:
        print("skipped: ../shared/data not found (set DISTILLEVAL_SHARED_DATA)")
        return 0
    print(f"{'data set':<11}{'train rows':>11}{'eval':>6}{'peak MiB':>10}{'wall s':>8}  figures (summary.json)")
    for name in args.dataset or ["banking77", "hwu64"]:
        found = read_set(data_dir, name)
        if found is None:
            print(f"{name:<11} skipped: not in {data_dir}")
            continue
        train, test = found
        for rows in args.rows or [120_000, 150_000]:
            with tempfile.TemporaryDirectory(prefix="offline-memory-") as tmp:
                folder = Path(tmp)
                spec = write_task(folder, name, train, test, rows)
                result = run_offline(spec, folder / "runs")
                if result["rc"] != 0:
                    print(f"{name:<11}{rows:>11,} failed (exit {result['rc']}): {result['log'].strip().splitlines()[-3:]}")
                    continue
                if args.timeline:
                    print(result["log"])
                summary_path = next((folder / "runs").glob("*/summary.json"))
                summary = json.loads(summary_path.read_text(encoding="utf-8"))
                if args.keep_summary:
                    args.keep_summary.mkdir(parents=True, exist_ok=True)
                    shutil.copy(summary_path, args.keep_summary / f"{name}-{rows}.json")
                print(f"{name:<11}{rows:>11,}{len(test):>6}{result['peak_bytes'] / 2**20:>10.0f}{result['wall_s']:>8.1f}  {headline(summary)}",
                      flush=True)
    print(f"\npeak MiB: resident memory of `distilleval run SPEC --offline` and all its descendants, sampled every 50 ms "
          f"from /proc; 1 GiB = 1024 MiB; {os.cpu_count()} cores on this machine")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
