"""benchmarks/throughput.py runs end to end on the embedded model, prints the
figures docs/speed.md quotes, and in float32 the harness's generate mode gives
the study's pipeline's predictions field for field; its llama.cpp backend, as
configured, gives llama.cpp-by-hand's."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import require

pytestmark = pytest.mark.model
ROOT = Path(__file__).resolve().parents[1]


def test_throughput_benchmark_agrees_with_the_study_pipeline():
    require(importlib.util.find_spec("llama_cpp") is not None, "llama-cpp-python")
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "throughput.py"),
            "--routes",
            "reference",
            "--docs",
            "2",
            "--shots",
            "1",
            "--dtype",
            "float32",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "agreement (a)-(b): 100.0% of fields, 0 documents differ" in out, out
    for side, label in (("a", "study pipeline"), ("b", "harness generate"), ("c", "harness score")):
        assert re.search(rf"\({side}\) +{label} +\d+\.\d+ docs/s .* of peak", out), label
    assert re.search(r"b/a = \d+\.\dx +c/a = \d+\.\dx", out)
    assert re.search(r"knn examples .*: generate bk/b = \d+\.\d+x, score ck/c = \d+\.\d+x; llama.cpp ek/e = ", out)
    assert re.search(r"bound: .* = \d+\.\dx the study's pipeline; .* Score mode runs at \d+% of it", out)
    assert re.search(r"score mode's template: \d+ tokens .* score mode runs at \d+% of that", out)
    for side, label in (("d", "llama.cpp by hand"), ("e", "llama.cpp generate"), ("es", "llama.cpp score")):
        assert re.search(rf"\({side}\) +{label} +\d+\.\d+ docs/s .* RSS [\d,]+ MB", out), label
    assert "agreement (d)-(e): 100.0% of fields, 0 documents differ" in out, out
    assert re.search(r"llama.cpp: e/d = \d+\.\d+x", out)
