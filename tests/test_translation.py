"""The translation cache: content-addressed, shared by processes, never corrupted."""

import multiprocessing as mp
import sqlite3

import pytest

from harness.translation import TranslationCache, chrf, translation_key


def test_key_changes_with_everything_that_decides_a_translation():
    base = ("aya@abc/bfloat16", "Translate {language}.", {"greedy": True, "max_new_tokens": 512}, "سلام")
    keys = {
        translation_key(*base),
        translation_key("aya@def/bfloat16", *base[1:]),
        translation_key(base[0], "Translate carefully.", *base[2:]),
        translation_key(*base[:2], {"greedy": True, "max_new_tokens": 256}, base[3]),
        translation_key(*base[:3], "سلام!"),
    }
    assert len(keys) == 5
    assert translation_key(*base) == translation_key(base[0], base[1], dict(reversed(base[2].items())), base[3])


def _writer(path, worker, n):
    cache = TranslationCache(path)
    for start in range(0, n, 10):  # overlapping keys: both workers write every key
        cache.put([(f"k{i}", "t", f"source {i}", f"translation {i} by {worker}") for i in range(start, start + 10)])
    cache.close()


def test_two_processes_writing_at_once_lose_and_corrupt_nothing(tmp_path):
    path = tmp_path / "translations.sqlite"
    TranslationCache(path).close()
    procs = [mp.get_context("spawn").Process(target=_writer, args=(path, w, 300)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert db.execute("SELECT COUNT(*), COUNT(DISTINCT key) FROM translations").fetchone() == (300, 300)
    assert TranslationCache(path).get(["k0", "k299", "missing"]).keys() == {"k0", "k299"}


def test_chrf_is_sacrebleus():
    assert chrf(["the patient has a fever"], ["the patient has a fever"]) == 100.0
    assert 0 < chrf(["the patient has fever"], ["my father has a fever"]) < 100


def test_an_unreachable_postgres_cache_is_one_clear_error():
    pytest.importorskip("psycopg")
    from harness.errors import HarnessError
    from harness.translation import open_cache

    from .conftest import free_port

    url = f"postgresql+psycopg://harness:secret@127.0.0.1:{free_port()}/nowhere"  # nothing listens there
    with pytest.raises(HarnessError, match=r"translation cache 127\.0\.0\.1:\d+/nowhere: .*\(translator\.cache\)") as e:
        open_cache(url)
    assert "secret" not in str(e.value) and "\n" not in str(e.value)
