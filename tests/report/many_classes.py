"""A 77-class run (BANKING77's size) for report tests: the ticket-routing fixture recast over 77
long class names, with seeded confusion matrices for the student and the teacher."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

from distilleval.results.summary_json import read_summary, write_summary
from tests.ticket_routing_fixture import FIXTURE_DIR, SUMMARY_PATH

WORDS = ("card", "payment", "transfer", "pending", "top_up", "exchange", "rate", "cash", "withdrawal", "declined",
         "refund", "verify", "identity", "balance", "not", "updated", "after", "cheque", "deposit", "charge")
N_CLASSES = 77
LONG_NAMES = {"student": "tinker://ticket-routing-qwen3-8b-lora-rank-32-lr-1e-4/sampler_weights/final",
              "teacher": "Claude Opus 4.6 with the full routing rubric as a cached system prompt",
              "tfidf_logreg": "TF-IDF (word 1-2 grams, 50,000 features) + logistic regression, C=4"}
"""Model names as long as real ones get (a Tinker sampler path), for layout tests."""


def class_names(rng: random.Random) -> list[str]:
    """77 distinct snake_case class names as long as BANKING77's (up to 48 characters)."""
    names = ["balance_not_updated_after_cheque_or_cash_deposit", "card_payment_wrong_exchange_rate"]
    while len(names) < N_CLASSES:
        name = "_".join(rng.sample(WORDS, rng.randint(2, 5)))
        if name not in names:
            names.append(name)
    return names


def confusion(names: list[str], rng: random.Random, accuracy: float) -> dict[str, dict[str, int]]:
    """40 items a class (3,080 test items, as BANKING77), errors spread over two or three classes."""
    matrix = {}
    for gold in names:
        right = round(40 * min(1.0, max(0.0, rng.gauss(accuracy, 0.12))))
        row = {gold: right}
        for _wrong, other in zip(range(40 - right), rng.choices([n for n in names if n != gold], k=3) * 40):
            row[other] = row.get(other, 0) + 1
        matrix[gold] = row
    return matrix


def write_77_class_run(folder: Path, *, display_names: dict[str, str] | None = None) -> str:
    """The ticket-routing fixture recast as a 77-class run: spec labels, and the student's and
    teacher's confusion matrices over 77 classes (seeded); ``display_names`` renames models."""
    rng = random.Random(77)
    names = class_names(rng)
    run = folder / "run77"
    shutil.copytree(FIXTURE_DIR, run)
    spec = (run / "spec.yaml").read_text()
    (run / "spec.yaml").write_text(spec.replace("labels: [billing, technical, account, shipping, abuse, other]",
                                                "labels: [" + ", ".join(names) + "]"))
    summary = read_summary(SUMMARY_PATH)
    summary.models["student"].confusion = confusion(names, rng, 0.85)
    summary.models["teacher"].confusion = confusion(names, rng, 0.93)
    for key, name in (display_names or {}).items():
        summary.models[key].display_name = name
    write_summary(summary, run / "summary.json")
    return str(run)
