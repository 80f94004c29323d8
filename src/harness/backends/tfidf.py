"""Supervised baseline: per feature, a class-balanced logistic regression on
character n-gram TF-IDF, trained on the example pool's labelled documents.
The floor a model with k examples must beat where labels exist (the keyword
baseline is the floor where none do)."""

from __future__ import annotations

import copy
import logging
import time
from typing import Sequence

from ..errors import HarnessError
from ..records import Document, Labels, Request
from . import Baseline, OnBatch

log = logging.getLogger(__name__)


class TfidfLogRegBackend(Baseline):
    """Character n-grams suit Persian and Urdu: no word segmentation to get
    wrong, and spelling variants share most of their n-grams. P(true) is the
    regression's probability, so score-mode metrics (ROC-AUC, PR-AUC) apply."""

    learns_from_pool = True

    def __init__(self, ngram_min: int = 2, ngram_max: int = 5, min_df: int = 1, c: float = 1.0, seed: int = 0):
        if not 1 <= ngram_min <= ngram_max:
            raise HarnessError(f"model.backend: need 1 <= ngram_min <= ngram_max (got {ngram_min}, {ngram_max})")
        self.ngram, self.min_df, self.c, self.seed = (ngram_min, ngram_max), min_df, c, seed
        self.vectorizer, self.models = None, {}

    def fit(self, documents: Sequence[Document], keys: Sequence[str]) -> TfidfLogRegBackend:
        """A copy that learnt each feature from these documents' texts and
        labels (this one stays untrained). A feature with one class only in
        them is predicted as that class (P = its rate)."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        if not documents:
            raise HarnessError("tfidf-logreg trains on the example pool, which is empty (split.pool)")
        fitted = copy.copy(self)
        fitted.vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=self.ngram, min_df=self.min_df, sublinear_tf=True
        )
        x = fitted.vectorizer.fit_transform([d.text for d in documents])
        fitted.models = {}
        for key in keys:
            y = [bool(d.labels[key]) for d in documents]
            if len(set(y)) < 2:
                log.warning(
                    "tfidf-logreg: feature %s is %s in all %d pool documents; predicted so throughout",
                    key,
                    y[0],
                    len(y),
                )
                fitted.models[key] = float(y[0])
                continue
            fitted.models[key] = LogisticRegression(
                C=self.c, class_weight="balanced", max_iter=1000, random_state=self.seed
            ).fit(x, y)
        return fitted

    def classify(self, requests: Sequence[Request], on_batch: OnBatch = None) -> list[Labels]:
        if self.vectorizer is None:
            raise RuntimeError("tfidf-logreg: classify before fit")  # the pipeline fits first
        start = time.perf_counter()
        x = self.vectorizer.transform([r.text for r in requests])
        probs = {
            key: ([m] * len(requests) if isinstance(m, float) else m.predict_proba(x)[:, 1].tolist())
            for key, m in self.models.items()
        }
        latency = (time.perf_counter() - start) / max(len(requests), 1)
        return [
            Labels(
                doc_id=r.doc_id,
                labels={k: p[i] > 0.5 for k, p in probs.items()},
                probs={k: p[i] for k, p in probs.items()},
                latency_s=latency,
            )
            for i, r in enumerate(requests)
        ]
