"""The committed demo file is exactly what the committed generator makes, and
it has the shape the issue asks for: negations, resolved symptoms, imbalance."""

import importlib.util
import json

from .conftest import DEMO, ROOT


def test_demo_file_is_reproducible(tmp_path):
    spec = importlib.util.spec_from_file_location("make_demo", ROOT / "data" / "make_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path / "demo.jsonl")
    assert (tmp_path / "demo.jsonl").read_bytes() == DEMO.read_bytes()


def test_demo_data_is_a_fair_test(demo_rows):
    keys = [k for k in demo_rows[0] if k not in ("id", "text", "translation_en")]
    assert len(demo_rows) >= 400 and len(keys) == 13
    positives = {k: sum(r[k] for r in demo_rows) for k in keys}
    assert positives["pain"] > 4 * positives["seizures"] > 0  # a call center's imbalance
    n_features = [sum(r[k] for k in keys) for r in demo_rows]
    assert sum(n == 0 for n in n_features) > 20 and sum(n >= 3 for n in n_features) > 50
    # explicit negations and resolved past symptoms appear with a false label
    negated = [r for r in demo_rows if "تب ندارد" in r["text"]]
    resolved = [r for r in demo_rows if "تبش قطع شده" in r["text"]]
    assert negated and resolved and not any(r["fever"] for r in negated + resolved)
    assert all(r["translation_en"].startswith("Operator:") for r in demo_rows)
    assert len({json.dumps(r["text"]) for r in demo_rows}) > 0.95 * len(demo_rows)
