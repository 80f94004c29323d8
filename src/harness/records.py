"""The values that flow through a run: document -> request -> generation ->
prediction, and the cell and result around them. Every module below the
entry points takes its types from here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional, Union

from .config import AnswerFormat, Calibration, Mode, Parser, TemplateStyle


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
    # How the answer is read (none for a translation): a backend asks `is_complete` to stop early.
    fields: tuple[str, ...] = ()  # the field names as the prompt spells them
    parser: Optional[Parser] = None
    template: Optional[ScoreSpec] = None  # the answer template, for backends that check drafts (`draft`)
    score: Optional[ScoreSpec] = None  # set: score the fields instead of generating
    answer_regex: Optional[str] = None  # the answer's shape, for backends that constrain decoding

    def is_complete(self, text: str) -> bool:
        """True once a partial answer holds every field (its parse can no longer change)."""
        from .parsing import is_complete

        return self.parser is not None and is_complete(text, self.fields, self.parser)

    def draft(self, text: str) -> str:
        """The likely rest of a partial answer, if it keeps to the template ("" if none)."""
        from .prompts import template_draft

        return template_draft(text, self.template) if self.template is not None else ""


@dataclass(frozen=True)
class Generation:
    """A backend's written answer (`Backend.generate`)."""

    doc_id: str
    text: str
    latency_s: float  # this document's share of its batch's wall time
    n_tokens: int = 0  # generated tokens


@dataclass(frozen=True)
class Scores:
    """P(true) per field, in template order (`Backend.score`, prompt.mode=score)."""

    doc_id: str
    probs: tuple[float, ...]
    latency_s: float


@dataclass(frozen=True)
class Labels:
    """A value per feature key, predicted directly (`Baseline.classify`),
    with P(true) per feature where the baseline has one."""

    doc_id: str
    labels: Mapping[str, bool]
    latency_s: float
    probs: Optional[Mapping[str, float]] = None


Answer = Union[Generation, Scores, Labels]


@dataclass(frozen=True)
class Prediction:
    doc_id: str
    split: str
    raw_output: str
    pred: Mapping[str, Optional[bool]]  # None = missing (unparseable)
    gold: Mapping[str, bool]
    prob: Optional[Mapping[str, float]] = None  # score mode: P(true) per feature
    shot_ids: Optional[tuple[str, ...]] = None  # this document's own examples (prompt.selection=knn)


@dataclass(frozen=True)
class Task:
    """What to extract and how to ask. The answer settings are the config's
    Enums (plain strings are accepted and converted)."""

    keys: tuple[str, ...]  # feature keys, in template order
    names: tuple[str, ...]  # the same features' names in the prompt language
    fmt: AnswerFormat  # template or json
    system: str  # system message, holds {template}
    lead_in: str  # user turn, holds {text}
    language: str = "en"  # language of the text the model reads
    prompt_language: str = "en"  # language of the instructions and field names
    mode: Mode = Mode.generate
    parser: Parser = Parser.template  # which of parsing.PARSERS reads the answers
    style: TemplateStyle = TemplateStyle.braces  # template layout (prompts._LAYOUTS)
    template_names: tuple[str, ...] = ()  # the fields as the empty template spells them (default: names)
    threshold: float = 0.5  # score mode: P(true) above which a field is true (prompt.threshold)
    calibration: Calibration = Calibration.none  # score mode: how P(true) is moved first (harness.calibration)

    def __post_init__(self) -> None:
        kinds = (("fmt", AnswerFormat), ("mode", Mode), ("parser", Parser), ("style", TemplateStyle))
        for name, kind in (*kinds, ("calibration", Calibration)):
            object.__setattr__(self, name, kind(getattr(self, name)))


@dataclass(frozen=True)
class Cell:
    """One grid cell's task and documents, before any model reads them."""

    task: Task
    documents: list[Document]  # every document of the dataset
    split_of: dict[str, str]  # id -> "pool" | "dev" | "test" (| "spare": the real pool, when examples are synthetic)
    evaluated: list[Document]  # what the run scores
    shots: list[Document]  # the examples, from the pool
    language: str = "en"  # the dataset's language (a translating route reads from it)
    scores_examples: bool = False  # split.evaluate=all: the examples are scored too
    skipped_empty: int = 0  # rows left out for an empty transcript (dataset.empty_text=skip)
    calibration: list[Document] = field(default_factory=list)  # prompt.threshold=dev: dev documents to calibrate on
    pool: list[Document] = field(default_factory=list)  # where examples come from: the pool split, or synthetic ones
    dataset_digest: str = ""  # sha256 of the dataset file's bytes that were read
    pool_digest: Optional[str] = None  # the same for a synthetic pool's file
    neighbours: int = 0  # prompt.selection=knn: examples per document, chosen from the pool as the route reads it
    nearest_first: bool = False  # prompt.knn_order=nearest_first: the most similar example first, not last
    calibration_samples: int = 0  # prompt.calibration=domain: random-word transcripts, drawn with `seed`
    seed: int = 0

    @property
    def shots_per_document(self) -> int:
        return self.neighbours or len(self.shots)


@dataclass
class RunResult:
    predictions: list[Prediction]
    per_feature: dict[str, dict[str, float]]
    metrics: dict[str, float]
    shot_ids: list[str]
    example_prompt: str = ""
    example_texts: list[str] = field(default_factory=list)  # the transcripts inside example_prompt
    translations: Optional[dict[str, str]] = None  # id -> translation, on a translating route
    texts: dict[str, str] = field(default_factory=dict)  # id -> the text the model read (evaluated documents)
    # What `raw_output` holds: the model's answer, the template filled from
    # the scores (score mode), or the labels a baseline predicted.
    answer_kind: str = "answer"
