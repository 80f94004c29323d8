"""Never lose work, never leak a transcript."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import mlflow
import pytest
from omegaconf import OmegaConf

from harness import cli
from harness.config import typed
from harness.plan import flatten
from harness.tracking import redact, text_for_log

from .conftest import CONF, DEMO, compose_config, composed_cell, require, run_harness, store_overrides


def _store(workdir, experiment="harness"):
    return [
        f"tracking.uri=sqlite:///{workdir}/mlruns/mlflow.db",
        f"tracking.artifact_location={workdir}/mlruns/a",
        f"tracking.checkpoints={workdir}/mlruns/checkpoints",
        f"tracking.experiment={experiment}",
    ]


def test_secrets_never_reach_params():
    params = flatten({"tracking": {"uri": "https://alice:s3cret@mlflow.hospital.local/"}, "hf_token": "hf_abc"})
    logged = {k: redact(k, v) for k, v in params.items()}
    assert "s3cret" not in json.dumps(logged) and "hf_abc" not in json.dumps(logged)
    assert logged["tracking.uri"] == "https://alice:***@mlflow.hospital.local/"


@pytest.mark.parametrize(
    "key, secret",
    [
        ("hf_token", True),
        ("model.backend.api_key", True),
        ("db.password", True),
        ("token", True),
        ("client_secret", True),
        ("model.backend.max_new_tokens", False),
        ("model.backend.draft_tokens", False),
        ("model.backend.api_key_env", False),
    ],
)
def test_which_params_are_secret(key, secret):
    assert (redact(key, "v") == "***") is secret


def test_text_policies():
    assert text_for_log("تب دارد", "full") == "تب دارد"
    assert text_for_log("تب دارد", "hashed").startswith("sha256:") and "تب" not in text_for_log("تب دارد", "hashed")
    assert text_for_log("تب دارد", "none") is None


@pytest.mark.cli
def test_log_text_none_leaves_no_transcript_in_the_store(workdir, demo_rows):
    proc = run_harness(
        "-m",
        "route=native,reference",
        "model=keyword-baseline",
        "tracking.log_text=none",
        "tracking.traces=true",  # the traces too hold no transcript
        "dataset.limit=5",
        f"dataset.path={DEMO}",
        *_store(workdir),
        cwd=workdir,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    # Every sentence of every transcript and reference: none may appear anywhere under mlruns/.
    # (Phrases that the prompt wording itself uses, such as the service's name, are not transcript text.)
    wording = " ".join(p.read_text(encoding="utf-8") for p in CONF.rglob("*.yaml"))
    fragments = {
        s.strip()
        for r in demo_rows
        for t in (r["text"], r["translation_en"])
        for s in re.split(r"[.؟?،,\n]", t)
        if len(s.strip()) > 12 and s.strip() not in wording
    }
    blobs = [p.read_bytes() for p in (workdir / "mlruns").rglob("*") if p.is_file()]
    leaked = [f for f in fragments if any(f.encode() in b for b in blobs)]
    assert not leaked, leaked[:3]
    mlflow.set_tracking_uri(f"sqlite:///{workdir}/mlruns/mlflow.db")
    run = mlflow.search_runs(experiment_names=["harness"]).iloc[0]
    row = json.loads(mlflow.artifacts.load_text(f"runs:/{run.run_id}/predictions.jsonl").splitlines()[0])
    assert row["raw_output"] is None and set(row["pred"]) == set(row["gold"])


@pytest.mark.model
def test_kill_minus_nine_then_rerun_gives_the_uninterrupted_predictions(workdir):
    args = ["prompt.mode=score", "prompt.shots=1", "dataset.limit=8", "chunk_size=2", f"dataset.path={DEMO}"]
    reference = run_harness(*args, *_store(workdir, "clean"), cwd=workdir)
    assert reference.returncode == 0, reference.stderr[-2000:]

    store = _store(workdir, "killed")
    victim = subprocess.Popen(
        [sys.executable, "-m", "harness", *args, *store],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    checkpoints = workdir / "mlruns" / "checkpoints"

    def saved_lines() -> int:
        return max((len(p.read_text().splitlines()) for p in checkpoints.glob("*.jsonl")), default=0)

    deadline = time.time() + 600
    while time.time() < deadline and saved_lines() < 4:
        time.sleep(0.2)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    saved = next(checkpoints.glob("*.jsonl")).read_text().splitlines()
    assert 4 <= len(saved) < 8  # killed mid-run, with finished chunks on disk

    resumed = run_harness(*args, *store, cwd=workdir)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming: " in resumed.stdout + resumed.stderr

    mlflow.set_tracking_uri(f"sqlite:///{workdir}/mlruns/mlflow.db")
    runs = mlflow.search_runs(experiment_names=["killed"])
    assert sorted(runs["status"]) == ["FAILED", "FINISHED"]  # the dead run is not left RUNNING
    clean = mlflow.search_runs(experiment_names=["clean"]).iloc[0]
    done = runs[runs["status"] == "FINISHED"].iloc[0]

    def load(run_id):
        text = mlflow.artifacts.load_text(f"runs:/{run_id}/predictions.jsonl")
        return [json.loads(line) for line in text.splitlines()]

    a, b = load(clean.run_id), load(done.run_id)
    assert [r["id"] for r in b] == [r["id"] for r in a] and len({r["id"] for r in b}) == 8
    assert [(r["pred"], r["prob"]) for r in b] == [(r["pred"], r["prob"]) for r in a]
    assert not list(checkpoints.glob("*.jsonl"))  # removed once the run holds everything

    again = run_harness(*args, *store, cwd=workdir)  # a finished cell is skipped
    assert again.returncode == 0 and "skipping" in again.stdout + again.stderr
    assert len(mlflow.search_runs(experiment_names=["killed"])) == 2


@pytest.mark.model
def test_a_sweep_opens_no_connection_beyond_loopback(workdir):
    require(shutil.which("strace") is not None, "strace (apt-get install strace)")
    trace = workdir / "connect.trace"
    proc = subprocess.run(
        [
            "strace",
            "-f",
            "-qq",
            "-e",
            "trace=connect",
            "-o",
            str(trace),
            sys.executable,
            "-m",
            "harness",
            "-m",
            "model=keyword-baseline,smollm2-135m",
            "route=native,translate",
            "dataset.limit=2",
            "prompt.shots=1",
            "prompt.mode=score",
            f"dataset.path={DEMO}",
            "translator.model.backend.max_new_tokens=64",  # plumbing, not translation quality
            f"translator.cache={workdir}/t.sqlite",
            *_store(workdir),
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    calls = [line for line in trace.read_text().splitlines() if "connect(" in line]
    outside = [
        c for c in calls if ("AF_INET" in c and not re.search(r'inet_addr\("127\.|inet_pton\(AF_INET6, "::1"', c))
    ]
    assert not outside, outside[:5]


@pytest.mark.model
def test_a_transcript_longer_than_the_context_stops_or_is_cut_and_counted(workdir, demo_rows):
    cell = composed_cell(f"dataset.path={DEMO}")
    first_test = cell.evaluated[0].id  # the first document scored
    rows = [{**r, "text": r["text"] * 12} if r["id"] == first_test else r for r in demo_rows]
    path = workdir / "long.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    common = [
        "prompt.mode=score",
        "prompt.shots=1",
        "model.backend.max_context=2048",
        "dataset.limit=2",
        f"dataset.path={path}",
        *_store(workdir),
    ]
    stopped = run_harness(*common, cwd=workdir)
    assert stopped.returncode == 2 and "exceeds the model's context of 2048" in stopped.stderr
    assert first_test in stopped.stderr and "Traceback" not in stopped.stderr
    cut = run_harness(*common, "model.backend.truncate=true", cwd=workdir)
    assert cut.returncode == 0, cut.stderr[-2000:]
    mlflow.set_tracking_uri(f"sqlite:///{workdir}/mlruns/mlflow.db")
    run = mlflow.search_runs(experiment_names=["harness"]).iloc[0]
    assert run["metrics.data/truncated"] == 1


def test_traces_hold_each_document_as_its_run_scored_it(workdir, monkeypatch):
    """tracking.traces=true: one trace per scored document in each run, whose
    outputs, gold expectation and fields-right feedback are that run's own
    predictions (two runs of one seed share no trace); its text is what
    tracking.log_text allows (here: hashed)."""
    monkeypatch.chdir(workdir)
    for route in ("native", "reference"):
        cfg = compose_config(
            *store_overrides(workdir),
            "model=scripted",
            f"route={route}",
            "prompt.mode=score",
            "dataset.limit=6",
            "tracking.traces=true",
            "tracking.log_text=hashed",
        )
        cli.run_typed(*typed(cfg), OmegaConf.to_yaml(cfg))
    runs = mlflow.search_runs(experiment_names=["harness"], output_format="list")
    assert len(runs) == 2
    seen, right = set(), []
    for run in runs:
        jsonl = mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/predictions.jsonl")
        rows = {r["id"]: r for r in map(json.loads, jsonl.splitlines())}
        traces = mlflow.search_traces(locations=[run.info.experiment_id], run_id=run.info.run_id, return_type="list")
        assert len(traces) == len(rows) == 6
        seen |= {t.info.trace_id for t in traces}
        for trace in traces:
            span = trace.data.spans[0]
            row = rows[span.inputs["doc_id"]]
            assert span.inputs["route"] == run.data.params["route"] and span.inputs["text"] == row["text"]
            (answer,) = set(span.outputs) - set(row["gold"])  # score mode: answer_from_scores
            assert span.inputs["text"].startswith("sha256:") and span.outputs[answer] == row["raw_output"]
            assert {k: span.outputs[k] for k in row["gold"]} == row["pred"]
            assert sorted(a.name for a in trace.info.assessments) == ["fields_right", "gold"]
            got = {a.name: a for a in trace.info.assessments}
            assert got["gold"].value == row["gold"]
            wrong = [k for k, g in row["gold"].items() if row["pred"][k] != g]
            assert got["fields_right"].value == 13 - len(wrong)
            assert all(k in got["fields_right"].rationale for k in wrong)
            right.append(got["fields_right"].value)
    assert len(seen) == 12
    assert 0 < min(right) < 13  # P(true) 0.25 everywhere: some fields right, some wrong
