"""WordLlama sentence embeddings, then multinomial logistic regression.

WordLlama ships its 256-dimensional token embeddings inside the PyPI package and needs only
numpy, so this baseline runs with no network and no GPU. It is loaded from the installed
package folder with downloads disabled: a missing file is an error, never a fetch.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from distilleval.baselines.base import TrainedBaseline, single_thread
from distilleval.errors import ConfigurationError

C = 20.0


@lru_cache(maxsize=1)
def load_wordllama():
    """The packaged WordLlama model, loaded offline (cached for the process).

    Raises:
        ConfigurationError: wordllama is not installed or its bundled weights are missing.
    """
    try:
        import wordllama
        from wordllama import WordLlama
    except ImportError:
        raise ConfigurationError(
            "baseline wordllama_logreg needs the 'wordllama' package: pip install wordllama"
        ) from None
    package_dir = Path(wordllama.__file__).parent
    try:
        return WordLlama.load(cache_dir=package_dir, disable_download=True)
    except (FileNotFoundError, OSError, ValueError) as err:
        raise ConfigurationError(f"cannot load the bundled WordLlama weights from {package_dir}: {err}") from None


PADDED_CHARS_PER_BATCH = 1 << 20
"""WordLlama pads each batch to its longest text, so one very long text in a batch of 64 made
64 copies of its length (a 1 MB field grew a run to 21 GB). Batches are cut so that texts x
the longest text's characters stays under this (about 1 GB of float32 vectors at most)."""


def embed_texts(encoder, texts: Sequence[str]):
    """Normalised sentence vectors of ``texts`` (in order), batched by length to bound memory.

    Mean pooling ignores padding, so the vectors are those of embedding each text alone.
    """
    import numpy as np

    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vectors = np.empty((len(texts), encoder.embedding.shape[1]), dtype=np.float32)
    start = 0
    while start < len(order):
        end = start + 1
        # Sorted by length, the last text of a batch is its longest.
        while end < len(order) and end - start < 64:
            if (end + 1 - start) * max(1, len(texts[order[end]])) > PADDED_CHARS_PER_BATCH:
                break
            end += 1
        batch = [texts[i] for i in order[start:end]]
        vectors[order[start:end]] = encoder.embed(batch, norm=True, batch_size=len(batch))
        start = end
    return vectors


def train_wordllama_logreg(
    texts: Sequence[str], labels: Sequence[str], *, name: str = "wordllama_logreg", seed: int = 0
) -> TrainedBaseline:
    """Fit the embedding + logistic-regression baseline.

    Args:
        texts: training texts.
        labels: one label per text.
        name: display name.
        seed: random state for the solver.

    Returns:
        The fitted baseline.

    Raises:
        ConfigurationError: the embedding model cannot be loaded.
    """
    from sklearn.linear_model import LogisticRegression

    started = time.perf_counter()
    encoder = load_wordllama()
    classifier = LogisticRegression(C=C, max_iter=3000, random_state=seed)
    with single_thread():
        vectors = embed_texts(encoder, list(texts))
        classifier.fit(vectors, list(labels))
    train_seconds = time.perf_counter() - started

    def predict_one(text: str) -> str:
        return str(classifier.predict(embed_texts(encoder, [text]))[0])

    def predict_many(texts: list[str]) -> list[str]:
        return [str(label) for label in classifier.predict(embed_texts(encoder, texts))]

    def probabilities(texts: list[str]) -> list[float]:
        return [float(row.max()) for row in classifier.predict_proba(embed_texts(encoder, texts))]

    return TrainedBaseline(
        kind="wordllama_logreg",
        name=name,
        train_seconds=train_seconds,
        n_train=len(texts),
        classes=[str(c) for c in classifier.classes_],
        _predict_one=predict_one,
        _predict_many=predict_many,
        _probabilities=probabilities,
    )
