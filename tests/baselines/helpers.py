"""Shared helpers for the baseline tests: the ticket-routing items and BANKING77 as items."""

from __future__ import annotations

import csv
from pathlib import Path

from distilleval.baselines import TrainedBaseline, train_baseline
from distilleval.spec.data import Item, load_items, split_items
from distilleval.spec.task_spec import BaselineSpec, load_spec
from tests.environment import missing

REPO_ROOT = Path(__file__).resolve().parents[2]
TICKET_SPEC = REPO_ROOT / "specs" / "ticket_routing" / "spec.yaml"


def ticket_routing_splits() -> tuple[list[Item], list[Item], int]:
    """(train items, eval items, number of labels) of the ticket-routing example."""
    spec = load_spec(TICKET_SPEC)
    items = load_items(spec, require_gold=True)
    return split_items(items, "train"), split_items(items, "eval"), len(spec.output.labels)


def train_on_ticket_routing(spec: BaselineSpec) -> tuple[TrainedBaseline, list[Item], int]:
    """(baseline fitted with seed 0 on the ticket-routing train split, eval items, number of labels)."""
    train, evaluation, n_labels = ticket_routing_splits()
    return train_baseline(spec, train, seed=0), evaluation, n_labels


def banking77_splits(folder: Path) -> tuple[list[Item], list[Item]]:
    """BANKING77's (train, test) items; skips the calling test when the data set is absent."""
    if not (folder / "banking77" / "train.csv").is_file():
        missing("../shared/data/banking77 is not present")
    return banking77_items(folder, "train"), banking77_items(folder, "test")


def banking77_items(folder: Path, split: str) -> list[Item]:
    """BANKING77's train.csv or test.csv as items (read at run time, never copied)."""
    path = folder / "banking77" / f"{split}.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            Item(id=f"{split}-{n}", inputs={"text": row["text"]}, gold=row["category"], split=split)
            for n, row in enumerate(csv.DictReader(handle))
        ]


def accuracy(predictions: list[str], items: list[Item]) -> float:
    return sum(p == item.gold for p, item in zip(predictions, items)) / len(items)


def majority_share(items: list[Item]) -> float:
    """Accuracy of always predicting the most common gold label of ``items``."""
    counts: dict[str, int] = {}
    for item in items:
        counts[item.gold] = counts.get(item.gold, 0) + 1
    return max(counts.values()) / len(items)


def public_intent_set(folder: Path, name: str, *, train_limit: int | None = None, seed: int = 0):
    """(train texts, train labels, test texts, test labels) of BANKING77, HWU64 or SNIPS.

    Read at run time from ../shared/data (never copied); skips the calling test when absent.
    ``train_limit`` keeps a seeded random subset of the training split (the test split is whole).
    """
    import json
    import random

    if name == "banking77":
        if not (folder / "banking77" / "train.csv").is_file():
            missing("../shared/data/banking77 is not present")
        train, test = banking77_splits(folder)
        pairs = [[(i.inputs["text"], i.gold) for i in part] for part in (train, test)]
    else:
        path = folder / {"hwu64": "hwu64/hwu64_kfold1.jsonl", "snips": "snips/snips_2017.jsonl"}[name]
        if not path.is_file():
            missing(f"../shared/data/{path.parent.name} is not present")
        with path.open(encoding="utf-8") as handle:
            records = [json.loads(line) for line in handle if line.strip()]
        pairs = [[(r["text"], r["label"]) for r in records if r["split"] == split] for split in ("train", "test")]
    train_pairs, test_pairs = pairs
    if train_limit is not None and train_limit < len(train_pairs):
        train_pairs = random.Random(seed).sample(train_pairs, train_limit)
    return ([t for t, _ in train_pairs], [y for _, y in train_pairs], [t for t, _ in test_pairs], [y for _, y in test_pairs])
