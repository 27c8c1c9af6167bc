"""What every local baseline student shares: its input text, its trained form, its outputs.

A baseline is trained in-process on the labelled training split and then predicts one item at
a time, the way it would serve traffic, so the latency of each prediction can be measured and
priced at a CPU-hour rate.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from distilleval.errors import DataError
from distilleval.spec.data import Item


@dataclass(frozen=True)
class BaselineOutput:
    """One baseline prediction, shaped like the runner's ``ModelOutput`` record.

    Token counts are ``None``: a classical model has no tokens to bill. ``cost_usd`` is the
    CPU-hour price times the measured seconds of this one prediction. ``confidence`` is the
    classifier's probability of the label it predicted (``confidence_basis`` ``class_probability``).
    """

    item_id: str
    text: str | None
    error_kind: str | None
    input_tokens: int | None
    output_tokens: int | None
    latency_ms: float | None
    cost_usd: float
    cache_hit: bool = False
    confidence: float | None = None
    confidence_basis: str | None = None


CLASS_PROBABILITY_BASIS = "class_probability"


def single_thread():
    """Limit BLAS/OpenMP to one thread for the enclosed fit or predictions.

    A baseline is priced as one CPU core busy for the measured time, so it must use one. It is
    also much faster on a shared machine: on 2 loaded cores a multithreaded BANKING77 fit took
    10 s against 0.3 s single-threaded, from thread oversubscription.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def item_text(item: Item) -> str:
    """The text a baseline reads: the single input, or ``field: value`` lines for several."""
    if len(item.inputs) == 1:
        return next(iter(item.inputs.values()))
    return "\n".join(f"{name}: {value}" for name, value in item.inputs.items())


def training_pairs(items: Sequence[Item], labels: Sequence[str] | None) -> tuple[list[str], list[str]]:
    """Texts and labels to fit on; labels default to each item's gold.

    Raises:
        DataError: a label is missing, the counts differ, or fewer than two classes remain.
    """
    if labels is None:
        labels = [item.gold for item in items]
    if len(labels) != len(items):
        raise DataError(f"baseline training: {len(items)} items but {len(labels)} labels")
    texts: list[str] = []
    kept: list[str] = []
    for item, label in zip(items, labels):
        if label is None or label == "":
            raise DataError(f"baseline training: item {item.id!r} (line {item.line}) has no label")
        texts.append(item_text(item))
        kept.append(str(label))
    if len(set(kept)) < 2:
        raise DataError(f"baseline training needs at least two classes; found {sorted(set(kept))}")
    return texts, kept


@dataclass
class TrainedBaseline:
    """A fitted baseline: predicts one label per text.

    Attributes:
        kind: ``tfidf_logreg`` or ``wordllama_logreg``.
        name: the display name from the spec.
        train_seconds: wall-clock seconds spent fitting (features included).
        n_train: how many items it was fitted on.
        classes: the labels it can predict.
    """

    kind: str
    name: str
    train_seconds: float
    n_train: int
    classes: list[str]
    _predict_one: Callable[[str], str]
    _predict_many: Callable[[list[str]], list[str]]
    _probabilities: Callable[[list[str]], list[float]] | None = None
    """The probability of the predicted label for each text (None: the model gives none)."""

    def label_probabilities(self, texts: Sequence[str]) -> list[float] | None:
        """The classifier's probability of its predicted label for each text (None when it has none)."""
        if self._probabilities is None:
            return None
        with single_thread():
            return [float(p) for p in self._probabilities(list(texts))]

    def predict_text(self, text: str) -> str:
        """The predicted label for one raw text."""
        return self._predict_one(text)

    def predict_texts(self, texts: Sequence[str]) -> list[str]:
        """Predicted labels for many texts in one vectorised call (untimed; for accuracy checks)."""
        with single_thread():
            return self._predict_many(list(texts))

    def predict(self, item: Item) -> str:
        """The predicted label for one item."""
        return self._predict_one(item_text(item))

    def predict_items(self, items: Sequence[Item], *, cpu_usd_per_hour: float) -> list[BaselineOutput]:
        """Predict every item one at a time, timing and pricing each prediction.

        Args:
            items: the items to predict (usually the eval split).
            cpu_usd_per_hour: the ``local/cpu`` price from the pricing table.

        Returns:
            One ``BaselineOutput`` per item, in order.
        """
        import dataclasses

        with single_thread():
            outputs = self._timed_outputs(items, cpu_usd_per_hour)
        # Computed apart from the timed predictions: the confidence is a by-product a service need not pay for.
        probabilities = self.label_probabilities([item_text(item) for item in items]) if items else None
        if probabilities is None:
            return outputs
        return [dataclasses.replace(output, confidence=p, confidence_basis=CLASS_PROBABILITY_BASIS)
                for output, p in zip(outputs, probabilities)]

    def _timed_outputs(self, items: Sequence[Item], cpu_usd_per_hour: float) -> list[BaselineOutput]:
        from distilleval.costs.cost_model import cpu_cost_per_request_usd

        outputs: list[BaselineOutput] = []
        for item in items:
            text = item_text(item)
            started = time.perf_counter()
            label = self._predict_one(text)
            seconds = time.perf_counter() - started
            outputs.append(
                BaselineOutput(
                    item_id=item.id,
                    text=label,
                    error_kind=None,
                    input_tokens=None,
                    output_tokens=None,
                    latency_ms=seconds * 1000.0,
                    # One core is busy for the whole prediction, so wall time stands in for CPU time.
                    cost_usd=cpu_cost_per_request_usd(cpu_usd_per_hour, seconds),
                )
            )
        return outputs
