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


# -- Unicode forms --------------------------------------------------------------------------------

import unicodedata  # noqa: E402

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

RULE_SETS = st.builds(TextNormalization, case=st.booleans(), whitespace=st.booleans(), punctuation=st.booleans())
# Letters with and without combining marks, spaces, ASCII punctuation and characters whose
# NFC or case folding is special (U+037E composes to ';', U+01F0 folds to a decomposed pair,
# U+0130 folds to i + a combining dot, the Kelvin sign composes to K): where order matters.
TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from("aeEcC \t-!.;\u0301\u0300\u0327\u0308\u037e\u01f0\u0130\u212a\u00e9\u00c9\u00df\u1e9e\u0345"),
        st.characters(codec="utf-8"),
    ),
    max_size=12,
)


def test_a_decomposed_label_matches_the_composed_one():
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    matcher = LabelMatcher([composed, "other"], TextNormalization())
    assert matcher.match(decomposed) == composed
    assert LabelMatcher([decomposed], TextNormalization()).match(composed) == decomposed
    assert LabelMatcher([composed], TextNormalization(case=True)).match("CAFE\u0301") == composed
    assert label_collision(["other", composed, decomposed], TextNormalization()) == (1, 2)


@given(TEXT, RULE_SETS)
def test_normalisation_is_idempotent(text, rules):
    once = normalize_text(text, rules)
    assert normalize_text(once, rules) == once
    assert unicodedata.is_normalized("NFC", once)


@given(TEXT, RULE_SETS)
def test_normalisation_does_not_depend_on_the_unicode_form_it_is_given(text, rules):
    expected = normalize_text(text, rules)
    for form in ("NFC", "NFD"):
        assert normalize_text(unicodedata.normalize(form, text), rules) == expected


@given(st.lists(TEXT, min_size=1, max_size=6), st.lists(TEXT, max_size=4), RULE_SETS, st.randoms(use_true_random=False))
def test_matching_and_collisions_do_not_depend_on_label_order(labels, queries, rules, random):
    shuffled = list(labels)
    random.shuffle(shuffled)
    keys = [normalize_text(label, rules) for label in labels]
    distinct = len(set(keys)) == len(keys)
    assert (label_collision(labels, rules) is None) == distinct == (label_collision(shuffled, rules) is None)
    if distinct:  # a set the spec loader accepts: every spelling names the same label whatever the order
        forward, backward = LabelMatcher(labels, rules), LabelMatcher(shuffled, rules)
        for query in [*queries, *labels, *(unicodedata.normalize("NFD", label) for label in labels)]:
            assert forward.match(query) == backward.match(query)
