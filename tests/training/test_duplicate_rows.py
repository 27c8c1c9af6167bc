"""Training rows that repeat an earlier row's inputs: counted, the first one named, in any row order."""

from __future__ import annotations

import random

from distilleval.backends.tinker.rendering import Message
from distilleval.spec.data import Item
from distilleval.training.data import Conversation
from distilleval.training.duplicate_rows import (
    DuplicateRows,
    duplicate_conversations,
    duplicate_items,
    find_duplicate_rows,
)


def _items():
    texts = ["a", "b", "a", "c", "b", "a"]  # lines 1..6: line 3 repeats 1, line 5 repeats 2, line 6 repeats 1
    return [Item(id=f"i{line}", inputs={"text": text}, gold="x" if line % 2 else "y", line=line)
            for line, text in enumerate(texts, start=1)]


def test_repeated_inputs_are_counted_and_the_first_is_named_whatever_the_row_order():
    items = _items()
    expected = DuplicateRows(count=3, line=3, first_line=1, row_id="i3")
    assert duplicate_items(items) == expected
    for seed in range(5):  # items arrive in canonical (hash) order, not file order
        shuffled = items[:]
        random.Random(seed).shuffle(shuffled)
        assert duplicate_items(shuffled) == expected


def test_labels_are_not_compared_and_distinct_inputs_are_no_duplicates():
    # Line 3 and line 1 carry different gold answers: still the same input, trained on twice.
    assert duplicate_items(_items()[:3]) == DuplicateRows(count=1, line=3, first_line=1, row_id="i3")
    assert duplicate_items(_items()[:2]) is None
    # Two input fields: equal only when both are.
    pair = [Item(id="p", inputs={"q": "x", "ctx": "1"}, line=1), Item(id="q", inputs={"q": "x", "ctx": "2"}, line=2)]
    assert duplicate_items(pair) is None


def test_conversations_compare_every_turn_before_the_answer():
    def row(line, system, user, answer):
        return Conversation(line=line, messages=(Message("system", system), Message("user", user), Message("assistant", answer)))

    rows = [row(1, "s", "hi", "a"), row(2, "t", "hi", "a"), row(3, "s", "hi", "b"), row(4, "s", "yo", "a")]
    assert duplicate_conversations(rows) == DuplicateRows(count=1, line=3, first_line=1)


def test_the_warning_line_names_count_first_row_and_what_happens():
    found = find_duplicate_rows([(7, "t7", "k"), (2, "t2", "k"), (9, "t9", "k")])
    assert found.describe("data.jsonl (train split)") == (
        "data.jsonl (train split): 2 training rows repeat an earlier row's inputs (first: line 7, id 't7', "
        "same inputs as line 2); kept, so each copy is trained on")
    assert DuplicateRows(count=1, line=3, first_line=1).describe("train.jsonl") == (
        "train.jsonl: 1 training row repeats an earlier row's inputs (first: line 3, same inputs as line 1); "
        "kept, so each copy is trained on")
