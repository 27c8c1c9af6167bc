"""WordLlama embeddings + logistic regression baseline: offline, real training and predictions."""

from __future__ import annotations

import socket

import pytest

from distilleval.baselines import train_baseline
from distilleval.baselines.wordllama_logreg import load_wordllama
from distilleval.spec.task_spec import BaselineSpec
from tests.baselines.helpers import (
    accuracy,
    banking77_splits,
    majority_share,
    public_intent_set,
    train_on_ticket_routing,
)

WORDLLAMA = BaselineSpec(kind="wordllama_logreg")


def test_loads_without_any_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("wordllama tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    load_wordllama.cache_clear()
    encoder = load_wordllama()
    vectors = encoder.embed(["my card has not arrived", "refund please"], norm=True)
    assert vectors.shape == (2, 256)


@pytest.fixture(scope="module")
def ticket_model():
    return train_on_ticket_routing(WORDLLAMA)


def test_learns_ticket_routing_well_above_chance(ticket_model):
    trained, evaluation, n_labels = ticket_model
    score = accuracy([trained.predict(item) for item in evaluation], evaluation)
    assert score > 2 * majority_share(evaluation)
    assert score > 0.55 > 3 / n_labels
    assert trained.kind == "wordllama_logreg"


def test_same_seed_same_predictions(ticket_model):
    trained, evaluation, _ = ticket_model
    again, _, _ = train_on_ticket_routing(WORDLLAMA)
    assert [again.predict(i) for i in evaluation] == [trained.predict(i) for i in evaluation]


def test_banking77_full_train_split_accuracy_in_a_sane_range(shared_data):
    train, test = banking77_splits(shared_data)
    trained = train_baseline(WORDLLAMA, train, seed=0)
    score = accuracy(trained.predict_texts([item.inputs["text"] for item in test]), test)
    assert 0.80 <= score <= 0.95, score


def test_long_texts_are_embedded_in_small_batches_with_the_same_vectors(monkeypatch):
    # WordLlama pads a batch to its longest text: one 1 MB field in a batch of 64 grew an
    # offline run to 21 GB. Batches are now cut by texts x longest length.
    import numpy as np

    from distilleval.baselines import wordllama_logreg

    encoder = wordllama_logreg.load_wordllama()
    texts = ["short text", "word " * 3000, "billing issue with my card", "a", "word " * 10, "word " * 2000]
    calls = []
    real_embed = encoder.embed

    def recording_embed(batch, **kwargs):
        calls.append(len(batch) * max(len(t) for t in batch))
        return real_embed(batch, **kwargs)

    monkeypatch.setattr(wordllama_logreg, "PADDED_CHARS_PER_BATCH", 16_000)
    monkeypatch.setattr(encoder, "embed", recording_embed)
    vectors = wordllama_logreg.embed_texts(encoder, texts)
    assert np.allclose(vectors, real_embed(texts, norm=True))
    assert max(calls) <= 16_000 and len(calls) == 3  # 4 short texts together, each long text alone


@pytest.mark.parametrize("data_set", ["banking77", "hwu64", "snips"])
def test_within_one_point_of_a_fully_converged_fit_on_the_same_embeddings(shared_data, data_set):
    # A seeded random 2,000 of each training split keeps this fast; the test split is whole.
    # The reference fits the same C on the same embeddings with lbfgs to a 1e-8 gradient tolerance.
    from sklearn.linear_model import LogisticRegression

    from distilleval.baselines.base import single_thread
    from distilleval.baselines.wordllama_logreg import C, train_wordllama_logreg

    train_texts, train_labels, test_texts, test_labels = public_intent_set(shared_data, data_set, train_limit=2000)
    trained = train_wordllama_logreg(train_texts, train_labels, seed=0)
    score = sum(p == g for p, g in zip(trained.predict_texts(test_texts), test_labels)) / len(test_labels)

    encoder = load_wordllama()
    reference = LogisticRegression(C=C, tol=1e-8, max_iter=100_000)
    with single_thread():
        reference.fit(encoder.embed(train_texts, norm=True), train_labels)
        reference_score = (reference.predict(encoder.embed(test_texts, norm=True)) == test_labels).mean()
    assert int(reference.n_iter_.max()) < 100_000  # it did converge
    assert score >= reference_score - 0.01, (data_set, score, reference_score)


def test_each_predictions_confidence_is_the_probability_of_its_label(ticket_model):
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from distilleval.baselines.base import item_text, single_thread
    from distilleval.baselines.wordllama_logreg import C, embed_texts
    from tests.baselines.helpers import ticket_routing_splits

    trained, evaluation, n_labels = ticket_model
    train, _, _ = ticket_routing_splits()
    # The truth, computed apart: the same embeddings and fit, through scikit-learn's predict_proba.
    encoder = load_wordllama()
    reference = LogisticRegression(C=C, max_iter=3000, random_state=0)
    # Fitted on one BLAS thread, as the baseline is: with more threads the sums run in another order and
    # the solver stops a few 1e-5 away, which this comparison would read as a different model.
    with single_thread():
        reference.fit(embed_texts(encoder, [item_text(i) for i in train]), [i.gold for i in train])
    texts = [item_text(i) for i in evaluation[:30]]
    truth = reference.predict_proba(embed_texts(encoder, texts)).max(axis=1)
    outputs = trained.predict_items(evaluation[:30], cpu_usd_per_hour=0.0)
    assert [o.confidence for o in outputs] == pytest.approx(list(truth), abs=1e-6)
    assert all(1 / n_labels <= o.confidence <= 1 for o in outputs) and np.isfinite(truth).all()
    assert {o.confidence_basis for o in outputs} == {"class_probability"}
