"""Regenerate specs/ticket_routing/data.jsonl: synthetic support messages with a routing label.

The messages are written from templates with slots (order numbers, products, amounts, dates),
then roughened the way real tickets are: greetings and sign-offs, unrelated background,
lower case, missing punctuation, keyboard typos. Every fifth template is held out for the test
split (see HELD_OUT_EVERY). A share of the messages touch two queues on
purpose; their label follows the precedence rules in rubric.md, so the gold is what a careful
agent following the rubric would pick.

Run: python specs/ticket_routing/generate.py   (same seed, same file)
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 20260201
N_ITEMS = 480
# Every fifth template of each queue is held out: messages written from it go to the test split
# only, so the eval measures phrasings no model saw in training (as new tickets do), not just new
# slot values in familiar sentences. Of the remaining messages, this share also goes to test.
HELD_OUT_EVERY = 5
TEST_FRACTION_SEEN = 0.15

# Share of each queue in the traffic: support queues are rarely balanced.
LABEL_WEIGHTS = {
    "technical_issue": 0.20,
    "billing": 0.17,
    "shipping": 0.15,
    "account_access": 0.13,
    "returns_refunds": 0.11,
    "cancellation": 0.08,
    "product_question": 0.07,
    "fraud_security": 0.04,
    "feedback": 0.03,
    "other": 0.02,
}

PRODUCTS = [
    "wireless earbuds", "standing desk", "coffee grinder", "Pro plan", "smart thermostat",
    "running shoes", "4K monitor", "air fryer", "phone case", "yoga mat", "router",
    "kids' tablet", "espresso machine", "backpack", "e-reader", "gift card",
]
DEVICES = ["iPhone 13", "Pixel 7", "Samsung S22", "my laptop", "Windows 11", "an old iPad", "Chrome", "Safari", "Firefox", "the Android app"]
ERRORS = ["error 502", "ERR_SYNC_04", "a white screen", "'something went wrong'", "error code 1003", "a spinning wheel", "timeout error"]
CARRIERS = ["UPS", "FedEx", "DHL", "USPS", "the courier", "Royal Mail"]
NAMES = ["Maria", "Tom", "Priya", "J. Okafor", "Luis", "Anna K.", "Dev", "Sam", "Chen", "Fatima"]

TEMPLATES: dict[str, list[str]] = {
    "technical_issue": [
        "The app keeps crashing when I open the {product} page on {device}.",
        "I get {error} every time I try to save my settings.",
        "Checkout page won't load, just shows {error}.",
        "Sync between {device} and the website stopped working yesterday.",
        "The {product} won't pair with the app, it says device not found.",
        "Notifications stopped arriving after the last update.",
        "Your website is super slow today, pages take a minute to load on {device}.",
        "Uploading a photo fails with {error}.",
        "The search bar returns nothing, even for products I know you sell.",
        "The firmware update bricked my {product}, the light just blinks orange.",
        "Export to CSV produces an empty file.",
        "dark mode makes the text unreadable on {device}",
        "The page freezes when I click 'add to cart'.",
        "I can't play the setup video, it buffers forever.",
    ],
    "billing": [
        "I was charged twice for order {order}.",
        "Why is my invoice {amount} higher than last month?",
        "Can I get a VAT invoice for my last purchase?",
        "My card was declined but I have money on it, can you check the payment for {order}?",
        "How do I change the credit card on file?",
        "The discount code wasn't applied, I paid full price ({amount}).",
        "I got billed for the {product} after the trial said it was free until {date}.",
        "Please send me a copy of the receipt for {date}.",
        "Can I switch from monthly to annual billing?",
        "There's a charge of {amount} on my statement I don't understand, it says SUBSCR-{order}.",
        "I cancelled last month but I was still charged {amount} on {date}.",
        "Do you accept PayPal? I don't have a credit card.",
        "The tax on my bill looks wrong.",
    ],
    "shipping": [
        "Where is my order {order}? It was supposed to arrive on {date}.",
        "Tracking for {order} hasn't updated in 5 days.",
        "{carrier} says delivered but there's nothing at my door.",
        "Can I change the delivery address for {order}? I'm moving.",
        "Do you ship to Canada?",
        "My package arrived with only half the items, the {product} is missing.",
        "How long does express shipping take?",
        "The box was left in the rain and the label says returned to sender??",
        "order {order} still says processing, it's been a week",
        "Can {carrier} deliver on Saturday?",
        "I need the {product} before {date}, is that possible?",
    ],
    "account_access": [
        "I can't log in, it says my password is wrong but I just reset it.",
        "I never receive the 2FA code by SMS.",
        "My account is locked after too many attempts.",
        "The password reset email never arrives, I checked spam.",
        "I changed my phone number and now I can't get the verification code.",
        "How do I change the email address on my account?",
        "I have two accounts by mistake, can you merge them?",
        "Login with Google just loops back to the login page on {device}.",
        "I forgot which email I signed up with.",
        "It says 'account not found' but I've ordered from you before ({order}).",
        "can't sign in on {device}, works on desktop",
    ],
    "returns_refunds": [
        "I want to return the {product}, it doesn't fit.",
        "The {product} arrived broken, I want a refund.",
        "When will I get my refund for {order}? I sent it back on {date}.",
        "Can I exchange the {product} for a different color?",
        "How do I print a return label?",
        "The {product} stopped working after 2 weeks, is it still under warranty?",
        "I returned {order} three weeks ago and still no money back.",
        "Wrong item delivered, I ordered the {product} and got something else. I want my money back.",
        "Is the return window 30 or 60 days?",
        "refund only came through partially, {amount} is missing",
    ],
    "cancellation": [
        "Please cancel my subscription.",
        "I want to close my account and delete my data.",
        "How do I stop the automatic renewal before {date}?",
        "Cancel order {order} please, I ordered by mistake.",
        "I'd like to downgrade... actually just cancel the Pro plan.",
        "Not using the service anymore, cancel everything.",
        "Can I pause my membership instead of cancelling?",
        "I want to cancel and get a refund for this month.",
        "Cancel the {product} order before it ships!!",
    ],
    "product_question": [
        "Does the {product} work with {device}?",
        "What's the difference between the Basic and Pro plan?",
        "Is the {product} waterproof?",
        "Do you have the {product} in a larger size?",
        "How many users can share one family plan?",
        "Is there a student discount?",
        "What is the battery life of the {product}?",
        "Can the {product} be used outside the US (voltage)?",
        "Will the {product} fit a 60 cm wide space?",
        "When will the {product} be back in stock?",
    ],
    "fraud_security": [
        "There are orders on my account I didn't make, someone hacked it.",
        "I got an email asking for my password that looks like it's from you, is it real?",
        "My card was charged {amount} by you but I never ordered anything, I think it's fraud.",
        "Someone changed my account email without my permission.",
        "I received a text saying my account is suspended with a link, is this a scam?",
        "Someone logged in from another country and bought a {product}.",
        "I think my password leaked, please lock my account now.",
        "Got a call from 'your support' asking for my card PIN.",
    ],
    "feedback": [
        "Just wanted to say {name} on the chat was super helpful, thanks!",
        "The new design is much worse, please bring back the old menu.",
        "Suggestion: let us save more than one address.",
        "Love the {product}, best purchase this year.",
        "Your delivery packaging uses way too much plastic.",
        "The app is great but a widget would be nice.",
    ],
    "other": [
        "Are you hiring in the Berlin office?",
        "Hi, I'm a journalist writing about online retail, who can I talk to?",
        "test",
        "We'd like to discuss a wholesale partnership.",
        "What are your office hours on public holidays?",
        "asdfgh",
    ],
}

# Messages that touch two queues; the label follows rubric.md's precedence rules.
AMBIGUOUS: list[tuple[str, str]] = [
    ("Someone used my card on your site and now I also can't log in.", "fraud_security"),
    ("I want to cancel my plan and get a refund for the rest of the year.", "cancellation"),
    ("The {product} arrived broken and the app won't even recognise it, I want my money back.", "returns_refunds"),
    ("I was charged after I cancelled, and now your site won't let me log in to check.", "billing"),
    ("My package never came so I want a refund for {order}.", "shipping"),
    ("The app crashed during checkout and I got charged twice.", "billing"),
    ("Can't log in since the update, the app just shows {error}.", "account_access"),
    ("I don't recognise a {amount} charge and there's a login from a device I don't own.", "fraud_security"),
    ("Does the {product} come with a warranty, and how do returns work if it doesn't fit?", "product_question"),
    ("Please close my account, I'm tired of the app crashing.", "cancellation"),
    ("Delivered to the wrong address, I need it resent not refunded.", "shipping"),
    ("The return label link gives {error}.", "returns_refunds"),
]

GREETINGS = ["Hi,", "Hello", "hey", "Dear support,", "Good morning,", "To whom it may concern,", "Hi team", ""]
SIGNOFFS = ["Thanks", "thx", "Regards, {name}", "Best, {name}", "Cheers", "Sent from my iPhone", "{name}", "Thank you in advance!", ""]
BACKGROUND = [
    "I've been a customer for 3 years.",
    "This is the second time I'm writing about this.",
    "I'm writing from my partner's account.",
    "I already tried restarting everything.",
    "Your chatbot was useless.",
    "It's urgent, I'm travelling next week.",
    "I called yesterday but nobody picked up.",
    "English is not my first language, sorry.",
]
FRUSTRATION = ["This is ridiculous.", "Please help!!", "Very disappointed.", "ASAP please", "??", "Not happy."]

KEYBOARD_NEIGHBOURS = {
    "a": "sq", "e": "wr", "i": "uo", "o": "ip", "n": "bm", "s": "ad", "t": "ry", "r": "et", "l": "k", "c": "xv",
}


def fill(template: str, rng: random.Random) -> str:
    """Fill the slots of a template with plausible values."""
    return template.format(
        product=rng.choice(PRODUCTS),
        device=rng.choice(DEVICES),
        error=rng.choice(ERRORS),
        carrier=rng.choice(CARRIERS),
        name=rng.choice(NAMES),
        order=rng.choice(["#", "", "order ", "ORD-"]) + str(rng.randint(10_000, 999_999)),
        amount=rng.choice(["$", "€", "£"]) + f"{rng.uniform(4, 400):.2f}",
        date=rng.choice(["March 3", "3/14", "last Friday", "the 21st", "2026-01-09", "yesterday", "Monday"]),
    )


def add_typos(text: str, rng: random.Random, rate: float) -> str:
    """Swap, drop or fat-finger letters at ``rate`` per letter."""
    out: list[str] = []
    for ch in text:
        roll = rng.random()
        if ch.isalpha() and roll < rate:
            kind = rng.choice(["drop", "double", "neighbour"])
            if kind == "drop":
                continue
            if kind == "double":
                out.append(ch + ch)
                continue
            out.append(rng.choice(KEYBOARD_NEIGHBOURS.get(ch.lower(), ch)))
            continue
        out.append(ch)
    return "".join(out)


def roughen(core: str, rng: random.Random) -> str:
    """Wrap a core request the way customers actually write it."""
    parts: list[str] = []
    if rng.random() < 0.55:
        parts.append(rng.choice(GREETINGS))
    if rng.random() < 0.3:
        parts.append(rng.choice(BACKGROUND))
    parts.append(core)
    if rng.random() < 0.2:
        parts.append(rng.choice(BACKGROUND))
    if rng.random() < 0.2:
        parts.append(rng.choice(FRUSTRATION))
    if rng.random() < 0.45:
        parts.append(fill(rng.choice(SIGNOFFS), rng))
    text = " ".join(p for p in parts if p)
    style = rng.random()
    if style < 0.2:
        text = text.lower().replace(".", "").replace(",", "")
    elif style < 0.24:
        text = text.upper()
    if rng.random() < 0.35:
        text = add_typos(text, rng, rate=rng.uniform(0.01, 0.04))
    return text


def generate(seed: int = SEED, n_items: int = N_ITEMS) -> list[dict]:
    """The records of the data set, deterministic for a seed."""
    rng = random.Random(seed)
    labels = list(LABEL_WEIGHTS)
    weights = [LABEL_WEIGHTS[label] for label in labels]
    records = []
    for index in range(n_items):
        if rng.random() < 0.08:
            position = rng.randrange(len(AMBIGUOUS))
            template, label = AMBIGUOUS[position]
        else:
            label = rng.choices(labels, weights)[0]
            position = rng.randrange(len(TEMPLATES[label]))
            template = TEMPLATES[label][position]
        text = roughen(fill(template, rng), rng)
        held_out = position % HELD_OUT_EVERY == HELD_OUT_EVERY - 1
        seen_to_test = rng.random() < TEST_FRACTION_SEEN
        split = "test" if held_out or seen_to_test else "train"
        records.append({"id": f"tr-{index:04d}", "message": text, "label": label, "split": split})
    return records


def main() -> None:
    out = Path(__file__).with_name("data.jsonl")
    records = generate()
    tmp = out.with_suffix(".jsonl.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    tmp.replace(out)
    print(f"wrote {len(records)} items to {out}")


if __name__ == "__main__":
    main()
