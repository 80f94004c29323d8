"""Seeded, disjoint pool/dev/test splits and few-shot example selection."""

from __future__ import annotations

import random
from typing import Sequence

from .config import Evaluate
from .errors import HarnessError
from .records import Document


def split_ids(
    ids: Sequence[str], *, pool: float, dev: float, seed: int, examples: Sequence[str] = ()
) -> dict[str, str]:
    """Assign every id to "pool", "dev" or "test". The assignment depends only
    on the set of ids and the seed, not on the order of the file. `examples`
    (ids a dataset marks as examples) always go to the pool, and count
    towards its size."""
    if not (0 <= pool and 0 <= dev and pool + dev < 1):
        raise HarnessError(f"split.pool={pool} and split.dev={dev} must be >= 0 and leave room for a test split")
    marked = set(examples)
    order = sorted(set(ids) - marked)
    random.Random(seed).shuffle(order)
    n_pool = max(0, round(pool * len(ids)) - len(marked))
    n_dev = round(dev * len(ids))
    return {
        **{
            doc_id: ("pool" if i < n_pool else "dev" if i < n_pool + n_dev else "test")
            for i, doc_id in enumerate(order)
        },
        **{doc_id: "pool" for doc_id in marked},
    }


def evaluated_split(
    documents: Sequence[Document], assignment: dict[str, str], evaluate: Evaluate | str
) -> list[Document]:
    """The documents a run scores: one split, every non-pool document (the
    real pool's too, "spare", when the examples are synthetic), or all of them
    (the examples too, when they are the dataset's)."""
    evaluate = Evaluate(evaluate)
    if evaluate is Evaluate.all:
        return list(documents)
    wanted = {"dev", "test", "spare"} if evaluate is Evaluate.nonpool else {evaluate.value}
    return [d for d in documents if assignment[d.id] in wanted]


def random_shots(pool: Sequence[Document], k: int, seed: int) -> list[Document]:
    """k examples drawn at random (seeded) from the pool, as the study did."""
    if k < 0:
        raise HarnessError(f"prompt.shots={k} must be >= 0")
    if k > len(pool):
        raise HarnessError(f"prompt.shots={k} but the pool holds only {len(pool)} documents (raise split.pool)")
    return random.Random(seed).sample(sorted(pool, key=lambda d: d.id), k)


def balanced_shots(pool: Sequence[Document], k: int, keys: Sequence[str], seed: int) -> list[Document]:
    """k examples that together show as many features' positives as possible:
    greedily the document covering most still-uncovered features (ties broken
    by a seeded shuffle), then a seeded random fill."""
    if k > len(pool):
        raise HarnessError(f"prompt.shots={k} but the pool holds only {len(pool)} documents (raise split.pool)")
    candidates = sorted(pool, key=lambda d: d.id)
    random.Random(seed).shuffle(candidates)
    chosen: list[Document] = []
    uncovered = set(keys)
    while len(chosen) < k and uncovered:
        best = max((d for d in candidates if d not in chosen), key=lambda d: sum(d.labels[key] for key in uncovered))
        if not any(best.labels[key] for key in uncovered):
            break
        chosen.append(best)
        uncovered -= {key for key in keys if best.labels[key]}
    chosen += [d for d in candidates if d not in chosen][: k - len(chosen)]
    return chosen


def fixed_shots(
    documents: Sequence[Document], split_of: dict[str, str], ids: Sequence[str], what: str
) -> list[Document]:
    """The named examples, which must all be pool documents."""
    by_id = {d.id: d for d in documents}
    for doc_id in ids:
        if doc_id not in by_id:
            raise HarnessError(f"{what}: example {doc_id!r} is not in the dataset")
        if split_of[doc_id] != "pool":
            raise HarnessError(
                f"{what}: example {doc_id!r} is a {split_of[doc_id]} document; examples must come "
                "from the pool (same split.seed, split.pool and split.dev as when it was chosen?)"
            )
    return [by_id[i] for i in ids]
