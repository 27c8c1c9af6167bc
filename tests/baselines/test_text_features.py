"""Hashed word + character TF-IDF: equal to scikit-learn's TF-IDF per block, the same on any number of workers."""

from __future__ import annotations

import numpy as np
import pytest

from distilleval.baselines import text_features
from distilleval.baselines.text_features import WORD_COLUMNS, HashedTfidf

TEXTS = ["my card was charged twice", "Where is my card?", "refund please, refund", "", "ünïcode téxt 123"] * 4


def sklearn_blocks(train: list[str], new: list[str]) -> np.ndarray:
    from sklearn.feature_extraction.text import TfidfTransformer

    blocks = []
    for hasher in text_features._hashers():
        weigh = TfidfTransformer(sublinear_tf=True).fit(hasher.transform(train))
        blocks.append(weigh.transform(hasher.transform(new)).toarray())
    return np.hstack(blocks)


def test_each_block_equals_scikit_learns_sublinear_tfidf():
    features = HashedTfidf()
    assert np.allclose(features.fit_transform(TEXTS).toarray(), sklearn_blocks(TEXTS, TEXTS), atol=1e-6)
    new = ["card charged", "nothing known here"]
    assert np.allclose(features.transform(new).toarray(), sklearn_blocks(TEXTS, new), atol=1e-6)


def test_words_and_characters_each_have_unit_length():
    matrix = HashedTfidf().fit_transform(["charged twice for one order"]).toarray()[0]
    assert np.linalg.norm(matrix[:WORD_COLUMNS]) == pytest.approx(1.0, abs=1e-6)
    assert np.linalg.norm(matrix[WORD_COLUMNS:]) == pytest.approx(1.0, abs=1e-6)


def test_worker_processes_give_the_same_matrix(monkeypatch):
    monkeypatch.setattr(text_features, "PARALLEL_FROM_TEXTS", 10)
    monkeypatch.setattr(text_features, "CHUNK_TEXTS", 7)
    texts = [f"message {n} about card {n % 5} and refund {n % 3}" for n in range(40)]
    serial = HashedTfidf(workers=1).fit_transform(texts)
    parallel = HashedTfidf(workers=2).fit_transform(texts)
    assert (serial != parallel).nnz == 0 and serial.shape == parallel.shape


def test_transform_before_fit_is_refused():
    with pytest.raises(RuntimeError):
        HashedTfidf().transform(["x"])


TRICKY = ["", " ", "a", "a b c d e f", "İSTANBUL İİİ", "ß straße", "tabs\tand\n\nnew  lines   here", "x" * 300,
          "emoji 🙂🙂 and ünïcode", "I I I I I I", "ab " * 50]


def test_most_nonzeros_bounds_every_rows_nonzeros():
    counts = text_features.count_ngrams(TRICKY)
    for n, text in enumerate(TRICKY):
        assert counts[n].nnz <= text_features.most_nonzeros([text]), text
    assert counts.nnz <= text_features.most_nonzeros(TRICKY)


def test_a_bound_that_is_too_small_still_gives_every_row(monkeypatch):
    expected = HashedTfidf().fit_transform(TRICKY * 3)
    monkeypatch.setattr(text_features, "most_nonzeros", lambda texts: 5)
    monkeypatch.setattr(text_features, "CHUNK_TEXTS", 4)
    grown = HashedTfidf().fit_transform(TRICKY * 3)
    assert (grown != expected).nnz == 0 and grown.shape == expected.shape
