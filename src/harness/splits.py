"""Seeded, disjoint pool/dev/test splits and few-shot example selection."""

from __future__ import annotations

import random
from typing import Sequence

from .errors import HarnessError
from .records import Document


def split_ids(ids: Sequence[str], *, pool: float, dev: float, seed: int) -> dict[str, str]:
    """Assign every id to "pool", "dev" or "test". The assignment depends only
    on the set of ids and the seed, not on the order of the file."""
    if not (0 <= pool and 0 <= dev and pool + dev < 1):
        raise HarnessError(f"split.pool={pool} and split.dev={dev} must be >= 0 and leave room for a test split")
    order = sorted(ids)
    random.Random(seed).shuffle(order)
    n_pool, n_dev = round(pool * len(order)), round(dev * len(order))
    return {doc_id: ("pool" if i < n_pool else "dev" if i < n_pool + n_dev else "test")
            for i, doc_id in enumerate(order)}


def evaluated_split(documents: Sequence[Document], assignment: dict[str, str], evaluate: str) -> list[Document]:
    """The documents a run scores: one split, or every non-pool document."""
    wanted = {"dev", "test"} if evaluate == "nonpool" else {evaluate}
    return [d for d in documents if assignment[d.id] in wanted]


def random_shots(pool: Sequence[Document], k: int, seed: int) -> list[Document]:
    """k examples drawn at random (seeded) from the pool, as the study did."""
    if k < 0:
        raise HarnessError(f"prompt.shots={k} must be >= 0")
    if k > len(pool):
        raise HarnessError(f"prompt.shots={k} but the pool holds only {len(pool)} documents (raise split.pool)")
    return random.Random(seed).sample(sorted(pool, key=lambda d: d.id), k)
