"""What `tracking.traces=true` costs on the default store (SQLite, no
server): seconds and store size per 1,000 documents of `tracking.log_traces`
(a trace per document with its text under log_text=full, its fields and
answer, the gold expectation and the fields-right feedback), against the
run's own artifacts (predictions.jsonl and predictions_table.json).

    python benchmarks/traces.py --docs 1000
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import mlflow

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from harness.records import Prediction, RunResult  # noqa: E402
from harness.tracking import log_traces  # noqa: E402

KEYS = [f"feature_{i}" for i in range(13)]


def size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=1000)
    args = parser.parse_args()
    rng = random.Random(0)
    docs = [
        {
            "id": f"fa-{i:05d}",
            "gold": {k: rng.random() < 0.2 for k in KEYS},
            "pred": {k: rng.random() < 0.2 for k in KEYS},
            "text": "Operator: hello. Caller: " + "x" * 1500,  # about a demo transcript's length
        }
        for i in range(args.docs)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp)
        mlflow.set_tracking_uri(f"sqlite:///{store}/mlflow.db")
        mlflow.set_experiment(experiment_id=mlflow.create_experiment("traces", (store / "artifacts").as_uri()))
        with mlflow.start_run() as run:  # the store's fixed cost: tables and one run
            pass
        base = size(store)
        with mlflow.start_run():
            start = time.perf_counter()
            mlflow.log_text("".join(json.dumps(d) + "\n" for d in docs), "predictions.jsonl")
            mlflow.log_table(
                {"id": [d["id"] for d in docs], **{k: [d["pred"][k] for d in docs] for k in KEYS}},
                "predictions_table.json",
            )
            artifacts_s = time.perf_counter() - start
        artifacts_bytes = size(store) - base
        with mlflow.start_run() as run:
            start = time.perf_counter()
            predictions = [Prediction(d["id"], "test", "{...}", d["pred"], d["gold"]) for d in docs]
            texts = {d["id"]: d["text"] for d in docs}
            log_traces(RunResult(predictions, {}, {}, [], texts=texts), "native", "full")
            traces_s = time.perf_counter() - start
        traces_bytes = size(store) - base - artifacts_bytes
        found = mlflow.search_traces(locations=[run.info.experiment_id], max_results=5, return_type="list")
    k = 1000 / args.docs  # per 1,000 documents
    print(f"{args.docs} documents, MLflow {mlflow.__version__}, SQLite store")
    print(f"artifacts (predictions.jsonl + table): {artifacts_s * k:.2f} s, {artifacts_bytes * k / 2**20:.2f} MB")
    print(f"a trace per document (+ expectation, feedback): {traces_s * k:.1f} s, {traces_bytes * k / 2**20:.2f} MB")
    ratio = traces_bytes / max(artifacts_bytes, 1)
    print(f"traces/artifacts: {traces_s / artifacts_s:.0f}x the time, {ratio:.1f}x the bytes; found {len(found)} of 5")


if __name__ == "__main__":
    main()
