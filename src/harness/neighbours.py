"""Examples chosen for each document (prompt.selection=knn, model=knn-vote):
the k pool documents most like it.

Likeness is the cosine similarity of character n-gram TF-IDF vectors fitted
on the pool (scikit-learn): no extra model, nothing fetched, and n-grams need
no word segmentation in Persian or Urdu. The texts compared are the ones the
model reads on the cell's route (source, translation or reference). A
document is never its own example (split.evaluate=all scores pool documents)."""

from __future__ import annotations

from typing import Sequence

from .records import Document

NGRAMS = (2, 4)


def similarities(pool: Sequence[Document], queries: Sequence[Document]):
    """(queries x pool) cosine similarities, as a dense array."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=NGRAMS, sublinear_tf=True)
    pool_vectors = vectorizer.fit_transform([d.text for d in pool])
    return (vectorizer.transform([q.text for q in queries]) @ pool_vectors.T).toarray()


def nearest(pool: Sequence[Document], queries: Sequence[Document], k: int) -> dict[str, list[tuple[Document, float]]]:
    """For each query's id, its k most similar pool documents with their
    similarity, the most similar last (nearest the query in the prompt);
    equal similarities are ordered by id."""
    sims = similarities(pool, queries) if pool and queries else []
    out = {}
    for query, row in zip(queries, sims):
        ranked = sorted(
            ((float(s), d) for d, s in zip(pool, row) if d.id != query.id), key=lambda pair: (-pair[0], pair[1].id)
        )
        out[query.id] = [(d, s) for s, d in reversed(ranked[:k])]
    return out


def examples(
    pool: Sequence[Document], queries: Sequence[Document], k: int, nearest_first: bool = False
) -> dict[str, list[Document]]:
    """Each query's k nearest pool documents, the most similar last (or first)."""
    order = reversed if nearest_first else list
    return {i: [d for d, _ in order(near)] for i, near in nearest(pool, queries, k).items()}
