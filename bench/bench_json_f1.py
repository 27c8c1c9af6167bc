"""Benchmark: JSON field F1 throughput (items/second) on 100,000 synthetic items.

Usage: python bench/bench_json_f1.py [--items N]

Three shapes side by side: scalar fields only (receipt-like), scalar fields plus a list of
entities matched with the Hungarian assignment, and the same with raw outputs wrapped in a
code fence and prose (so JSON extraction has to search).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from distilleval.scoring.json_fields import JsonFields  # noqa: E402
from distilleval.spec.data import Item  # noqa: E402
from distilleval.spec.scorer_config import JsonFieldsScorer  # noqa: E402


def make_items(n: int, rng: random.Random, with_list: bool) -> tuple[list[Item], list[dict]]:
    items, predictions = [], []
    for i in range(n):
        gold = {"company": f"Shop {i % 997} SDN BHD", "date": f"{1 + i % 28:02d}/0{1 + i % 9}/2018",
                "total": f"{rng.randint(1, 9999) / 100:.2f}", "address": f"NO. {i % 50}, JALAN {i % 13}"}
        if with_list:
            gold["entities"] = [{"name": f"P{i}-{k}", "type": rng.choice(["PERSON", "ORG", "CITY"])}
                                for k in range(rng.randint(0, 4))]
        pred = json.loads(json.dumps(gold))
        if rng.random() < 0.3:
            pred["total"] = "0.00"
        if with_list and pred["entities"] and rng.random() < 0.3:
            pred["entities"][0]["type"] = "OTHER"
            rng.shuffle(pred["entities"])
        items.append(Item(id=str(i), inputs={"text": "x"}, gold=gold))
        predictions.append(pred)
    return items, predictions


def run(label: str, scorer: JsonFields, items: list[Item], outputs: list[str]) -> float:
    started = time.perf_counter()
    scores = scorer.score_items(outputs, items)
    scored = time.perf_counter()
    metric, _ = scorer.summarize(scores)
    summarized = time.perf_counter()
    rate = len(items) / (scored - started)
    print(f"{label:<44} {len(items):>8} items  scoring {scored - started:6.2f} s = {rate:>7,.0f} items/s  "
          f"+ summary with 2000-resample bootstrap CI {summarized - scored:5.2f} s  field_f1={metric.value:.4f}")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    rng = random.Random(0)
    scalar_items, scalar_preds = make_items(args.items, rng, with_list=False)
    list_items, list_preds = make_items(args.items, rng, with_list=True)
    scalar = JsonFields(JsonFieldsScorer(normalize={"currency": True, "dates": True}))
    listed = JsonFields(JsonFieldsScorer(list_fields=["entities"], normalize={"currency": True, "dates": True}))
    base = run("scalar fields (4), plain JSON", scalar, scalar_items, [json.dumps(p) for p in scalar_preds])
    with_list = run("4 fields + entity list (Hungarian), plain", listed, list_items, [json.dumps(p) for p in list_preds])
    fenced = run("4 fields + entity list, fenced with prose", listed, list_items,
                 [f"Sure, here it is:\n```json\n{json.dumps(p)}\n```\nAnything else?" for p in list_preds])
    print(f"ratio list/scalar = {with_list / base:.2f}x, fenced/plain = {fenced / with_list:.2f}x")


if __name__ == "__main__":
    main()
