"""The reference study's protocol (arXiv 2602.21374), element by element, and
which of its elements a run departs from.

The facts below were read from the study's public code; the harness's prompt
wording stays its own. A run is tagged `protocol=reference` only when no
element departs; what cannot be checked against the study (its exact prompt
wording, its unpublished example file, its unpublished translation prompt) is
listed apart as unverifiable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .config import AnswerFormat, Calibration, Evaluate, Mode, Parser, Selection, TemplateStyle

# The study's field names, in its order: as its example answers and its parser spell them.
STUDY_NAMES: dict[str, tuple[str, ...]] = {
    "en": (
        "Patient requested a doctor's visit",
        "Psychiatric and psychological complaints",
        "Sleep disorders",
        "Loss of appetite",
        "Seizures",
        "Weakness and fatigue",
        "Decreased level of consciousness",
        "Fever",
        "Respiratory complaints",
        "Insurance/treatment cost issues",
        "Urinary tract issues",
        "Pain",
        "Gastrointestinal issues",
    ),
    "fa": (
        "درخواست بیمار برای ویزیت پزشک",
        "شکایات روانی و روان\u200cشناختی",
        "اختلالات خواب",
        "از دست دادن اشتها",
        "تشنج",
        "ضعف و خستگی",
        "کاهش سطح هوشیاری",
        "تب",
        "شکایات تنفسی",
        "مشکلات بیمه/هزینه درمان",
        "مشکلات دستگاه ادراری",
        "درد",
        "مشکلات گوارشی",
    ),
}
# Its empty template (in the system turn) spelled the first English field differently.
STUDY_TEMPLATE_NAMES: dict[str, tuple[str, ...]] = {
    "en": ("Patient requested for doctor's visit", *STUDY_NAMES["en"][1:]),
    "fa": STUDY_NAMES["fa"],
}
STUDY_SHOTS = 3
STUDY_MAX_NEW_TOKENS = 512


@dataclass(frozen=True)
class Settings:
    """What a run does, for each element of the protocol."""

    parser: Parser
    fmt: AnswerFormat
    style: TemplateStyle
    names: tuple[str, ...]  # field names in the answers (prompt language)
    template_names: tuple[str, ...]  # field names in the empty template
    prompt_language: str
    mode: Mode
    generation_config: bool  # the backend decodes greedily with the model's generation config applied
    max_new_tokens: Optional[int]
    evaluate: Evaluate
    limit: Optional[int]  # dataset.limit
    selection: Selection
    shots: int
    translated: bool  # route=translate: the model reads a translation
    threshold: float | str = 0.5  # prompt.threshold (score mode)
    calibration: Calibration = Calibration.none  # prompt.calibration (score mode)


def departures(s: Settings) -> list[str]:
    """The elements where the run departs from the study, sorted."""
    differs = {
        # `Name: True,` one a line without braces, under an empty template `{Name: ,\n...,}`
        "answer_format": s.fmt is not AnswerFormat.template or s.style is not TemplateStyle.study,
        # pipeline("text-generation", do_sample=False): greedy, the model's generation config still applied
        "decoding": s.mode is not Mode.generate or not s.generation_config,
        "field_names": (
            s.names != STUDY_NAMES.get(s.prompt_language)
            or s.template_names != STUDY_TEMPLATE_NAMES.get(s.prompt_language)
        ),
        "max_new_tokens": s.max_new_tokens != STUDY_MAX_NEW_TOKENS,
        "parser": s.parser is not Parser.study,
        # every document was prompted and scored, its examples included
        "scored_set": s.evaluate is not Evaluate.all or s.limit is not None,
        # one set of examples for every document (the study's own file is not published)
        "selection": s.selection not in (Selection.random, Selection.fixed),
        "shots": s.shots != STUDY_SHOTS,
        # a field is true when "True" is the likelier word (score mode only; generate mode reads the words);
        # calibration moves P(true) first
        "threshold": s.mode is Mode.score and (s.threshold != 0.5 or s.calibration is not Calibration.none),
    }
    return sorted(name for name, departs in differs.items() if departs)


# Each departure in words, for a run's description.
DEPARTURE_WORDS = {
    "answer_format": "answers in another layout than the study's `Name: True,` lines",
    "decoding": "answers otherwise than by greedy generation with the model's generation config (score mode)",
    "field_names": "spells the fields otherwise than the study",
    "max_new_tokens": f"writes at most another number of tokens than {STUDY_MAX_NEW_TOKENS}",
    "parser": "reads the answers with another parser than the study's",
    "scored_set": "scores a split or the first documents, not every document",
    "selection": "chooses examples for each document or balanced, not one set for all",
    "shots": f"shows another number of examples than {STUDY_SHOTS}",
    "threshold": "moves P(true) or its threshold (calibration, thresholds fitted on dev)",
}


def unverifiable(s: Settings) -> list[str]:
    """Elements no run can be checked on: the study did not publish them."""
    return ["examples", "prompt_wording", *(["translation"] if s.translated else [])]


def protocol_name(s: Settings) -> str:
    """ "reference" when no element departs from the study, else "harness"."""
    return "harness" if departures(s) else "reference"


# A baseline reads no prompt and writes no answer: of the protocol only the
# documents it scores apply to it. Its protocol is named BASELINE.
BASELINE = "baseline"
BASELINE_ELEMENTS = frozenset({"scored_set"})


def baseline_departures(s: Settings) -> list[str]:
    """The elements that apply to a baseline where it departs, sorted."""
    return [d for d in departures(s) if d in BASELINE_ELEMENTS]
