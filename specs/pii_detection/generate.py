"""Regenerate specs/pii_detection/data.jsonl: support, HR and clinic texts with PII spans.

Each text is assembled piece by piece so every entity's character offsets are known exactly.
Texts mix real PII with look-alikes the rubric says to leave alone (order numbers, ticket ids,
delivery dates, company names, product codes), and about one in six texts has no PII at all.

Gold: {"entities": [{"type", "text", "start", "end"}]}, in reading order; end is exclusive.

Run: python specs/pii_detection/generate.py   (same seed, same file)
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 20260202
N_ITEMS = 360
TEST_FRACTION = 0.35

FIRST = ["Maria", "James", "Aisha", "Wei", "Olga", "Diego", "Fatima", "Liam", "Sofia", "Kenji", "Grace", "Omar",
         "Hannah", "Raj", "Zoe", "Mateo", "Ingrid", "Kwame", "Elena", "Noah"]
LAST = ["Garcia", "O'Brien", "Nguyen", "Kowalski", "Schmidt", "Okafor", "Rossi", "Tanaka", "Dubois", "Patel",
        "Murphy", "Haddad", "Lindqvist", "van der Berg", "Silva", "Johnson"]
STREETS = ["Maple Street", "Oak Ave", "Rue de la Paix", "High St", "Elm Road", "Sunset Blvd", "Baker Street", "Lindenweg"]
CITIES = ["Springfield, IL 62704", "London NW1 6XE", "75002 Paris", "Austin, TX 78701", "10115 Berlin", "Dublin D02 X285"]
EMAIL_DOMAINS = ["gmail.com", "yahoo.co.uk", "outlook.com", "proton.me", "acme-corp.com", "web.de"]
COMPANIES = ["Acme Corp", "Globex", "Initech", "Northwind Traders", "Blue Harbor Logistics"]
PRODUCTS = ["router X200", "standing desk", "Pro plan", "air purifier", "model SKU-4471-B"]


def _typos(piece: str, rng: random.Random, rate: float) -> str:
    """Drop or double letters of the surrounding prose (never inside an entity)."""
    if rate <= 0:
        return piece
    out = []
    for ch in piece:
        if ch.isalpha() and rng.random() < rate:
            out.append("" if rng.random() < 0.5 else ch + ch)
        else:
            out.append(ch)
    return "".join(out)


class Builder:
    """Appends text pieces and records the offsets of the entity pieces."""

    def __init__(self, rng: random.Random, typo_rate: float = 0.0) -> None:
        self.rng = rng
        self.typo_rate = typo_rate
        self.parts: list[str] = []
        self.length = 0
        self.entities: list[dict] = []

    def text(self, piece: str) -> "Builder":
        return self._append(_typos(piece, self.rng, self.typo_rate))

    def _append(self, piece: str) -> "Builder":
        self.parts.append(piece)
        self.length += len(piece)
        return self

    def entity(self, kind: str, piece: str) -> "Builder":
        self.entities.append({"type": kind, "text": piece, "start": self.length, "end": self.length + len(piece)})
        return self._append(piece)

    def done(self) -> tuple[str, list[dict]]:
        return "".join(self.parts), self.entities


def person(rng: random.Random) -> str:
    style = rng.random()
    first, last = rng.choice(FIRST), rng.choice(LAST)
    if style < 0.6:
        return f"{first} {last}"
    if style < 0.75:
        return f"{first[0]}. {last}"
    if style < 0.85:
        return f"{last.upper()}, {first}"
    return first


def email(rng: random.Random) -> str:
    first, last = rng.choice(FIRST).lower(), rng.choice(LAST).lower().replace("'", "").replace(" ", "")
    user = rng.choice([f"{first}.{last}", f"{first[0]}{last}", f"{first}{rng.randint(1, 99)}", f"{last}_{first}"])
    return f"{user}@{rng.choice(EMAIL_DOMAINS)}"


def phone(rng: random.Random) -> str:
    return rng.choice([
        f"+1 ({rng.randint(201, 989)}) {rng.randint(200, 999)}-{rng.randint(1000, 9999)}",
        f"{rng.randint(201, 989)}-{rng.randint(200, 999)}-{rng.randint(1000, 9999)}",
        f"+44 7{rng.randint(100, 999)} {rng.randint(100000, 999999)}",
        f"0{rng.randint(150, 179)} {rng.randint(1000000, 9999999)}",
        f"+49 30 {rng.randint(1000, 9999)} {rng.randint(100, 999)}",
    ])


def address(rng: random.Random) -> str:
    return f"{rng.randint(1, 240)} {rng.choice(STREETS)}, {rng.choice(CITIES)}"


def birth_date(rng: random.Random) -> str:
    year, month, day = rng.randint(1940, 2005), rng.randint(1, 12), rng.randint(1, 28)
    months = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December"]
    return rng.choice([f"{year}-{month:02d}-{day:02d}", f"{month:02d}/{day:02d}/{year}", f"{day} {months[month - 1]} {year}",
                       f"{day}.{month}.{year}"])


def other_date(rng: random.Random) -> str:
    return rng.choice(["2026-01-14", "March 3rd", "next Tuesday", "12/02/2025", "the 21st"])


def card(rng: random.Random) -> str:
    digits = "4" + "".join(str(rng.randint(0, 9)) for _ in range(15))
    return rng.choice([" ".join(digits[i:i + 4] for i in range(0, 16, 4)), digits, "-".join(digits[i:i + 4] for i in range(0, 16, 4))])


def iban(rng: random.Random) -> str:
    body = "".join(str(rng.randint(0, 9)) for _ in range(18))
    raw = rng.choice(["DE", "FR", "NL", "GB"]) + f"{rng.randint(10, 99)}" + body
    return " ".join(raw[i:i + 4] for i in range(0, len(raw), 4)) if rng.random() < 0.6 else raw


def ssn(rng: random.Random) -> str:
    return f"{rng.randint(100, 899)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}"


def ip(rng: random.Random) -> str:
    return ".".join(str(rng.randint(1, 254)) for _ in range(4))


def order_id(rng: random.Random) -> str:
    return rng.choice(["#", "ORD-", "INV-", "TCK-"]) + str(rng.randint(100000, 9999999))


# Each writer produces one text; together they cover the places PII turns up in.
def support_email(rng: random.Random, b: Builder) -> None:
    name = person(rng)
    b.text(rng.choice(["Hi, this is ", "Hello, my name is ", "hey its "])).entity("PERSON", name)
    b.text(f". My order {order_id(rng)} never arrived")
    if rng.random() < 0.7:
        b.text(". Please ship it to ").entity("ADDRESS", address(rng))
    if rng.random() < 0.6:
        b.text(" or call me on ").entity("PHONE", phone(rng))
    b.text(rng.choice([". Thanks!", ".", " asap", ". Regards"]))
    if rng.random() < 0.5:
        b.text("\n--\n").entity("EMAIL", email(rng))


def payment_chat(rng: random.Random, b: Builder) -> None:
    b.text(rng.choice(["customer: ", "User: ", ""]))
    b.text(rng.choice(["i want to pay with card ", "can you charge this card ", "the card "])).entity("CREDIT_CARD", card(rng))
    b.text(rng.choice([" exp 09/28", " (expires next year)", ""]))
    if rng.random() < 0.5:
        b.text(" and refund the rest to ").entity("IBAN", iban(rng))
    b.text(rng.choice([" for the ", " for my "]) + rng.choice(PRODUCTS))
    b.text(f" bought on {other_date(rng)}.")


def hr_note(rng: random.Random, b: Builder) -> None:
    b.text("New hire: ").entity("PERSON", person(rng))
    b.text(", DOB ").entity("DATE_OF_BIRTH", birth_date(rng))
    if rng.random() < 0.6:
        b.text(", SSN ").entity("SSN", ssn(rng))
    b.text(f". Starts {other_date(rng)} at {rng.choice(COMPANIES)}")
    if rng.random() < 0.5:
        b.text("; personal email ").entity("EMAIL", email(rng))
    b.text(". Manager: ").entity("PERSON", person(rng)).text(".")


def clinic_intake(rng: random.Random, b: Builder) -> None:
    b.text("Patient ").entity("PERSON", person(rng))
    b.text(rng.choice([" (born ", " born on ", ", date of birth "])).entity("DATE_OF_BIRTH", birth_date(rng))
    b.text(rng.choice([") ", " "]))
    b.text(rng.choice(["reports knee pain since ", "follow-up booked for ", "missed appointment on "]) + other_date(rng))
    if rng.random() < 0.6:
        b.text(". Emergency contact ").entity("PERSON", person(rng)).text(", ").entity("PHONE", phone(rng))
    b.text(".")


def security_log(rng: random.Random, b: Builder) -> None:
    b.text(f"2026-01-{rng.randint(10, 28)}T0{rng.randint(0, 9)}:{rng.randint(10, 59)}:02Z login failed for user ")
    b.entity("EMAIL", email(rng))
    b.text(" from ").entity("IP_ADDRESS", ip(rng))
    b.text(rng.choice([" (3 attempts)", " agent=Mozilla/5.0", "", f" session {order_id(rng)}"]))


def no_pii(rng: random.Random, b: Builder) -> None:
    b.text(rng.choice([
        f"The {rng.choice(PRODUCTS)} stopped working after the update on {other_date(rng)}. Ticket {order_id(rng)}.",
        f"Is {rng.choice(COMPANIES)} open on public holidays?",
        f"Order {order_id(rng)} shows delivered but the box was empty.",
        "How do I reset the router to factory settings?",
        f"Invoice {order_id(rng)} total 1,249.00 EUR, due {other_date(rng)}.",
        f"Firmware 4.2.1 build 20251103 fails on model {rng.choice(PRODUCTS)}; version string 10.0.19045.3803.",
        "thanks, that fixed it",
        f"Our support hours are 9-17 CET; call the main line 0800 123 456 for {rng.choice(COMPANIES)} sales.",
    ]))


def account_update(rng: random.Random, b: Builder) -> None:
    b.text(rng.choice(["Please update my details: ", "Change of address - ", "UPDATE: "]))
    b.text("name ").entity("PERSON", person(rng))
    b.text(", new address ").entity("ADDRESS", address(rng))
    b.text(", phone ").entity("PHONE", phone(rng))
    if rng.random() < 0.4:
        b.text(", old email ").entity("EMAIL", email(rng)).text(" (no longer used)")
    b.text(".")


WRITERS = [
    (support_email, 0.20), (payment_chat, 0.13), (hr_note, 0.13), (clinic_intake, 0.12),
    (security_log, 0.10), (no_pii, 0.17), (account_update, 0.15),
]


def generate(seed: int = SEED, n_items: int = N_ITEMS) -> list[dict]:
    """The records of the data set, deterministic for a seed."""
    rng = random.Random(seed)
    writers, weights = zip(*WRITERS)
    records = []
    for index in range(n_items):
        builder = Builder(rng, typo_rate=rng.choice([0.0, 0.0, 0.0, 0.02, 0.05]))
        rng.choices(writers, weights)[0](rng, builder)
        text, entities = builder.done()
        for entity in entities:
            assert text[entity["start"]:entity["end"]] == entity["text"]
        split = "test" if rng.random() < TEST_FRACTION else "train"
        records.append({"id": f"pii-{index:04d}", "text": text, "gold": {"entities": entities}, "split": split})
    return records


def main() -> None:
    out = Path(__file__).with_name("data.jsonl")
    tmp = out.with_suffix(".jsonl.tmp")
    records = generate()
    with tmp.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    tmp.replace(out)
    print(f"wrote {len(records)} items to {out}")


if __name__ == "__main__":
    main()
