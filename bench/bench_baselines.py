"""Benchmark the local baseline students: accuracy against converged references, speed, memory.

1. On every public intent set in ../shared/data (BANKING77, HWU64, SNIPS; train split -> test
   split): each baseline's accuracy beside a converged scikit-learn reference on the same
   features (the same one-vs-rest C=10 logistic regression solved by liblinear to tol 1e-6 for
   tfidf_logreg; lbfgs to a 1e-8 gradient tolerance on the same embeddings for
   wordllama_logreg), with the difference in points. Nothing in the baselines is set from these
   data sets.
2. At scale: 150,000 training messages synthesised in memory from the three sets' training
   splits (labels kept apart per set, 148 intents; rows past the originals are copies with two
   seeded typos each), eval on their test splits. Each baseline is trained in a fresh process
   while a sampler reads the resident memory of that process and its workers every 20 ms:
   peak memory of the whole process tree, wall time, CPU time / wall time (cores used).
3. Per-item latency and CPU cost on BANKING77, and the spec-driven path on specs/ticket_routing.

Data: ../shared/data (CC-BY-4.0 BANKING77 and HWU64, CC0 SNIPS; see its README), found via
DISTILLEVAL_SHARED_DATA, then <repo>/../shared/data, then /work/shared/data. Read at run time,
never copied into the repository. Timings on a shared machine are noisy; compare ratios.

Run: python bench/bench_baselines.py [--limit-train N] [--scale-rows N] [--skip-scale] [--skip-reference]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

KINDS = ("tfidf_logreg", "wordllama_logreg")


def shared_data_dir() -> Path | None:
    """The shared data folder, or None when it is not on this machine."""
    candidates = [os.environ.get("DISTILLEVAL_SHARED_DATA"), REPO.parent / "shared" / "data", "/work/shared/data"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "banking77" / "train.csv").is_file():
            return Path(candidate)
    return None


def public_sets(data_dir: Path) -> dict[str, tuple[list[str], list[str], list[str], list[str]]]:
    """name -> (train texts, train labels, test texts, test labels) for each set present."""
    found = {}
    banking = data_dir / "banking77"
    if (banking / "train.csv").is_file():
        found["banking77"] = (*read_csv_split(banking / "train.csv"), *read_csv_split(banking / "test.csv"))
    for name, path in (("hwu64", data_dir / "hwu64" / "hwu64_kfold1.jsonl"), ("snips", data_dir / "snips" / "snips_2017.jsonl")):
        if path.is_file():
            records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            train = [r for r in records if r["split"] == "train"]
            test = [r for r in records if r["split"] == "test"]
            found[name] = ([r["text"] for r in train], [r["label"] for r in train], [r["text"] for r in test], [r["label"] for r in test])
    return found


def read_csv_split(path: Path) -> tuple[list[str], list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [r["text"] for r in rows], [r["category"] for r in rows]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


def accuracy(predictions, gold) -> float:
    return sum(p == g for p, g in zip(predictions, gold)) / len(gold)


# -- 1. accuracy against converged references --------------------------------------------------


def bench_references(sets, limit_train: int | None) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    from distilleval.baselines.base import single_thread
    from distilleval.baselines.text_features import HashedTfidf
    from distilleval.baselines.tfidf_logreg import C as TFIDF_C
    from distilleval.baselines.tfidf_logreg import train_tfidf_logreg
    from distilleval.baselines.wordllama_logreg import C as WORDLLAMA_C
    from distilleval.baselines.wordllama_logreg import load_wordllama, train_wordllama_logreg

    print("## Accuracy against a converged reference on the same features (test split)\n")
    print(f"{'data set':<11}{'train':>7}{'classes':>8}  {'baseline':<18}{'acc':>8}{'train s':>9}{'reference':>11}{'ref s':>8}{'diff pts':>10}")
    for name, (train_x, train_y, test_x, test_y) in sets.items():
        if limit_train:
            train_x, train_y = train_x[:limit_train], train_y[:limit_train]
        n_classes = len(set(train_y))
        trained = train_tfidf_logreg(train_x, train_y, seed=0)
        score = accuracy(trained.predict_texts(test_x), test_y)
        features = HashedTfidf()
        started = time.perf_counter()
        reference = OneVsRestClassifier(LogisticRegression(solver="liblinear", C=TFIDF_C, tol=1e-6, max_iter=10_000))
        with single_thread():
            reference.fit(features.fit_transform(train_x), train_y)
            ref_score = accuracy(reference.predict(features.transform(test_x)), test_y)
        ref_seconds = time.perf_counter() - started
        print(f"{name:<11}{len(train_x):>7}{n_classes:>8}  {'tfidf_logreg':<18}{score:>8.4f}{trained.train_seconds:>9.1f}"
              f"{ref_score:>11.4f}{ref_seconds:>8.1f}{(score - ref_score) * 100:>+10.2f}")

        trained = train_wordllama_logreg(train_x, train_y, seed=0)
        score = accuracy(trained.predict_texts(test_x), test_y)
        encoder = load_wordllama()
        started = time.perf_counter()
        reference = LogisticRegression(C=WORDLLAMA_C, tol=1e-8, max_iter=100_000)
        with single_thread():
            reference.fit(encoder.embed(train_x, norm=True), train_y)
            ref_score = accuracy(reference.predict(encoder.embed(test_x, norm=True)), test_y)
        ref_seconds = time.perf_counter() - started
        print(f"{'':<11}{'':>7}{'':>8}  {'wordllama_logreg':<18}{score:>8.4f}{trained.train_seconds:>9.1f}"
              f"{ref_score:>11.4f}{ref_seconds:>8.1f}{(score - ref_score) * 100:>+10.2f}")
    print("\nreference: tfidf_logreg -> one-vs-rest LogisticRegression(liblinear, C=10, tol=1e-6) on the same hashed "
          "TF-IDF; wordllama_logreg -> LogisticRegression(lbfgs, C=20, tol=1e-8) on the same embeddings\n")


# -- 2. memory and cores at 150k rows ----------------------------------------------------------


def with_typos(text: str, rng: random.Random) -> str:
    """Two seeded typos (swap two neighbours or drop one character), as real messages carry."""
    chars = list(text)
    for _ in range(2):
        if len(chars) < 3:
            break
        i = rng.randrange(len(chars) - 1)
        if rng.random() < 0.5:
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        else:
            del chars[i]
    return "".join(chars)


def synthesise(sets, rows: int, seed: int = 0):
    """``rows`` training messages from all sets' train splits (typo'd copies past the originals); their test splits."""
    train_x, train_y, test_x, test_y = [], [], [], []
    for name, (a, b, c, d) in sets.items():
        train_x += a
        train_y += [f"{name}:{label}" for label in b]
        test_x += c
        test_y += [f"{name}:{label}" for label in d]
    rng = random.Random(seed)
    originals = len(train_x)
    while len(train_x) < rows:
        i = rng.randrange(originals)
        train_x.append(with_typos(train_x[i], rng))
        train_y.append(train_y[i])
    return train_x[:rows], train_y[:rows], test_x, test_y


def _tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants (Linux /proc)."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/statm") as handle:
                total += int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    stack += [int(child) for child in handle.read().split()]
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


def child_main(kind: str, rows: int) -> None:
    """In a fresh process: synthesise, train one baseline, print a JSON line of measurements."""
    sets = public_sets(shared_data_dir())
    train_x, train_y, test_x, test_y = synthesise(sets, rows)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss_bytes(os.getpid()))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    before_rss = _tree_rss_bytes(os.getpid())
    sampler.start()
    cpu_start = _tree_cpu_seconds()
    started = time.perf_counter()
    from distilleval.baselines.tfidf_logreg import train_tfidf_logreg
    from distilleval.baselines.wordllama_logreg import train_wordllama_logreg

    trainer = train_tfidf_logreg if kind == "tfidf_logreg" else train_wordllama_logreg
    trained = trainer(train_x, train_y, seed=0)
    wall = time.perf_counter() - started
    score = accuracy(trained.predict_texts(test_x), test_y)
    _stop_workers()
    cpu = _tree_cpu_seconds() - cpu_start
    done.set()
    sampler.join()
    print(json.dumps({"kind": kind, "rows": len(train_x), "classes": len(set(train_y)), "train_s": trained.train_seconds,
                      "wall_s": wall, "cpu_s": cpu, "peak_mb": peak[0] / 2**20, "start_mb": before_rss / 2**20,
                      "accuracy": score, "test": len(test_y)}))


def _tree_cpu_seconds() -> float:
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _stop_workers() -> None:
    # Worker processes count in RUSAGE_CHILDREN only once they have exited and been waited for.
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)


def bench_scale(rows: int) -> None:
    print(f"## {rows:,} training rows (synthesised from the three public sets), one fresh process per baseline\n")
    print(f"{'baseline':<18}{'rows':>9}{'classes':>8}{'train s':>9}{'CPU s':>8}{'cores':>7}{'peak MB':>9}{'start MB':>9}{'accuracy':>10}")
    for kind in KINDS:
        done = subprocess.run([sys.executable, __file__, "--child", kind, "--scale-rows", str(rows)],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"{kind:<18} failed: {done.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{kind:<18}{r['rows']:>9,}{r['classes']:>8}{r['train_s']:>9.1f}{r['cpu_s']:>8.1f}{r['cpu_s'] / r['wall_s']:>7.2f}"
              f"{r['peak_mb']:>9.0f}{r['start_mb']:>9.0f}{r['accuracy']:>10.4f}")
    print("\npeak MB: resident memory of the training process and its workers together, sampled every 20 ms "
          "(start MB: before training, with the data in memory); cores: CPU time / wall time over training and "
          f"predicting the test splits; {os.cpu_count()} cores on this machine\n")


# -- 3. latency, and the spec-driven path ------------------------------------------------------


def print_latency_table(rows: list[tuple]) -> None:
    header = f"{'baseline':<18}{'train s':>9}{'p50 us':>9}{'p95 us':>9}{'accuracy':>10}{'95% Wilson':>18}{'macro-F1':>10}{'$/request (p50)':>17}"
    print(header)
    for kind, train_s, p50, p95, acc, low, high, f1, cost in rows:
        print(f"{kind:<18}{train_s:>9.2f}{p50:>9.0f}{p95:>9.0f}{acc:>10.4f}{f'[{low:.4f}, {high:.4f}]':>18}{f1:>10.4f}{cost:>17.2e}")


def bench_latency(sets) -> None:
    """Both baselines on BANKING77: train split -> test split, one prediction at a time."""
    from sklearn.metrics import f1_score

    from distilleval.baselines.base import single_thread
    from distilleval.baselines.tfidf_logreg import train_tfidf_logreg
    from distilleval.baselines.wordllama_logreg import train_wordllama_logreg
    from distilleval.costs.cost_model import cpu_cost_per_request_usd
    from distilleval.costs.pricing import load_pricing
    from distilleval.results.statistics import wilson_interval

    train_texts, train_labels, test_texts, test_labels = sets["banking77"]
    cpu_usd_per_hour = load_pricing(REPO / "pricing" / "2026-02.yaml").price_for("local/cpu").cpu_usd_per_hour
    print(f"## BANKING77 one prediction at a time: {len(train_texts)} train / {len(test_texts)} test, cpu ${cpu_usd_per_hour}/h\n")
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
        low, high = wilson_interval(correct, len(test_labels))
        p50 = statistics.median(latencies_us)
        rows.append((trained.kind, trained.train_seconds, p50, percentile(latencies_us, 0.95), correct / len(test_labels),
                     low, high, f1_score(test_labels, predictions, average="macro"), cpu_cost_per_request_usd(cpu_usd_per_hour, p50 / 1e6)))
    print_latency_table(rows)
    print()


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
    print(f"## specs/ticket_routing: {len(train)} train / {len(evaluation)} eval items, {len(spec.output.labels)} queues\n")
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
    print_latency_table(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit-train", type=int, default=None, help="section 1: train on the first N messages of each set")
    parser.add_argument("--scale-rows", type=int, default=150_000, help="section 2: training rows to synthesise")
    parser.add_argument("--skip-scale", action="store_true", help="skip section 2")
    parser.add_argument("--skip-reference", action="store_true", help="skip section 1")
    parser.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args.child, args.scale_rows)
        return 0
    data_dir = shared_data_dir()
    if data_dir is None:
        print("../shared/data not found (set DISTILLEVAL_SHARED_DATA); only the ticket-routing example runs\n")
    else:
        sets = public_sets(data_dir)
        if not args.skip_reference:
            bench_references(sets, args.limit_train)
        if not args.skip_scale:
            bench_scale(args.scale_rows)
        if "banking77" in sets:
            bench_latency(sets)
    bench_ticket_routing()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
