"""Score-mode calibration (prompt.calibration): small models put P(true)
below 0.5 for nearly every field, whatever the document says. Each method
moves each field's P(true) by one offset in log-odds,
p' = sigmoid(logit(p) - offset), which is the same as dividing P(true) and
P(false) by a reference pair and renormalising:

- contextual (Zhao et al. 2021, arXiv 2102.09690): the reference is the
  P(true) the cell's prompt gives content-free transcripts ("N/A" and an
  empty one), averaged;
- domain (Fei et al. 2023, arXiv 2305.19148): the same with transcripts of
  random words drawn from the pool's texts, at the pool's mean length;
- batch (Zhou et al. 2024, arXiv 2309.17249): the offset is the field's mean
  log-odds over the evaluated documents (no labels, no extra pass).

Pure functions; the pipeline runs the extra passes."""

from __future__ import annotations

import math
import random
from typing import Sequence

from .config import Calibration

CONTENT_FREE = ("N/A", "")
EPS = 1e-6  # P(true) is clipped to [EPS, 1 - EPS] before its log-odds


def logit(p: float) -> float:
    p = min(max(p, EPS), 1 - EPS)
    return math.log(p / (1 - p))


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


def reference_offsets(rows: Sequence[Sequence[float]]) -> list[float]:
    """Per field, the log-odds of the mean P(true) over reference inputs
    (contextual, domain): one row of P(true) per input."""
    return [logit(sum(column) / len(column)) for column in zip(*rows)]


def batch_offsets(rows: Sequence[Sequence[float]]) -> list[float]:
    """Per field, the mean log-odds over the evaluated documents (batch)."""
    return [sum(logit(p) for p in column) / len(column) for column in zip(*rows)]


def shifted(probs: Sequence[float], offsets: Sequence[float]) -> tuple[float, ...]:
    """P(true) per field with each field's offset taken off its log-odds."""
    return tuple(sigmoid(logit(p) - o) for p, o in zip(probs, offsets))


def random_words(texts: Sequence[str], count: int, seed: int) -> list[str]:
    """`count` transcripts of words drawn at random (seeded, with
    replacement) from `texts`, each as long as the texts are on average."""
    words = [w for t in texts for w in t.split()]
    if not words:
        return [""] * count
    length = max(1, round(len(words) / len(texts)))
    rng = random.Random(seed)
    return [" ".join(rng.choices(words, k=length)) for _ in range(count)]


def reference_texts(method: Calibration, pool_texts: Sequence[str], samples: int, seed: int) -> list[str]:
    """The transcripts whose P(true) sets the offsets: none for none and batch."""
    if method is Calibration.contextual:
        return list(CONTENT_FREE)
    if method is Calibration.domain:
        return random_words(pool_texts, samples, seed)
    return []
