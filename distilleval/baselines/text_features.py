"""TF-IDF over hashed word and character n-grams, in bounded memory and on several cores.

Word 1-2-grams and character 2-5-grams (within word boundaries) are hashed into fixed
numbers of columns, so no vocabulary is held and the width of the matrix (and of any linear
model on it) does not grow with the data: 150,000 messages cost what their non-zeros cost.
Each block is weighted like scikit-learn's ``TfidfVectorizer(sublinear_tf=True)``
(``1 + log tf`` times the smoothed idf) and L2-normalised on its own, so words and
characters weigh the same. Hashing, the slow pure-Python part, runs in (at most
``MAX_HASH_WORKERS``) worker processes over chunks of texts when there are enough of them; the
blocks they return are copied into one matrix as they come, so it is held once.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

WORD_COLUMNS = 2**16
CHAR_COLUMNS = 2**17
CHUNK_TEXTS = 4000
MAX_WORKERS = 4
# Each hashing worker is a fresh interpreter holding scikit-learn (about 140 MB resident), so
# at most two whatever the number of cores: each further one adds about 140 MB to the peak.
MAX_HASH_WORKERS = 2
# Below this many texts, starting worker interpreters costs more than hashing in this one.
PARALLEL_FROM_TEXTS = 20_000


def available_cores() -> int:
    """CPU cores this process may run on (its affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _hashers():
    from sklearn.feature_extraction.text import HashingVectorizer

    common = dict(lowercase=True, alternate_sign=False, norm=None, dtype=np.float32)
    return (
        HashingVectorizer(analyzer="word", ngram_range=(1, 2), n_features=WORD_COLUMNS, **common),
        HashingVectorizer(analyzer="char_wb", ngram_range=(2, 5), n_features=CHAR_COLUMNS, **common),
    )


def count_ngrams(texts: Sequence[str]):
    """Raw n-gram counts of ``texts``: a CSR matrix, word columns first, then character columns."""
    import scipy.sparse as sp

    words, chars = _hashers()
    return sp.hstack([words.transform(texts), chars.transform(texts)], format="csr", dtype=np.float32)


def most_nonzeros(texts: Sequence[str]) -> int:
    """An upper bound on the non-zeros of ``texts``' rows, read from their lengths alone.

    In a lowercased text of ``n`` characters there are at most ``n`` word 1-2-grams (a word has
    two characters or more) and at most ``8 n + 4`` character 2-5-grams (each padded word of
    ``k + 2`` characters gives at most ``k + 2`` n-grams of each of the 4 lengths, and there
    are at most ``(n + 1) / 2`` words); a row's non-zeros are its distinct hashed n-grams.
    """
    return sum(9 * len(text.lower()) + 4 for text in texts)


def _count_in_chunks(texts: list[str], workers: int):
    chunks = [texts[start : start + CHUNK_TEXTS] for start in range(0, len(texts), CHUNK_TEXTS)]
    bound = most_nonzeros(texts)
    if workers <= 1 or len(texts) < PARALLEL_FROM_TEXTS:
        return _stack_rows((count_ngrams(chunk) for chunk in chunks), len(texts), bound)
    from joblib.externals.loky import ProcessPoolExecutor

    # Fresh interpreters (loky starts them without re-running the caller's main module), closed
    # as soon as the counting is done: none holds a copy of the caller's memory or lingers
    # through the fit. Each one costs what importing scikit-learn costs (about 115 MB), so
    # there are at most MAX_HASH_WORKERS of them whatever the number of cores.
    workers = min(workers, MAX_HASH_WORKERS, len(chunks))
    with ProcessPoolExecutor(workers) as pool:
        return _stack_rows(_counted_in_order(pool, chunks, ahead=2 * workers), len(texts), bound)


def _counted_in_order(pool, chunks: list[list[str]], *, ahead: int) -> Iterator:
    """``count_ngrams`` of each chunk, in order, with at most ``ahead`` chunks sent and not yet taken.

    ``pool.map`` sends every chunk at once, so finished blocks could pile up in this process
    faster than they are copied out.
    """
    pending: deque = deque()
    for chunk in chunks:
        pending.append(pool.submit(count_ngrams, chunk))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _stack_rows(parts: Iterable, n_rows: int, bound: int):
    """One CSR matrix from row blocks, each copied in as it comes and then dropped.

    The value and column arrays are reserved at ``bound`` entries (``most_nonzeros``) and
    filled in order: the operating system backs only the pages written, so the memory is the
    result's plus the blocks not yet copied. Collecting the blocks first and copying them held
    the matrix twice, the freed blocks' memory kept by the allocator.
    """
    import scipy.sparse as sp

    data = np.empty(bound, dtype=np.float32)
    columns = np.empty(bound, dtype=np.int32)
    row_starts = np.zeros(n_rows + 1, dtype=np.int64)
    value_at, row_at = 0, 0
    for part in parts:
        if value_at + part.nnz > len(data):  # not reached while most_nonzeros holds; kept so a wrong bound costs memory, not rows
            data, columns = _grown(data, value_at, value_at + part.nnz), _grown(columns, value_at, value_at + part.nnz)
        data[value_at : value_at + part.nnz] = part.data
        columns[value_at : value_at + part.nnz] = part.indices
        row_starts[row_at + 1 : row_at + part.shape[0] + 1] = part.indptr[1:] + value_at
        value_at += part.nnz
        row_at += part.shape[0]
        del part
    # Shrunk in place (the allocator gives the unused tail back without copying): scipy copies
    # arrays that are slices of a much larger one, which held the matrix twice.
    data.resize(value_at, refcheck=False)
    columns.resize(value_at, refcheck=False)
    return sp.csr_matrix((data, columns, row_starts), shape=(n_rows, WORD_COLUMNS + CHAR_COLUMNS))


def _grown(array: np.ndarray, used: int, needed: int) -> np.ndarray:
    grown = np.empty(max(needed, 2 * len(array)), dtype=array.dtype)
    grown[:used] = array[:used]
    return grown


class HashedTfidf:
    """Hashed word + character TF-IDF features; ``fit_transform`` learns the idf, ``transform`` applies it."""

    def __init__(self, *, workers: int = 1) -> None:
        self.workers = workers
        self.idf: np.ndarray | None = None

    @property
    def n_columns(self) -> int:
        """Width of the feature matrix."""
        return WORD_COLUMNS + CHAR_COLUMNS

    def fit_transform(self, texts: Sequence[str]):
        """Features of the training texts, learning each column's idf from them."""
        counts = _count_in_chunks(list(texts), self.workers)
        document_frequency = np.bincount(counts.indices, minlength=self.n_columns)
        n_documents = counts.shape[0]
        self.idf = (np.log((1.0 + n_documents) / (1.0 + document_frequency)) + 1.0).astype(np.float32)
        return self._weigh(counts)

    def transform(self, texts: Sequence[str]):
        """Features of new texts under the learnt idf."""
        if self.idf is None:
            raise RuntimeError("HashedTfidf.transform before fit_transform")
        return self._weigh(count_ngrams(list(texts)))

    def _weigh(self, counts):
        # In place, a slice of rows at a time so the temporaries stay small: sublinear tf, idf,
        # then each block of each row scaled to unit length.
        for first in range(0, counts.shape[0], CHUNK_TEXTS):
            last = min(first + CHUNK_TEXTS, counts.shape[0])
            start, stop = counts.indptr[first], counts.indptr[last]
            data, columns = counts.data[start:stop], counts.indices[start:stop]
            np.log(data, out=data)
            data += 1.0
            data *= self.idf[columns]
            rows = np.repeat(np.arange(last - first), np.diff(counts.indptr[first : last + 1]))
            is_char = columns >= WORD_COLUMNS
            for block in (~is_char, is_char):
                norms = np.sqrt(np.bincount(rows[block], weights=data[block] ** 2, minlength=last - first))
                norms[norms == 0.0] = 1.0
                data[block] /= norms[rows[block]].astype(np.float32)
        return counts
