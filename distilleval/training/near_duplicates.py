"""Near-duplicate inputs: character 3-gram TF-IDF cosine similarity against a threshold.

Two texts are near-duplicates when the cosine of their character 3-gram TF-IDF vectors is at
or above the threshold. Texts are lower-cased and their whitespace collapsed first; 3-grams
run across word boundaries; the idf is smoothed (``1 + log((1 + n) / (1 + df))``) and fitted
on every text compared at once (reference and candidates), and each vector is L2-normalised.
Identical texts score 1, texts sharing no 3-gram score 0, and changing a few characters of a
long text keeps it near 1, which is what makes a generated input that paraphrases an eval
item by a word or two count as that item.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

NGRAM = 3
REFERENCE_CHUNK = 20_000
METHOD = "character 3-gram TF-IDF cosine (lower-cased, whitespace collapsed, smoothed idf over all texts compared)"

_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """``text`` lower-cased with runs of whitespace made one space, ends stripped."""
    return _SPACE.sub(" ", text).strip().lower()


@dataclass(frozen=True)
class Match:
    """The most similar reference text of a candidate."""

    index: int
    similarity: float


def _vectoriser(texts: list[str]):
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    # A text shorter than 3 characters still gets a vector: pad it to one 3-gram of itself.
    vectoriser = TfidfVectorizer(analyzer="char", ngram_range=(NGRAM, NGRAM), lowercase=False, smooth_idf=True,
                                 norm="l2", dtype=np.float64)
    vectoriser.fit(texts)
    return vectoriser


def _padded(text: str) -> str:
    text = normalise(text)
    return text if len(text) >= NGRAM else text.ljust(NGRAM, "\x00")


def nearest(candidates: Sequence[str], reference: Sequence[str]) -> list[Match | None]:
    """For each candidate, its most similar reference text (None when there is no reference).

    Ties go to the lowest reference index, so the answer does not depend on anything but the
    texts and their order in ``reference``.
    """
    if not candidates:
        return []
    if not reference:
        return [None] * len(candidates)
    import numpy as np

    cands, refs = [_padded(t) for t in candidates], [_padded(t) for t in reference]
    vectoriser = _vectoriser(cands + refs)
    left = vectoriser.transform(cands)
    best = np.full(len(cands), -1.0)
    where = np.zeros(len(cands), dtype=int)
    # Reference texts in chunks: memory stays at candidates x chunk, however many eval items there are.
    for start in range(0, len(refs), REFERENCE_CHUNK):
        block = (left @ vectoriser.transform(refs[start : start + REFERENCE_CHUNK]).T).toarray()
        index = block.argmax(axis=1)
        value = block[np.arange(len(cands)), index]
        better = value > best  # strictly: a tie keeps the earlier reference
        best[better], where[better] = value[better], index[better] + start
    return [Match(int(i), min(1.0, float(v))) for i, v in zip(where, best)]


@dataclass(frozen=True)
class Verdict:
    """What happened to one candidate: kept, or dropped as a near-duplicate of ``of``."""

    text: str
    kept: bool
    of: str | None = None
    of_kind: str | None = None
    similarity: float | None = None


def filter_near_duplicates(candidates: Sequence[str], references: dict[str, Sequence[str]], *, threshold: float,
                           reference_ids: dict[str, Sequence[str]] | None = None) -> list[Verdict]:
    """Keep the candidates that are no near-duplicate of a reference text or of a kept candidate.

    Candidates are judged in the order given: one that is a near-duplicate of an earlier kept
    candidate is dropped, so of a group of near-duplicates only the first survives.

    Args:
        candidates: new texts.
        references: kind (e.g. ``eval``, ``train``) -> texts no candidate may repeat.
        threshold: cosine at or above which two texts are near-duplicates, in (0, 1].
        reference_ids: kind -> an id per reference text, named in the verdicts (default: the text).

    Returns:
        One verdict per candidate, in order.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    verdicts: list[Verdict | None] = [None] * len(candidates)
    for kind, texts in references.items():
        ids = (reference_ids or {}).get(kind, texts)
        for position, match in enumerate(nearest(candidates, texts)):
            if verdicts[position] is None and match is not None and match.similarity >= threshold:
                verdicts[position] = Verdict(candidates[position], False, str(ids[match.index]), kind, match.similarity)
    survivors = [n for n, verdict in enumerate(verdicts) if verdict is None]
    if survivors:
        texts = [candidates[n] for n in survivors]
        from sklearn.metrics.pairwise import linear_kernel

        padded = [_padded(t) for t in texts]
        vectors = _vectoriser(padded).transform(padded)
        similarity = linear_kernel(vectors, vectors)
        kept: list[int] = []
        for row, position in enumerate(survivors):
            twin = next((k for k in kept if similarity[row, k] >= threshold), None)
            if twin is None:
                kept.append(row)
                verdicts[position] = Verdict(candidates[position], True)
            else:
                verdicts[position] = Verdict(candidates[position], False, texts[twin], "generated",
                                             min(1.0, float(similarity[row, twin])))
    return [verdict for verdict in verdicts if verdict is not None]
