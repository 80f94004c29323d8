"""The committed demo files are exactly what the committed generator makes,
and they have the shape the issues ask for: negations, resolved symptoms,
imbalance, English references."""

import importlib.util
import json

import pytest

from .conftest import ROOT

KEYS_EXCLUDED = ("id", "text", "translation_en")


def _rows(language):
    return [json.loads(line) for line in (ROOT / "data" / f"demo_{language}.jsonl").read_text("utf-8").splitlines()]


@pytest.mark.parametrize("language", ["fa", "ur"])
def test_demo_file_is_reproducible(tmp_path, language):
    spec = importlib.util.spec_from_file_location("make_demo", ROOT / "data" / "make_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(language, tmp_path / "demo.jsonl")
    assert (tmp_path / "demo.jsonl").read_bytes() == (ROOT / "data" / f"demo_{language}.jsonl").read_bytes()


@pytest.mark.parametrize(
    "language, minimum, negation, resolved",
    [("fa", 400, "تب ندارد", "تبش قطع شده"), ("ur", 300, "بخار نہیں ہے", "اب اتر گیا")],
)
def test_demo_data_is_a_fair_test(language, minimum, negation, resolved):
    rows = _rows(language)
    keys = [k for k in rows[0] if k not in KEYS_EXCLUDED]
    assert len(rows) >= minimum and len(keys) == 13
    positives = {k: sum(r[k] for r in rows) for k in keys}
    assert positives["pain"] > 4 * positives["seizures"] > 0  # a call center's imbalance
    n_features = [sum(r[k] for k in keys) for r in rows]
    assert sum(n == 0 for n in n_features) > 0.05 * len(rows) and sum(n >= 3 for n in n_features) > 0.1 * len(rows)
    negated = [r for r in rows if negation in r["text"]]
    past = [r for r in rows if resolved in r["text"]]
    assert negated and past and not any(r["fever"] for r in negated + past)
    assert all(r["translation_en"].startswith("Operator:") for r in rows)
    assert len({r["text"] for r in rows}) > 0.95 * len(rows)
