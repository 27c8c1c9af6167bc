"""The shared baseline plumbing: training pairs, per-item timed and priced outputs."""

from __future__ import annotations

import pytest

from distilleval.baselines import BaselineOutput, item_text, train_baseline
from distilleval.baselines.base import training_pairs
from distilleval.errors import DataError
from distilleval.spec.data import Item
from distilleval.spec.task_spec import BaselineSpec
from tests.baselines.helpers import ticket_routing_splits


def test_item_text_joins_several_inputs_with_their_names():
    single = Item(id="a", inputs={"text": "hello"})
    double = Item(id="b", inputs={"subject": "Refund", "body": "where is it"})
    assert item_text(single) == "hello"
    assert item_text(double) == "subject: Refund\nbody: where is it"


def test_training_refuses_missing_labels_and_single_class():
    items = [Item(id="a", inputs={"text": "x"}, gold="billing"), Item(id="b", inputs={"text": "y"}, gold=None, line=7)]
    with pytest.raises(DataError, match="line 7"):
        training_pairs(items, None)
    with pytest.raises(DataError, match="two classes"):
        training_pairs([items[0]], None)
    with pytest.raises(DataError, match="2 items but 1 labels"):
        training_pairs(items, ["billing"])


def test_explicit_labels_override_gold():
    train, _, _ = ticket_routing_splits()
    # Train on teacher labels that disagree with the gold: predictions must follow the labels given.
    flipped = ["billing" if item.gold != "billing" else "shipping" for item in train]
    trained = train_baseline(BaselineSpec(kind="tfidf_logreg"), train, flipped)
    predictions = [trained.predict(item) for item in train]
    assert sum(p == f for p, f in zip(predictions, flipped)) / len(train) > 0.9


def test_predict_items_times_and_prices_each_prediction():
    train, evaluation, _ = ticket_routing_splits()
    trained = train_baseline(BaselineSpec(kind="tfidf_logreg", name="tfidf"), train)
    outputs = trained.predict_items(evaluation[:20], cpu_usd_per_hour=3600.0)
    assert [o.item_id for o in outputs] == [i.id for i in evaluation[:20]]
    for output in outputs:
        assert isinstance(output, BaselineOutput)
        assert output.text in trained.classes and output.error_kind is None
        assert output.input_tokens is None and output.output_tokens is None
        assert output.latency_ms > 0
        # At $3600/h a second costs $1: cost in dollars equals latency in seconds.
        assert output.cost_usd == pytest.approx(output.latency_ms / 1000.0)
    assert trained.name == "tfidf"


def test_batch_and_single_predictions_agree():
    train, evaluation, _ = ticket_routing_splits()
    for kind in ("tfidf_logreg", "wordllama_logreg"):
        trained = train_baseline(BaselineSpec(kind=kind), train)
        texts = [item_text(item) for item in evaluation[:40]]
        assert trained.predict_texts(texts) == [trained.predict_text(t) for t in texts]


@pytest.mark.parametrize("kind", ["tfidf_logreg", "wordllama_logreg"])
def test_the_fit_does_not_depend_on_the_order_of_its_items(kind):
    """SGD visits examples in order and solvers sum in floating point: items are fitted in canonical order."""
    import random

    train, evaluation, _ = ticket_routing_splits()
    shuffled = list(train)
    random.Random(9).shuffle(shuffled)
    assert shuffled != list(train)
    texts = [item_text(item) for item in evaluation]
    labels = {item.id: f"{item.gold}" for item in train}
    fits = [train_baseline(BaselineSpec(kind=kind), items, [labels[item.id] for item in items], seed=0)
            for items in (train, shuffled)]
    assert fits[0].predict_texts(texts) == fits[1].predict_texts(texts)
