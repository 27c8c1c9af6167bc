"""Regenerate specs/support_reply/data.jsonl and alignment.jsonl: customer emails and the replies a
support team would send.

Each email raises one of six issues, and each issue has one right next step (refund to the
original card, a replacement shipped, a reset link, ...). The gold column holds a reference reply
that takes that step; the judge grades a model's reply against the criteria file with it.

alignment.jsonl is the human-judged set the judge is measured on: replies to emails outside the
data file, half of them taking the right step (verdict pass) and half a plausible wrong one
(verdict fail: the wrong step, a missing order number, or a promise the policy forbids).

Run: python specs/support_reply/generate.py   (same seed, same files)
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 20261207
N_ITEMS = 320
N_ALIGNMENT = 80
NAMES = ["Ana", "Ben", "Chloe", "Dev", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi", "Luca", "Mira", "Noor",
         "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara"]
PRODUCTS = ["kettle", "desk lamp", "running shoes", "blender", "backpack", "phone case", "coffee grinder", "yoga mat"]

# issue -> (email templates, the right next step, plausible wrong steps)
ISSUES = {
    "damaged": (
        ["Hi, my {product} (order {order}) arrived cracked. What now?",
         "The {product} from order {order} came broken in the box. Can you help?",
         "Order {order}: the {product} is damaged, the box was crushed."],
        "we are shipping a replacement {product} today at no cost, and you can keep or recycle the damaged one",
        ["please send the damaged {product} back at your own cost before we look into it",
         "we can offer a 10% voucher on your next order"],
    ),
    "late": (
        ["Order {order} was due last week and my {product} still hasn't come.",
         "Where is my {product}? Order {order} is five days late.",
         "Still waiting on order {order} ({product}). Any news?"],
        "the courier reports order {order} is delayed at the depot; it will arrive within 3 working days, and we "
        "refunded the shipping fee",
        ["orders can take up to 30 days, please wait", "we have cancelled order {order}"],
    ),
    "refund": (
        ["I returned the {product} from order {order} two weeks ago. Where's my refund?",
         "Refund for order {order} ({product}) hasn't reached my card yet.",
         "You received my returned {product} (order {order}) but I have no refund."],
        "your refund for order {order} was issued today to the original card and shows within 5 working days",
        ["we will send you store credit for order {order}", "refunds are only possible within 7 days of delivery"],
    ),
    "password": (
        ["I can't log in to see order {order}; the password reset email never comes.",
         "Locked out of my account, I need to check order {order}.",
         "Password reset isn't working and I want to track order {order}."],
        "we sent a new reset link that works for 24 hours; check the spam folder, and order {order} is on its way",
        ["please tell us your current password so we can check", "create a new account to track order {order}"],
    ),
    "cancel": (
        ["Please cancel order {order}, I ordered the wrong {product}.",
         "Can I still cancel order {order}? I don't need the {product} anymore.",
         "Cancel order {order} please ({product})."],
        "order {order} is cancelled before dispatch and the full amount is back on your card within 5 working days",
        ["order {order} has shipped, so it cannot be cancelled or returned", "we cancelled your whole account"],
    ),
    "wrong_item": (
        ["I ordered a {product} (order {order}) but got something else.",
         "Wrong item in order {order}: this is not the {product} I bought.",
         "Order {order} contains the wrong product instead of my {product}."],
        "we are sending the right {product} today with a prepaid label to return the wrong item for order {order}",
        ["please keep the wrong item, we cannot help further", "order a new {product} and we will refund the first"],
    ),
}


def _email(rng: random.Random, issue: str, order: str, product: str, name: str) -> str:
    templates = ISSUES[issue][0]
    return f"From {name}: " + rng.choice(templates).format(order=order, product=product)


def reply(name: str, step: str) -> str:
    """A reply in the house style: greeting, the step, sign-off."""
    return f"Hi {name}, thanks for writing. {step[0].upper()}{step[1:]}. Best, the support team"


def generate(seed: int = SEED, n_items: int = N_ITEMS) -> list[dict]:
    """The data file's records (same seed, same records)."""
    rng = random.Random(seed)
    records = []
    for i in range(n_items):
        issue = rng.choice(sorted(ISSUES))
        order, product, name = f"A{10000 + i}", rng.choice(PRODUCTS), rng.choice(NAMES)
        step = ISSUES[issue][1].format(order=order, product=product)
        records.append({"id": f"reply-{i:04d}", "email": _email(rng, issue, order, product, name),
                        "reference": reply(name, step), "issue": issue,
                        "split": "test" if rng.random() < 0.3 else "train"})
    return records


def generate_alignment(seed: int = SEED + 1, n_rows: int = N_ALIGNMENT) -> list[dict]:
    """The alignment set: replies to other emails with the human verdict (half pass, half fail)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n_rows):
        issue = rng.choice(sorted(ISSUES))
        order, product, name = f"B{20000 + i}", rng.choice(PRODUCTS), rng.choice(NAMES)
        right = i % 2 == 0
        step = ISSUES[issue][1] if right else rng.choice(ISSUES[issue][2])
        answer = reply(name, step.format(order=order, product=product))
        reference = reply(name, ISSUES[issue][1].format(order=order, product=product))
        rows.append({"email": _email(rng, issue, order, product, name), "output": answer, "reference": reference,
                     "verdict": "pass" if right else "fail"})
    return rows


def main() -> None:
    folder = Path(__file__).resolve().parent
    for name, records in (("data.jsonl", generate()), ("alignment.jsonl", generate_alignment())):
        with (folder / name).open("w", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
