"""The values that flow through a run: document -> request -> generation -> prediction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional


@dataclass(frozen=True)
class Document:
    id: str
    text: str
    labels: Mapping[str, bool]
    reference: Optional[str] = None  # reference English translation, if the dataset has one
    is_example: bool = False  # marked as an example by the dataset (dataset.columns.is_example)


@dataclass(frozen=True)
class ScoreSpec:
    """The answer template for score mode: `text` holds a placeholder value
    (the false word) at each field; `spans` are those values' character
    ranges, in field order."""

    text: str
    spans: tuple[tuple[int, int], ...]
    true_word: str
    false_word: str


@dataclass(frozen=True)
class Request:
    """One prompt for a backend. `messages` are chat turns ({"role", "content"});
    `text` and `language` are the query document as the model reads it (the
    keyword baseline uses only these)."""

    doc_id: str
    messages: tuple[Mapping[str, str], ...]
    text: str
    language: str
    # Returns True once a partial answer holds every field, so generation can stop.
    is_complete: Optional[Callable[[str], bool]] = field(default=None, compare=False)
    # Returns the likely rest of a partial answer (the answer template's), for backends that check drafts.
    draft: Optional[Callable[[str], str]] = field(default=None, compare=False)
    score: Optional[ScoreSpec] = None  # set: score the fields instead of generating
    answer_regex: Optional[str] = None  # the answer's shape, for backends that constrain decoding


@dataclass(frozen=True)
class Generation:
    doc_id: str
    text: str
    latency_s: float  # this document's share of its batch's wall time
    n_tokens: int = 0  # generated tokens
    labels: Optional[Mapping[str, bool]] = None  # set by backends that predict directly
    probs: Optional[tuple[float, ...]] = None  # score mode: P(true) per field, in template order


@dataclass(frozen=True)
class Prediction:
    doc_id: str
    split: str
    raw_output: str
    pred: Mapping[str, Optional[bool]]  # None = missing (unparseable)
    gold: Mapping[str, bool]
    prob: Optional[Mapping[str, float]] = None  # score mode: P(true) per feature
