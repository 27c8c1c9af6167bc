"""Benchmark `distilleval label --batch`: a large label job built, submitted and mapped back.

A local batch server (``distilleval.testing.batch_servers``) runs in its own process on
127.0.0.1, so the figures are the client's: the whole `distilleval label --batch` command run in
this process (spec and pool loaded, prompts rendered, request files written, submitted,
polled, results downloaded, mapped back to items, written to the run store and the response
cache, labels checked and the training file written). It prints the command's progress lines,
its wall time, items per second, and this process's peak resident memory (the server's is not
counted).

The pool is BANKING77's training texts (../shared/data/banking77, PolyAI, CC-BY-4.0), cycled and
numbered up to ``--items`` so every prompt (and cache key) is distinct; without the data set, a
synthetic pool of short tickets. OpenAI takes at most 50,000 requests per batch, so 100,000
items go as two batches; ``--provider anthropic`` sends one.

Run: python bench/bench_batch.py [--items 10000] [--provider openai|anthropic]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def shared_data_dir() -> Path | None:
    """The shared data folder, or None when it is not on this machine."""
    candidates = [os.environ.get("DISTILLEVAL_SHARED_DATA"), REPO.parent / "shared" / "data", "/work/shared/data"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "banking77" / "train.csv").is_file():
            return Path(candidate)
    return None


def pool_texts(n: int) -> tuple[list[str], str]:
    """``n`` distinct input texts and where they came from."""
    data = shared_data_dir()
    if data is None:
        return [f"ticket {i}: my card was charged twice for one order" for i in range(n)], "synthetic tickets"
    with (data / "banking77" / "train.csv").open(encoding="utf-8", newline="") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    return [f"{texts[i % len(texts)]} (#{i})" for i in range(n)], f"BANKING77 train texts ({len(texts)}), cycled"


def peak_rss_mib() -> float:
    """This process's peak resident set size in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000, help="pool size (default 10,000; the figure: 100000)")
    parser.add_argument("--provider", choices=["openai", "anthropic"], default="openai")
    args = parser.parse_args()

    from distilleval.cli.main import main as distilleval_main

    rss_at_start = peak_rss_mib()
    server = subprocess.Popen(
        [sys.executable, "-m", "distilleval.testing.batch_servers", "--polls", "1", "--answer", "billing"],
        stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    try:
        port = int(server.stdout.readline())
        base = f"http://127.0.0.1:{port}" + ("/v1" if args.provider == "openai" else "")
        with tempfile.TemporaryDirectory() as folder:
            tmp = Path(folder)
            texts, source = pool_texts(args.items)
            with (tmp / "pool.jsonl").open("w", encoding="utf-8") as handle:
                for i, text in enumerate(texts):
                    handle.write(json.dumps({"id": f"p{i}", "message": text}) + "\n")
            (tmp / "data.jsonl").write_text(json.dumps({"id": "g0", "message": "x", "label": "billing"}) + "\n")
            model, price_as = ("openai/teacher", "openai/gpt-4.1-mini") if args.provider == "openai" else (
                "anthropic/teacher", "anthropic/claude-opus-4-6")
            (tmp / "spec.yaml").write_text(
                "name: bench_batch\n"
                "data: {path: data.jsonl, input: {text: message}, gold: label, id: id}\n"
                "output: {kind: label, labels: [billing, other]}\n"
                "scorer: exact_match\n"
                f"teacher:\n  model: {model}\n  api_base: {base}\n  price_as: {price_as}\n  max_tokens: 4\n"
                "  prompt: \"Route this banking message to billing or other. Answer with one word.\\nMessage: {text}\"\n"
                "student:\n  model: tinker://bench/sampler_weights/final\n  prompt: \"{text}\"\n"
            )
            argv = ["label", str(tmp / "spec.yaml"), "--pool", str(tmp / "pool.jsonl"), "--out", str(tmp / "labels.jsonl"),
                    "--cache", str(tmp / "cache.sqlite"), "--batch", "--batch-poll", "0.2"]
            started = time.perf_counter()
            status = distilleval_main(argv)
            wall_s = time.perf_counter() - started
            summary = json.loads((tmp / "labels.summary.json").read_text())
            request_bytes = sum(p.stat().st_size for p in (tmp / "labels.batch").glob("batch-*.jsonl"))
    finally:
        server.terminate()
        server.wait(timeout=10)

    print()
    print(f"pool: {args.items:,} items ({source}); provider shape: {args.provider}; exit status {status}")
    print(f"labelled {summary['labelled']:,}, quarantined {summary['quarantined']:,}; "
          f"spent ${summary['spent_usd']:.4f} at the batch tier ({summary['pricing_table']})")
    print(f"request files: {request_bytes / 2**20:.1f} MiB")
    print(f"wall time: {wall_s:.1f} s ({args.items / wall_s:,.0f} items/s), including the server's 2 polls "
          "(0.2 s + 0.3 s waits)")
    print(f"peak RSS of this process: {peak_rss_mib():.0f} MiB (at start, before the job: {rss_at_start:.0f} MiB)")
    print("timings measured on a shared machine: noisy")


if __name__ == "__main__":
    main()
