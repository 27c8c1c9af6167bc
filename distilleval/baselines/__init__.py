"""Local baseline students: classical classifiers trained in-process on the training split.

Usage from a command::

    from distilleval.baselines import train_baseline
    trained = train_baseline(spec.baselines[0], split_items(items, "train"))
    outputs = trained.predict_items(split_items(items, "eval"), cpu_usd_per_hour=price.cpu_usd_per_hour)

Baselines apply to label tasks with text inputs only; ``load_spec`` refuses them elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distilleval.baselines.base import BaselineOutput, TrainedBaseline, item_text
    from distilleval.spec.data import Item
    from distilleval.spec.task_spec import BaselineSpec

__all__ = ["BaselineOutput", "TrainedBaseline", "item_text", "train_baseline"]


def __getattr__(name: str):
    # Deferred: the TF-IDF hashing workers import ``baselines.text_features``, and with it this
    # package; importing the spec layer (pydantic) here made each worker 34 MB bigger.
    if name in ("BaselineOutput", "TrainedBaseline", "item_text"):
        from distilleval.baselines import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def train_baseline(
    baseline: BaselineSpec, items: Sequence[Item], labels: Sequence[str] | None = None, *, seed: int = 0
) -> TrainedBaseline:
    """Train the baseline a spec names on labelled items.

    Args:
        baseline: the spec's ``baselines:`` entry.
        items: the training items.
        labels: one label per item (e.g. the teacher's labels); default: each item's gold.
        seed: random state for the classifier.

    The items are fitted in ``canonical_order`` (with their labels), whatever order they come
    in: a solver that visits examples in order (SGD) or sums over them in floating point must
    not give another model for the same items shuffled.

    Returns:
        The fitted baseline, with its training time.

    Raises:
        DataError: missing labels or fewer than two classes.
        ConfigurationError: the baseline's model cannot be loaded.
    """
    from distilleval.baselines.base import training_pairs

    texts, targets = training_pairs(*_in_canonical_order(items, labels))
    if baseline.kind == "tfidf_logreg":
        from distilleval.baselines.tfidf_logreg import train_tfidf_logreg

        return train_tfidf_logreg(texts, targets, name=baseline.display_name, seed=seed)
    from distilleval.baselines.wordllama_logreg import train_wordllama_logreg

    return train_wordllama_logreg(texts, targets, name=baseline.display_name, seed=seed)


def _in_canonical_order(items: Sequence[Item], labels: Sequence[str] | None) -> tuple[list[Item], list[str] | None]:
    """``items`` (and their ``labels``, when given) sorted by the stable hash of each item's id."""
    from distilleval.spec.data import order_key

    order = sorted(range(len(items)), key=lambda n: order_key(items[n].id))
    if labels is None or len(labels) != len(items):
        return [items[n] for n in order], labels if labels is None else list(labels)  # a count mismatch is reported by training_pairs
    return [items[n] for n in order], [labels[n] for n in order]
