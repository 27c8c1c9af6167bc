"""The small sentiment task the real-server tests run: reviews, rubric and spec, written by hand."""

from __future__ import annotations

import json
import string
from pathlib import Path

# (review, gold label). Short, so the whole tier stays within a couple of minutes on two cores.
REVIEWS = (
    ("The soup was cold and the waiter ignored us all evening.", "negative"),
    ("Best pizza I have had in years, we will be back.", "positive"),
    ("The battery died after two days. Total waste of money.", "negative"),
    ("Lovely staff, spotless room and a great view of the sea.", "positive"),
    ("It broke the first time I used it.", "negative"),
    ("Fast delivery and the shoes fit perfectly.", "positive"),
    ("The film was boring and far too long.", "negative"),
    ("A wonderful book, I could not put it down.", "positive"),
    ("Rude driver, dirty car, and we arrived late.", "negative"),
    ("The headphones sound amazing for the price.", "positive"),
    ("Customer service never answered my emails.", "negative"),
    ("Our guide was funny and knew everything about the castle.", "positive"),
    ("The app crashes every time I open the camera.", "negative"),
    ("Fresh bread, friendly baker, fair prices.", "positive"),
    ("The paint peeled off within a week.", "negative"),
    ("My kids loved the museum and so did I.", "positive"),
)

RUBRIC = """You label the sentiment of customer reviews.
Read the review and decide whether the customer is happy or unhappy.
Answer with exactly one word, in lower case: positive or negative.
Do not explain your answer.
"""

TEACHER_MODEL = "smollm2-teacher"
STUDENT_MODEL = "smollm2-student"

# The price rows the spec uses, copied from pricing/2026-02.yaml (US$ per 1M tokens) so that the
# tests price the server's usage by hand: the teacher's row has a cached-input rate, the
# student's has none (its cached tokens are billed at the full input rate).
TEACHER_PRICE_AS = "openai/gpt-5.2"
TEACHER_RATES = {"input": 1.75, "cached_input": 0.175, "output": 14.00}
STUDENT_PRICE_AS = "tinker/lora"
STUDENT_RATES = {"input": 0.10, "cached_input": 0.10, "output": 0.10}


LABELS = ("positive", "negative")
STUDENT_MIN = 0.5  # the spec's gate on the student's accuracy

def write_task(folder: Path, api_base: str, *, fast_path: bool = False, max_tokens: int = 6) -> Path:
    """Write data, rubric and spec.yaml into ``folder``; models served at ``api_base``.

    The teacher gets the rubric as its system message and ``Review: ...\\nSentiment:``; the
    student gets the raw review.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "reviews.jsonl").open("w") as handle:
        for number, (review, label) in enumerate(REVIEWS):
            row = {"id": f"r{number:02d}", "review": review, "label": label, "split": "eval"}
            handle.write(json.dumps(row) + "\n")
    (folder / "rubric.md").write_text(RUBRIC)
    (folder / "spec.yaml").write_text(
        f"""name: review_sentiment
data: {{path: reviews.jsonl, input: {{text: review}}, gold: label, id: id, split: {{column: split}}}}
output: {{kind: label, labels: [positive, negative]}}
scorer: {{kind: exact_match, normalize: {{case: true, whitespace: true, punctuation: true}}}}
gates: {{student_min: {STUDENT_MIN}, non_inferiority_margin: 0.05, max_error_rate: 0.0}}
teacher:
  model: openai/{TEACHER_MODEL}
  system: rubric.md
  prompt: "Review: {{text}}\\nSentiment:"
  max_tokens: {max_tokens}
  api_base: {api_base}
  price_as: {TEACHER_PRICE_AS}
  timeout_s: 120
student:
  model: openai/{STUDENT_MODEL}
  prompt: "{{text}}"
  max_tokens: {max_tokens}
  api_base: {api_base}
  price_as: {STUDENT_PRICE_AS}
  fast_path: {str(fast_path).lower()}
  timeout_s: 120
"""
    )
    return folder / "spec.yaml"


def normalized_answer(text: str | None) -> str:
    """An answer as the spec's scorer compares it: punctuation dropped, lower case, single spaces."""
    kept = "".join(ch for ch in (text or "") if ch not in string.punctuation)
    return " ".join(kept.lower().split())
