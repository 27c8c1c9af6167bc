"""Near-duplicates by character 3-gram TF-IDF cosine: exact values where they are known, the
threshold applied at or above, order of candidates deciding which twin survives."""

import math

import pytest

from distilleval.training.near_duplicates import filter_near_duplicates, nearest, normalise


def test_identical_texts_score_one_and_disjoint_texts_zero():
    (same,), (none,) = nearest(["Refund  my ORDER"], ["refund my order"]), nearest(["abcabc"], ["xyzxyz"])
    assert same.similarity == pytest.approx(1.0) and same.index == 0
    assert none.similarity == 0.0


def test_one_shared_trigram_of_two_gives_the_cosine_of_the_idf_weights():
    # "abcd" has 3-grams abc, bcd; "abce" has abc, bce. Over these two texts every 3-gram but
    # abc appears once: idf(abc) = 1 + ln(3/3) = 1, idf(other) = 1 + ln(3/2).
    rare = 1 + math.log(3 / 2)
    expected = 1 / (1 + rare**2)
    assert nearest(["abcd"], ["abce"])[0].similarity == pytest.approx(expected)


def test_the_most_similar_reference_is_found_across_chunks(monkeypatch):
    import distilleval.training.near_duplicates as module

    monkeypatch.setattr(module, "REFERENCE_CHUNK", 2)
    references = ["shipping delayed again", "the app crashes on login", "invoice charged twice", "refund my blender"]
    (match,) = nearest(["please refund my blender"], references)
    assert match.index == 3 and match.similarity > 0.7


def test_filter_drops_eval_twins_and_later_copies_and_names_them():
    verdicts = filter_near_duplicates(
        ["Refund my blender please!", "new text about a lamp", "New text about a lamp.", "something else entirely"],
        {"eval": ["refund my blender please"], "train": ["unrelated words here"]},
        threshold=0.9, reference_ids={"eval": ["ev-1"], "train": ["tr-1"]},
    )
    assert [v.kept for v in verdicts] == [False, True, False, True]
    assert (verdicts[0].of_kind, verdicts[0].of) == ("eval", "ev-1") and verdicts[0].similarity >= 0.9
    assert (verdicts[2].of_kind, verdicts[2].of) == ("generated", "new text about a lamp")


def test_threshold_is_inclusive_and_checked():
    (match,) = nearest(["abcd"], ["abce"])
    at = filter_near_duplicates(["abcd"], {"eval": ["abce"]}, threshold=match.similarity)
    above = filter_near_duplicates(["abcd"], {"eval": ["abce"]}, threshold=min(1.0, match.similarity + 1e-9))
    assert not at[0].kept and above[0].kept
    with pytest.raises(ValueError):
        filter_near_duplicates(["a"], {}, threshold=0)


def test_normalise_and_short_texts():
    assert normalise("  A\tB \n c ") == "a b c"
    assert nearest(["ok"], ["OK"])[0].similarity == pytest.approx(1.0)
    assert nearest([], ["x"]) == [] and nearest(["x"], []) == [None]
