"""The label set under the scorer's normalisation: matching, collisions, and the rules in words."""

from __future__ import annotations

from distilleval.spec.labels import LabelMatcher, describe_rules, label_collision, normalize_text
from distilleval.spec.scorer_config import TextNormalization

ALL = TextNormalization(case=True, whitespace=True, punctuation=True)


def test_normalize_applies_only_the_declared_rules():
    assert normalize_text(" Bal-ance ", ALL) == "balance"
    assert normalize_text(" Bal-ance ", TextNormalization(case=True)) == " bal-ance "


def test_matcher_maps_spellings_and_aliases_to_the_label():
    matcher = LabelMatcher(["card_lost", "refund"], ALL, {"refund": ["money back"]})
    assert matcher.match("Card_Lost") == "card_lost"
    assert matcher.match(" Money  back!") == "refund"
    assert matcher.match("chargeback") is None


def test_collisions_are_found_only_under_the_rules_that_cause_them():
    labels = ["balance", "refund", "Balance", "bal-ance"]
    assert label_collision(labels, ALL) == (0, 2)
    assert label_collision(["balance", "bal-ance"], TextNormalization(punctuation=True)) == (0, 1)
    assert label_collision(labels, TextNormalization()) is None
    assert label_collision([], ALL) is None


def test_rules_in_words():
    assert describe_rules(ALL) == "case, whitespace, punctuation"
    assert describe_rules(TextNormalization()) == "none"
