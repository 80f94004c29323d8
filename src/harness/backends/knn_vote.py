"""Neighbour-vote baseline (model=knn-vote): each feature is the
similarity-weighted vote of the k pool examples most like the document
(harness.neighbours, as prompt.selection=knn picks them). The floor that
shows whether a model given retrieved examples does more than copy their
labels."""

from __future__ import annotations

import copy
import time
from typing import Sequence

from .. import neighbours
from ..errors import HarnessError
from ..records import Document, Labels, Request
from . import Baseline, OnBatch


def vote(near: Sequence[tuple[Document, float]], keys: Sequence[str]) -> dict[str, float]:
    """P(true) per feature: the neighbours' labels weighted by similarity
    (unweighted where no neighbour shares an n-gram with the document)."""
    weights = [s for _, s in near]
    total = sum(weights)
    if total <= 0:
        weights, total = [1.0] * len(near), float(len(near))
    return {k: sum(w for (d, _), w in zip(near, weights) if d.labels[k]) / total for k in keys}


class KnnVoteBackend(Baseline):
    learns_from_pool = True

    def __init__(self, k: int = 3):
        if k < 1:
            raise HarnessError(f"model.backend.k={k} must be >= 1 (neighbours per document)")
        self.k, self.pool, self.keys = k, [], ()

    def fit(self, documents: Sequence[Document], keys: Sequence[str]) -> KnnVoteBackend:
        """A copy that votes with these documents' labels (this one stays empty)."""
        if len(documents) < self.k:
            raise HarnessError(f"knn-vote: k={self.k} neighbours but the pool holds {len(documents)} documents")
        fitted = copy.copy(self)
        fitted.pool, fitted.keys = list(documents), tuple(keys)
        return fitted

    def classify(self, requests: Sequence[Request], on_batch: OnBatch = None) -> list[Labels]:
        if not self.pool:
            raise RuntimeError("knn-vote: classify before fit")  # the pipeline fits first
        start = time.perf_counter()
        queries = [Document(id=r.doc_id, text=r.text, labels={}) for r in requests]
        near = neighbours.nearest(self.pool, queries, self.k)
        probs = [vote(near[q.id], self.keys) for q in queries]
        latency = (time.perf_counter() - start) / max(len(requests), 1)
        if on_batch is not None:
            on_batch(len(requests))
        return [
            Labels(doc_id=r.doc_id, labels={k: v > 0.5 for k, v in p.items()}, probs=p, latency_s=latency)
            for r, p in zip(requests, probs)
        ]
