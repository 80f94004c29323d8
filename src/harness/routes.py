"""Language routes: what text the model reads. One class per route, chosen
by config (`route._target_`); a new route is a subclass of `Route` and a YAML
file naming it. A route turns documents into the documents the model reads
and reports what it did (`Reading`), for tracking."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence

from .config import class_named
from .errors import HarnessError
from .records import Document

if TYPE_CHECKING:
    from .backends import Backend


@dataclass(frozen=True)
class Reading:
    documents: list[Document]  # as the model reads them, in the given order
    metrics: dict[str, float] = field(default_factory=dict)  # translation/*: cache use, speed, chrF
    translations: Optional[dict[str, str]] = None  # id -> translation, where the route made them


@dataclass(frozen=True)
class Translator:
    """The translate route's settings (the `translator` config group), as plain values."""

    name: str  # the model config's name
    backend: Mapping[str, Any]  # its backend: `_target_` plus constructor arguments
    system: str  # the instruction; {language} becomes the source language's name
    language_names: Mapping[str, str]  # ISO code -> English name
    cache: str  # SQLite file or postgresql+psycopg:// URL


class Route:
    """Reads documents as they are. Subclasses change what the model reads."""

    reads_source = True  # the model reads the dataset's language (else English, with the English prompt)
    needs_reference = False  # the dataset must have reference translations (dataset.columns.reference)
    needs_translator = False  # built with a `translator`: Translator

    def read(self, documents: Sequence[Document], language: str) -> Reading:
        """The documents as the model reads them; `language` is the dataset's."""
        return Reading(list(documents))


def with_texts(documents: Sequence[Document], texts: Mapping[str, str]) -> list[Document]:
    """The documents with their text replaced (a translation, a reference)."""
    return [replace(d, text=texts[d.id]) for d in documents]


class SourceText(Route):
    """The transcript in its own language."""


class ReferenceText(Route):
    """The dataset's reference English translation: the upper bound that
    separates translation errors from extraction errors."""

    reads_source = False
    needs_reference = True

    def read(self, documents: Sequence[Document], language: str) -> Reading:
        missing = [d.id for d in documents if d.reference is None]
        if missing:
            raise HarnessError(
                f"route=reference: document {missing[0]} has no reference translation "
                f"({len(missing)} documents lack one; set dataset.columns.reference)"
            )
        return Reading(with_texts(documents, {d.id: d.reference for d in documents}))


class Translation(Route):
    """The translator's English, through the shared translation cache, from
    the translator's backend (built by the caller before the run starts, so
    a missing model stops it first)."""

    reads_source = False
    needs_translator = True

    def __init__(self, translator: Translator, backend: Backend):
        from .backends import writes_text

        self.settings, self.backend = translator, backend
        if not writes_text(backend):
            raise HarnessError(
                f"translator.model={translator.name}: {type(self.backend).__name__} does not write "
                "text, so it cannot translate"
            )

    def read(self, documents: Sequence[Document], language: str) -> Reading:
        from . import translation

        t = self.settings
        cache = translation.open_cache(t.cache)
        try:
            done = translation.translate(
                documents,
                self.backend,
                cache,
                translator=self.backend.identity or t.name,
                system=t.system.replace("{language}", t.language_names.get(language, language)),
                decoding={"greedy": True, "max_new_tokens": t.backend.get("max_new_tokens")},
                language=language,
            )
        finally:
            cache.close()
        return Reading(with_texts(documents, done.texts), translation.run_metrics(done, documents), done.texts)


def route_class(target: str) -> type[Route]:
    """The class `route._target_` names, or a clear error."""
    return class_named(target, Route, "route._target_", "harness.routes.SourceText")


def build_route(target: str, translator: Optional[Translator] = None, backend: Optional[Backend] = None) -> Route:
    """The route `target` names; a translating one with its translator's settings and backend."""
    cls = route_class(target)
    if not cls.needs_translator:
        return cls()
    if translator is None or backend is None:
        raise TypeError(f"{target} translates: build it with the translator's settings and backend")
    return cls(translator=translator, backend=backend)
