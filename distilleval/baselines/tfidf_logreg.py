"""TF-IDF over word and character n-grams, then multinomial logistic regression.

Character n-grams (within word boundaries) make the model robust to the typos real messages
carry; word bigrams catch short phrases like "charged twice".
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from distilleval.baselines.base import TrainedBaseline, single_thread


def train_tfidf_logreg(
    texts: Sequence[str], labels: Sequence[str], *, name: str = "tfidf_logreg", seed: int = 0
) -> TrainedBaseline:
    """Fit the TF-IDF + logistic-regression baseline.

    Args:
        texts: training texts.
        labels: one label per text.
        name: display name.
        seed: random state for the solver (lbfgs is deterministic; kept for symmetry).

    Returns:
        The fitted baseline.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    features = make_union(
        TfidfVectorizer(analyzer="word", ngram_range=(1, 2), lowercase=True, sublinear_tf=True, min_df=1),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), lowercase=True, sublinear_tf=True, min_df=2),
    )
    # tol=1e-3: on BANKING77 this stops after ~20 lbfgs iterations instead of ~50 (9 s vs 48 s on
    # 2 cores) for an accuracy within 0.2 points of the tighter default.
    model = make_pipeline(features, LogisticRegression(C=10.0, tol=1e-3, max_iter=2000, random_state=seed))
    started = time.perf_counter()
    with single_thread():
        model.fit(list(texts), list(labels))
    train_seconds = time.perf_counter() - started

    def predict_one(text: str) -> str:
        return str(model.predict([text])[0])

    def predict_many(texts: list[str]) -> list[str]:
        return [str(label) for label in model.predict(texts)]

    return TrainedBaseline(
        kind="tfidf_logreg",
        name=name,
        train_seconds=train_seconds,
        n_train=len(texts),
        classes=[str(c) for c in model.classes_],
        _predict_one=predict_one,
        _predict_many=predict_many,
    )
