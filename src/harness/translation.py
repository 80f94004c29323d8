"""The translate route's first step: source text -> English, through a
persistent cache shared by every model, route, job and process.

A translation is keyed by everything that decides it: the translator's
identity (name, weights fingerprint, dtype), the translation prompt, the
decoding settings and the source text. The cache is one SQLite file in WAL
mode (jobs on one machine) or a PostgreSQL table (`translator.cache=
postgresql+psycopg://...`, jobs on many machines: SQLite's WAL does not work on
network filesystems). Parallel jobs may translate the same text at the same
moment (both pay, one row is kept), never corrupt it, never lose a finished
chunk."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from . import progress
from .backends import Backend
from .errors import HarnessError
from .records import Document, Request


def translation_key(translator: str, system: str, decoding: Mapping, text: str) -> str:
    blob = json.dumps([translator, system, dict(sorted(decoding.items())), text], ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS translations (key TEXT PRIMARY KEY, translator TEXT NOT NULL,"
    " source TEXT NOT NULL, translation TEXT NOT NULL, created DOUBLE PRECISION NOT NULL)"
)


def open_cache(location: str) -> "TranslationCache | PostgresTranslationCache":
    """The cache translator.cache names: a database URL or a SQLite file path."""
    return PostgresTranslationCache(location) if location.startswith("postgresql") else TranslationCache(location)


class TranslationCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, timeout=120, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise HarnessError(f"translation cache {self.path}: {e} (translator.cache)") from None

    def get(self, keys: Iterable[str]) -> dict[str, str]:
        keys = list(keys)
        found: dict[str, str] = {}
        for i in range(0, len(keys), 500):  # SQLite caps the number of bound parameters
            part = keys[i : i + 500]
            rows = self.db.execute(
                f"SELECT key, translation FROM translations WHERE key IN ({','.join('?' * len(part))})", part
            )
            found.update(rows.fetchall())
        return found

    def put(self, rows: Sequence[tuple[str, str, str, str]]) -> None:
        """(key, translator, source, translation) rows; a key already there is kept."""
        now = time.time()
        with self.db:  # one transaction per chunk
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany(
                "INSERT OR IGNORE INTO translations VALUES (?, ?, ?, ?, ?)", [(*row, now) for row in rows]
            )

    def close(self) -> None:
        self.db.close()


class PostgresTranslationCache:
    """The same cache as a PostgreSQL table, for jobs on several machines."""

    def __init__(self, url: str):
        try:
            import psycopg
        except ImportError:
            raise HarnessError(
                "translator.cache: a PostgreSQL cache needs psycopg (pip install -e '.[postgres]')"
            ) from None
        self.where = url.split("@")[-1]  # for messages: no credentials
        try:
            self.db = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1), autocommit=True)
            with self.db.transaction():  # parallel jobs creating the table at once wait for each other
                self.db.execute("SELECT pg_advisory_xact_lock(7201)")
                self.db.execute(_SCHEMA)
        except psycopg.Error as e:
            reason = str(e).strip().splitlines()[0]
            raise HarnessError(f"translation cache {self.where}: {reason} (translator.cache)") from None

    def get(self, keys: Iterable[str]) -> dict[str, str]:
        rows = self.db.execute("SELECT key, translation FROM translations WHERE key = ANY(%s)", (list(keys),))
        return dict(rows.fetchall())

    def put(self, rows: Sequence[tuple[str, str, str, str]]) -> None:
        now = time.time()
        with self.db.transaction(), self.db.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO translations VALUES (%s, %s, %s, %s, %s) ON CONFLICT (key) DO NOTHING",
                [(*row, now) for row in rows],
            )

    def close(self) -> None:
        self.db.close()


@dataclass
class Translations:
    texts: dict[str, str]  # document id -> English
    hits: int = 0  # distinct texts found in the cache
    misses: int = 0  # distinct texts translated by this run
    latencies_s: list[float] = field(default_factory=list)
    gen_tokens: int = 0


def translate(
    documents: Sequence[Document],
    backend: Backend,
    cache: TranslationCache,
    *,
    translator: str,
    system: str,
    decoding: Mapping,
    language: str,
    chunk_size: int = 16,
) -> Translations:
    """English for every document, translating only what the cache lacks.
    Each finished chunk is stored at once, so an interrupted run keeps it."""
    key_of = {d.id: translation_key(translator, system, decoding, d.text) for d in documents}
    found = cache.get(set(key_of.values()))
    todo: dict[str, Document] = {}
    for d in documents:
        if key_of[d.id] not in found:
            todo.setdefault(key_of[d.id], d)  # one request per distinct text
    result = Translations(texts={}, hits=len(set(key_of.values())) - len(todo), misses=len(todo))
    pending = list(todo.items())
    with progress.batch_bar(len(pending), "translations") as (on_batch, advance):
        for start in range(0, len(pending), chunk_size):
            part = pending[start : start + chunk_size]
            requests = [
                Request(
                    doc_id=d.id,
                    messages=({"role": "system", "content": system}, {"role": "user", "content": d.text}),
                    text=d.text,
                    language=language,
                )
                for _, d in part
            ]
            generations = backend.generate(requests, on_batch=on_batch)
            cache.put([(key, translator, d.text, g.text.strip()) for (key, d), g in zip(part, generations)])
            found.update({key: g.text.strip() for (key, _), g in zip(part, generations)})
            result.latencies_s += [g.latency_s for g in generations]
            result.gen_tokens += sum(g.n_tokens for g in generations)
            advance(len(part))
    result.texts = {d.id: found[key_of[d.id]] for d in documents}
    return result


def run_metrics(done: Translations, documents: Sequence[Document]) -> dict[str, float]:
    """translation/* metrics: cache use, the translator's speed on what it
    translated, and chrF against the references where the dataset has them."""
    from .metrics import latency_summary

    out = {"translation/cache_hits": float(done.hits), "translation/cache_misses": float(done.misses)}
    if done.latencies_s:
        speed = latency_summary(done.latencies_s, done.gen_tokens, sum(done.latencies_s))
        out.update({f"translation/{k.split('/', 1)[1]}": v for k, v in speed.items()})
    pairs = [(done.texts[d.id], d.reference) for d in documents if d.reference]
    if pairs:
        out["translation/chrf"] = chrf(*zip(*pairs))
    return out


def chrf(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus chrF (sacrebleu) of translations against reference translations."""
    from sacrebleu.metrics import CHRF

    return float(CHRF().corpus_score(list(hypotheses), [list(references)]).score)
