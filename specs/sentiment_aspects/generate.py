"""Regenerate specs/sentiment_aspects/data.jsonl: hotel reviews with aspect/polarity gold.

A review is built from opinion clauses about up to four aspects of the stay, mixed with
opinion-free context (trip purpose, dates, neutral mentions of an aspect, which the rubric
says not to label). Clauses include negations ("not bad at all"), implicit aspects ("cost an
arm and a leg" = price) and sarcasm. The overall label follows the rubric's rule: mixed when
both positive and negative aspects are present.

Gold: {"overall": ..., "aspects": [{"aspect", "polarity"}]} in order of mention.

Run: python specs/sentiment_aspects/generate.py   (same seed, same file)
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 20260204
N_ITEMS = 400
TEST_FRACTION = 0.3

# aspect -> (positive clauses, negative clauses, neutral mentions that carry no opinion)
CLAUSES: dict[str, tuple[list[str], list[str], list[str]]] = {
    "room": (
        ["The room was spacious and the bed super comfy", "loved our room, huge window and a proper desk",
         "room was not bad at all, actually quite cosy", "Comfortable bed, blackout curtains - slept like a baby"],
        ["The room was tiny, barely space for the suitcase", "bed was saggy and the pillows flat",
         "our room smelled of smoke", "Great, a 'superior' room with a view of the bins"],
        ["We had a twin room on the 4th floor", "the room had a kettle and a safe"],
    ),
    "cleanliness": (
        ["Everything was spotless", "very clean bathroom, fresh towels daily", "housekeeping did a great job"],
        ["hair in the shower and dust under the bed", "the carpet was stained and sticky",
         "bathroom was not clean, mould around the tub"],
        ["housekeeping came at 11"],
    ),
    "staff": (
        ["The staff were lovely, especially Marco at reception", "super friendly and helpful team",
         "staff went out of their way to help us with a late taxi", "The concierge wasn't unhelpful at all, got us great tips"],
        ["the receptionist was rude and rolled her eyes", "Nobody at the desk seemed to care",
         "staff ignored our complaint twice", "Staff? Never saw one after 6pm"],
        ["The night porter speaks Spanish"],
    ),
    "location": (
        ["perfect location, 5 minutes from the old town", "Location is unbeatable, right next to the metro",
         "great spot for walking everywhere"],
        ["location was a pain, 40 min bus to anything", "the area felt unsafe at night",
         "miles from the centre and the shuttle only runs twice a day"],
        ["The hotel is on the main road near the station"],
    ),
    "price": (
        ["great value for money", "cheap for what you get", "worth every penny"],
        ["way overpriced for what it is", "it cost an arm and a leg", "hidden resort fee of 35 a night, seriously?"],
        ["we paid 140 a night", "booked through a travel site"],
    ),
    "breakfast": (
        ["breakfast buffet was amazing, fresh pastries and good coffee", "Loved the breakfast",
         "the eggs at breakfast were cooked to order, delicious"],
        ["breakfast was sad - stale bread and instant coffee", "breakfast ran out of everything by 9",
         "the so-called breakfast was a muffin in plastic"],
        ["breakfast is served from 7 to 10", "we skipped breakfast most days"],
    ),
    "noise": (
        ["very quiet at night", "Couldn't hear a thing from the street"],
        ["paper-thin walls, heard the neighbours all night", "construction noise from 6am",
         "Loved being woken at 3am by the bar downstairs. Not.", "noisy aircon kept us awake"],
        ["The room faces the courtyard"],
    ),
    "wifi": (
        ["wifi was fast enough for video calls", "Internet worked great everywhere"],
        ["wifi kept dropping", "the internet was unusable in the rooms", "had to use my phone hotspot, wifi was that bad"],
        ["the wifi password is on the key card"],
    ),
    "check_in": (
        ["check-in took two minutes", "smooth check in, they even let us in early"],
        ["waited an hour to check in", "check-in was chaos, they lost our booking",
         "room wasn't ready until 5pm despite 3pm check-in"],
        ["check-in is from 3pm"],
    ),
    "pool": (
        ["the rooftop pool was the highlight", "Pool was warm and never crowded"],
        ["pool was closed the whole week with no warning", "the pool was freezing and dirty"],
        ["There is an indoor pool on the ground floor"],
    ),
}
ASPECT_WEIGHTS = {"room": 0.18, "staff": 0.16, "location": 0.14, "cleanliness": 0.12, "breakfast": 0.1,
                  "price": 0.1, "noise": 0.08, "check_in": 0.05, "wifi": 0.04, "pool": 0.03}

CONTEXT = [
    "Stayed 3 nights for a conference.", "We came for a long weekend with the kids.", "Business trip, 2 nights.",
    "Second time here.", "Booked last minute.", "Honeymoon stay in May.", "Travelled with my elderly mum.",
    "We arrived late on a Friday.",
]
CLOSERS_POS = ["Would stay again!", "Highly recommend.", "5 stars from us."]
CLOSERS_NEG = ["Won't be back.", "Avoid.", "Never again."]
CLOSERS_NEUTRAL = ["", "", "Overall it did the job."]


def add_typos(text: str, rng: random.Random, rate: float) -> str:
    """Drop or double letters at ``rate`` per letter."""
    out = []
    for ch in text:
        if ch.isalpha() and rng.random() < rate:
            out.append("" if rng.random() < 0.5 else ch * 2)
        else:
            out.append(ch)
    return "".join(out)


def overall_label(polarities: list[str]) -> str:
    """The rubric's overall rule over the aspect polarities."""
    has_pos, has_neg = "positive" in polarities, "negative" in polarities
    if has_pos and has_neg:
        return "mixed"
    if has_pos:
        return "positive"
    if has_neg:
        return "negative"
    return "neutral"


