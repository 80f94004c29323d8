"""Keyword baseline: a per-language lexicon plus negation and resolution cues.
A `Baseline` (it decides the features itself), and the floor every model must beat."""

from __future__ import annotations

import re
import time
import unicodedata
from typing import Mapping, Sequence

from ..records import Labels, Request
from . import Baseline, OnBatch

_BIDI_AND_MARKS = dict.fromkeys(
    [0x200E, 0x200F, 0x061C, *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x0640, *range(0x064B, 0x0653)]
)
_LETTERS = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک", "ە": "ه", "\u200c": " ", "\u200d": ""})
_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")


def normalize(text: str) -> str:
    """One spelling for Persian/Urdu text: presentation forms folded (NFKC),
    Arabic yeh/kaf to Persian, zero-width non-joiner to a space, bidi marks,
    tatweel and diacritics dropped, digits to ASCII, lower case."""
    text = unicodedata.normalize("NFKC", text).translate(_BIDI_AND_MARKS).translate(_LETTERS).translate(_DIGITS)
    return re.sub(r"\s+", " ", text).strip().lower()


_CLAUSE = re.compile(r"[.!?؟،,;؛۔\n]|(?<!\w)(?:ولی|اما|لیکن|but)(?!\w)")


def _word_start(term: str) -> re.Pattern:
    return re.compile(r"(?<!\w)" + re.escape(normalize(term)))


class KeywordBackend(Baseline):
    """A feature is present when one of its keywords starts a word in a clause
    that has no resolution cue ("used to", "cleared up") and no negation cue
    on the negated side of the keyword (before it in English, after it in
    verb-final Persian and Urdu)."""

    def __init__(
        self,
        features: Sequence[Mapping],
        negation: Mapping[str, Sequence[str]],
        negation_side: Mapping[str, str],
        resolved: Mapping[str, Sequence[str]],
    ):
        self.keys = [f["key"] for f in features]
        self.keywords = {
            f["key"]: {lang: [_word_start(t) for t in terms] for lang, terms in f.get("keywords", {}).items()}
            for f in features
        }
        self.negation = {lang: [_word_start(t) for t in cues] for lang, cues in negation.items()}
        self.resolved = {lang: [_word_start(t) for t in cues] for lang, cues in resolved.items()}
        self.negation_side = dict(negation_side)

    def _present(self, clauses: Sequence[str], key: str, language: str) -> bool:
        negations, resolved = self.negation.get(language, []), self.resolved.get(language, [])
        after = self.negation_side.get(language, "before") == "after"
        for clause in clauses:
            if any(c.search(clause) for c in resolved):
                continue
            for kw in self.keywords[key].get(language, []):
                for m in kw.finditer(clause):
                    scope = clause[m.end() :] if after else clause[: m.start()]
                    if not any(c.search(scope) for c in negations):
                        return True
        return False

    def predict(self, text: str, language: str) -> dict[str, bool]:
        clauses = [c.strip() for c in _CLAUSE.split(normalize(text)) if c and c.strip()]
        return {k: self._present(clauses, k, language) for k in self.keys}

    def classify(self, requests: Sequence[Request], on_batch: OnBatch = None) -> list[Labels]:
        out = []
        for r in requests:
            start = time.perf_counter()
            out.append(
                Labels(doc_id=r.doc_id, labels=self.predict(r.text, r.language), latency_s=time.perf_counter() - start)
            )
        return out
