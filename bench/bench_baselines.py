"""Benchmark the local baseline students on BANKING77 (77 intents, real customer messages).

Trains each baseline on BANKING77's train split, predicts its test split one message at a time
(as a served model would), and prints training time, per-item latency (p50/p95, microseconds),
accuracy with a 95% Wilson interval, macro-F1 and the CPU cost per request at the pricing
table's local/cpu rate.

Data: ../shared/data/banking77 (PolyAI, CC-BY-4.0), found via DISTILLEVAL_SHARED_DATA, then
<repo>/../shared/data, then /work/shared/data. Not copied into the repository.

Then the same for the in-repo specs/ticket_routing example (train split -> eval split, whose
eval holds phrasings never seen in training), through the spec-driven interface the eval
command uses (train_baseline + predict_items).

Run: python bench/bench_baselines.py [--limit-train N]
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import statistics
import sys
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


def read_split(path: Path) -> tuple[list[str], list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [r["text"] for r in rows], [r["category"] for r in rows]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit-train", type=int, default=None, help="train on the first N training messages")
    args = parser.parse_args()
    data_dir = shared_data_dir()
    if data_dir is None:
        print("BANKING77 not found (set DISTILLEVAL_SHARED_DATA); skipping it")
    else:
        bench_banking77(data_dir, args.limit_train)
    bench_ticket_routing()
    return 0


def print_table(rows: list[tuple]) -> None:
    header = f"{'baseline':<18}{'train s':>9}{'p50 us':>9}{'p95 us':>9}{'accuracy':>10}{'95% Wilson':>18}{'macro-F1':>10}{'$/request (p50)':>17}"
    print(header)
    for kind, train_s, p50, p95, acc, low, high, f1, cost in rows:
        print(f"{kind:<18}{train_s:>9.2f}{p50:>9.0f}{p95:>9.0f}{acc:>10.4f}{f'[{low:.4f}, {high:.4f}]':>18}{f1:>10.4f}{cost:>17.2e}")
    (tf, wl) = rows
    print(f"ratios tfidf/wordllama: train time x{tf[1] / wl[1]:.2f}, p50 latency x{tf[2] / wl[2]:.2f}, "
          f"accuracy {tf[4] - wl[4]:+.4f}")


def bench_ticket_routing() -> None:
    """Both baselines on the ticket-routing example spec, via train_baseline / predict_items."""
    from sklearn.metrics import f1_score

    from distilleval.baselines import train_baseline
    from distilleval.costs.pricing import load_pricing
    from distilleval.results.statistics import wilson_interval
    from distilleval.spec.data import load_items, split_items
    from distilleval.spec.task_spec import load_spec

    spec = load_spec(REPO / "specs" / "ticket_routing" / "spec.yaml")
    items = load_items(spec, require_gold=True)
    train, evaluation = split_items(items, "train"), split_items(items, "eval")
    cpu_usd_per_hour = load_pricing(spec.resolve(spec.pricing)).price_for("local/cpu").cpu_usd_per_hour
    print(f"\nspecs/ticket_routing: {len(train)} train / {len(evaluation)} eval items, {len(spec.output.labels)} queues")
    rows = []
    for baseline in spec.baselines:
        trained = train_baseline(baseline, train, seed=0)
        outputs = trained.predict_items(evaluation, cpu_usd_per_hour=cpu_usd_per_hour)
        predictions = [o.text for o in outputs]
        gold = [item.gold for item in evaluation]
        latencies_us = [o.latency_ms * 1000.0 for o in outputs]
        correct = sum(p == g for p, g in zip(predictions, gold))
        low, high = wilson_interval(correct, len(gold))
        rows.append((trained.kind, trained.train_seconds, statistics.median(latencies_us), percentile(latencies_us, 0.95),
                     correct / len(gold), low, high, f1_score(gold, predictions, average="macro"),
                     statistics.median(o.cost_usd for o in outputs)))
    print_table(rows)


def bench_banking77(data_dir: Path, limit_train: int | None) -> None:
    """Both baselines on BANKING77: train split -> test split, one prediction at a time."""
    from sklearn.metrics import f1_score

    from distilleval.baselines.base import single_thread
    from distilleval.baselines.tfidf_logreg import train_tfidf_logreg
    from distilleval.baselines.wordllama_logreg import train_wordllama_logreg
    from distilleval.costs.cost_model import cpu_cost_per_request_usd
    from distilleval.costs.pricing import load_pricing
    from distilleval.results.statistics import wilson_interval

    train_texts, train_labels = read_split(data_dir / "banking77" / "train.csv")
    test_texts, test_labels = read_split(data_dir / "banking77" / "test.csv")
    if limit_train:
        train_texts, train_labels = train_texts[:limit_train], train_labels[:limit_train]
    cpu_usd_per_hour = load_pricing(REPO / "pricing" / "2026-02.yaml").price_for("local/cpu").cpu_usd_per_hour
    print(f"BANKING77: {len(train_texts)} train / {len(test_texts)} test messages, "
          f"{len(set(train_labels))} intents; cpu price ${cpu_usd_per_hour}/h; {os.cpu_count()} cores")

    rows = []
    for trainer in (train_tfidf_logreg, train_wordllama_logreg):
        trained = trainer(train_texts, train_labels, seed=0)
        predictions, latencies_us = [], []
        with single_thread():
            for text in test_texts:
                started = time.perf_counter()
                predictions.append(trained.predict_text(text))
                latencies_us.append((time.perf_counter() - started) * 1e6)
        correct = sum(p == g for p, g in zip(predictions, test_labels))
        accuracy = correct / len(test_labels)
        low, high = wilson_interval(correct, len(test_labels))
        macro_f1 = f1_score(test_labels, predictions, average="macro")
        p50 = statistics.median(latencies_us)
        rows.append((trained.kind, trained.train_seconds, p50, percentile(latencies_us, 0.95), accuracy, low, high,
                     macro_f1, cpu_cost_per_request_usd(cpu_usd_per_hour, p50 / 1e6)))

    print_table(rows)


if __name__ == "__main__":
    raise SystemExit(main())