def review(rng: random.Random) -> tuple[str, dict]:
    """One review text and its gold."""
    n_aspects = rng.choices([0, 1, 2, 3, 4], [0.06, 0.24, 0.32, 0.26, 0.12])[0]
    aspects = []
    pool = list(ASPECT_WEIGHTS)
    weights = [ASPECT_WEIGHTS[a] for a in pool]
    while len(aspects) < n_aspects:
        choice = rng.choices(pool, weights)[0]
        if choice not in aspects:
            aspects.append(choice)
    # Reviewers lean one way: draw a mood, then each aspect mostly follows it.
    mood = rng.choices(["positive", "negative", "split"], [0.45, 0.3, 0.25])[0]
    sentences: list[str] = []
    gold_aspects: list[dict] = []
    if rng.random() < 0.5:
        sentences.append(rng.choice(CONTEXT))
    for aspect in aspects:
        positive, negative, neutral = CLAUSES[aspect]
        if mood == "split":
            polarity = rng.choice(["positive", "negative"])
        else:
            polarity = mood if rng.random() < 0.85 else ("negative" if mood == "positive" else "positive")
        clause = rng.choice(positive if polarity == "positive" else negative)
        sentences.append(clause[0].upper() + clause[1:] + rng.choice([".", "!", ".", "", " :)" if polarity == "positive" else " :("]))
        gold_aspects.append({"aspect": aspect, "polarity": polarity})
    if rng.random() < 0.3:
        # An opinion-free mention of another aspect: must not be labelled.
        other = rng.choice([a for a in CLAUSES if a not in aspects])
        sentences.insert(rng.randint(0, len(sentences)), rng.choice(CLAUSES[other][2]) + ".")
    overall = overall_label([a["polarity"] for a in gold_aspects])
    closer = rng.choice({"positive": CLOSERS_POS, "negative": CLOSERS_NEG}.get(overall, CLOSERS_NEUTRAL))
    if closer and rng.random() < 0.5:
        sentences.append(closer)
    if not sentences:
        sentences.append(rng.choice(CONTEXT))
    text = " ".join(sentences)
    if rng.random() < 0.2:
        text = text.lower()
    if rng.random() < 0.25:
        text = add_typos(text, rng, rng.uniform(0.01, 0.03))
    return text, {"overall": overall, "aspects": gold_aspects}


def generate(seed: int = SEED, n_items: int = N_ITEMS) -> list[dict]:
    """The records of the data set, deterministic for a seed."""
    rng = random.Random(seed)
    records = []
    for index in range(n_items):
        text, gold = review(rng)
        split = "test" if rng.random() < TEST_FRACTION else "train"
        records.append({"id": f"rev-{index:04d}", "review": text, "gold": gold, "split": split})
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
