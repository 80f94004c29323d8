"""Real runs: the embedded SmolLM2 through transformers, a real Hydra
multirun, a real SQLite MLflow store; logged numbers checked against an
independent recomputation from the logged predictions."""

import json
import re
import statistics

import mlflow
import pandas as pd
import pytest
from sklearn.metrics import f1_score, matthews_corrcoef

from harness import report

from .conftest import DEMO, run_harness

KEYS = [
    "doctor_visit",
    "psychological",
    "sleep",
    "appetite",
    "seizures",
    "weakness",
    "consciousness",
    "fever",
    "respiratory",
    "cost",
    "urinary",
    "pain",
    "gastrointestinal",
]
METRICS = ["accuracy", "precision", "sensitivity", "specificity", "macro_f1", "mcc"]


def _store(workdir):
    return [f"tracking.uri=sqlite:///{workdir}/mlruns/mlflow.db", f"tracking.artifact_location={workdir}/mlruns/a"]


def _runs(workdir, experiment="harness"):
    mlflow.set_tracking_uri(f"sqlite:///{workdir}/mlruns/mlflow.db")
    return mlflow.search_runs(experiment_names=[experiment], order_by=["start_time ASC"])


def _predictions(run_id):
    path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="predictions.jsonl")
    return [json.loads(line) for line in open(path, encoding="utf-8")]


def _recompute(preds, key):
    gold = [p["gold"][key] for p in preds]
    pred = [bool(p["pred"][key]) for p in preds]  # missing scores as false
    return f1_score(gold, pred, average="macro", zero_division=0), matthews_corrcoef(gold, pred)


@pytest.mark.model
def test_embedded_model_run_logs_the_whole_contract(workdir):
    proc = run_harness("dataset.limit=3", "prompt.shots=1", f"dataset.path={DEMO}", *_store(workdir), cwd=workdir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = _runs(workdir)
    assert len(runs) == 1
    run = runs.iloc[0]
    assert run["status"] == "FINISHED"
    assert run["tags.mlflow.runName"] == "smollm2-135m|native|1shot"
    for name in [
        "model",
        "route",
        "prompt",
        "shots",
        "selection",
        "seed",
        "dataset",
        "dataset_digest",
        "protocol",
        "config_hash",
        "harness_version",
        "git_commit",
        "model.backend.max_new_tokens",
        "split.seed",
    ]:
        assert f"params.{name}" in run, name
    assert run["params.model"] == "smollm2-135m" and run["params.shots"] == "1"
    assert run["params.protocol"] == "harness"
    assert run["params.protocol_departures"] == "answer_format,field_names,parser,scored_set,shots"
    assert run["params.protocol_unverifiable"] == "examples,prompt_wording"
    expected = (
        [f"{agg}/{m}" for agg in ("median", "mean") for m in METRICS]
        + [f"feature/{k}/{m}" for k in KEYS for m in METRICS + ["missing"]]
        + [
            "missing/count",
            "missing/rate",
            "latency/ms_per_doc_p50",
            "latency/ms_per_doc_p95",
            "throughput/docs_per_s",
            "throughput/gen_tokens_per_s",
            "memory/peak_rss_mb",
        ]
    )
    missing = [m for m in expected if f"metrics.{m}" not in run or pd.isna(run[f"metrics.{m}"])]
    assert not missing
    assert run["metrics.throughput/gen_tokens_per_s"] > 0
    assert 100 < run["metrics.memory/peak_rss_mb"] < 24 * 1024  # the model is resident: more than 100 MB

    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run.run_id)}
    assert {"predictions.jsonl", "predictions_table.json", "per_feature.csv", "config.yaml", "prompt.txt"} <= artifacts
    preds = _predictions(run.run_id)
    assert len(preds) == 3 and all(p["split"] == "test" for p in preds)
    mlflow.set_experiment("harness")
    table = mlflow.load_table("predictions_table.json", run_ids=[run.run_id])  # the UI's table view reads this
    assert list(table["id"]) == [p["id"] for p in preds] and list(table["answer"]) == [p["raw_output"] for p in preds]
    assert all(table[f"{k}_gold"].tolist() == [p["gold"][k] for p in preds] for k in KEYS)
    assert all(set(p["pred"]) == set(KEYS) and p["raw_output"] for p in preds)
    prompt = open(mlflow.artifacts.download_artifacts(run_id=run.run_id, artifact_path="prompt.txt")).read()
    assert "Patient requested a doctor's visit: " in prompt and "<|im_start|>assistant" in prompt

    inputs = mlflow.get_run(run.run_id).inputs.dataset_inputs
    assert inputs and inputs[0].dataset.name == "demo_fa"
    assert run["params.dataset_digest"].startswith(inputs[0].dataset.digest)

    for key in KEYS:
        f1, mcc = _recompute(preds, key)
        assert run[f"metrics.feature/{key}/macro_f1"] == pytest.approx(f1)
        assert run[f"metrics.feature/{key}/mcc"] == pytest.approx(mcc)


@pytest.mark.model
def test_the_study_protocol_with_the_users_own_prompt_wording(workdir, demo_rows):
    """+experiment=reference_study with a prompt file from the user's own
    folder (--config-dir), on a whole (small) dataset: every document scored,
    the examples too, and nothing departs from the study's protocol."""
    folder = workdir / "my_prompts" / "prompt"
    folder.mkdir(parents=True)
    (folder / "my_wording.yaml").write_text(
        "name: my_wording\nsystem:\n  en: |-\n    MY OWN RULES, WORD FOR WORD.\n    {template}\n"
        "lead_in:\n  en: |-\n    MY OWN LEAD-IN: {text}\n",
        encoding="utf-8",
    )
    data = workdir / "eight.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in demo_rows[:8]), encoding="utf-8")
    proc = run_harness(
        "--config-dir",
        str(workdir / "my_prompts"),
        "+experiment=reference_study",
        "prompt=my_wording",
        "route=reference",
        f"dataset.path={data}",
        "dataset.name=eight",
        "split.pool=0.5",
        *_store(workdir),
        cwd=workdir,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = _runs(workdir).iloc[0]
    assert run["params.protocol"] == "reference" and run["tags.protocol"] == "reference"
    assert run["params.protocol_departures"] in ("", None)
    assert run["params.protocol_unverifiable"] == "examples,prompt_wording"
    prompt = open(mlflow.artifacts.download_artifacts(run_id=run.run_id, artifact_path="prompt.txt")).read()
    assert "MY OWN RULES, WORD FOR WORD." in prompt and "MY OWN LEAD-IN: " in prompt
    assert "{Patient requested for doctor's visit: ,\n" in prompt and "Gastrointestinal issues: ,}" in prompt
    preds = _predictions(run.run_id)
    assert sorted(p["id"] for p in preds) == sorted(r["id"] for r in demo_rows[:8])  # the examples scored too
    shots = json.load(open(mlflow.artifacts.download_artifacts(run_id=run.run_id, artifact_path="shots.json")))
    assert len(shots["shot_ids"]) == 3


@pytest.mark.model
def test_sweep_runs_every_cell_and_loads_each_model_once(workdir):
    proc = run_harness(
        "-m",
        "model=keyword-baseline,smollm2-135m",
        "prompt.shots=0,1",
        "dataset.limit=2",
        "prompt.mode=score",  # the sweep's plumbing; generate mode is tested above
        f"dataset.path={DEMO}",
        *_store(workdir),
        "tracking.experiment=sweep",
        cwd=workdir,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = _runs(workdir, "sweep")
    assert sorted(runs["tags.mlflow.runName"]) == [  # the baseline reads no examples: k = 0 and 1 are one cell
        "keyword-baseline|native",
        "smollm2-135m|native|0shot|score",
        "smollm2-135m|native|1shot|score",
    ]
    assert set(runs["status"]) == {"FINISHED"}
    loads = re.findall(r"loading backend (\S+)", proc.stdout + proc.stderr)
    assert len(loads) == 2, loads  # one per model, not one per cell


@pytest.mark.cli
def test_unseen_dataset_with_its_own_column_names(workdir, demo_rows):
    """Columns renamed, CSV instead of JSONL: overrides only, and the logged
    metrics equal an independent recomputation from predictions.jsonl."""
    renamed = [
        {"call_id": r["id"], "transcript": r["text"], **{f"y_{k}": int(r[k]) for k in KEYS}} for r in demo_rows[:200]
    ]
    path = workdir / "calls.csv"
    pd.DataFrame(renamed).to_csv(path, index=False)
    overrides = [f"dataset.columns.labels.{k}=y_{k}" for k in KEYS]
    proc = run_harness(
        "model=keyword-baseline",
        f"dataset.path={path}",
        "dataset.name=calls",
        "dataset.columns.id=call_id",
        "dataset.columns.text=transcript",
        "dataset.columns.reference=null",
        *overrides,
        *_store(workdir),
        cwd=workdir,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = _runs(workdir).iloc[0]
    preds = _predictions(run.run_id)
    assert len(preds) == 120  # the test split: 60% of 200
    per_feature = {k: _recompute(preds, k) for k in KEYS}
    for key, (f1, mcc) in per_feature.items():
        assert run[f"metrics.feature/{key}/macro_f1"] == pytest.approx(f1)
        assert run[f"metrics.feature/{key}/mcc"] == pytest.approx(mcc)
    assert run["metrics.median/macro_f1"] == pytest.approx(statistics.median(f for f, _ in per_feature.values()))
    gold = {r["call_id"]: {k: bool(r[f"y_{k}"]) for k in KEYS} for r in renamed}
    assert all(p["gold"] == gold[p["id"]] for p in preds)


@pytest.mark.model
def test_translate_route_translates_each_text_once_per_sweep(workdir):
    cache = workdir / "translations.sqlite"
    proc = run_harness(
        "-m",
        "route=native,translate",
        "model=smollm2-135m,keyword-baseline",
        "dataset.limit=2",
        "prompt.shots=1",
        "prompt.mode=score",
        "translator.model.backend.max_new_tokens=64",
        f"dataset.path={DEMO}",
        f"translator.cache={cache}",
        *_store(workdir),
        "tracking.experiment=routes",
        cwd=workdir,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = _runs(workdir, "routes")
    assert len(runs) == 4 and set(runs["status"]) == {"FINISHED"}
    translate = runs[runs["params.route"] == "translate"]
    # The model reads 2 documents + 1 example; then the baseline, which reads no examples, the same 2 documents.
    assert list(translate["metrics.translation/cache_misses"]) == [3, 0]
    assert list(translate["metrics.translation/cache_hits"]) == [0, 2]
    assert translate["metrics.translation/chrf"].notna().all()
    native = runs[runs["params.route"] == "native"]
    assert native["metrics.translation/cache_misses"].isna().all()
    assert "params.translator.model.name" not in native or native["params.translator.model.name"].isna().all()
    for run_id in translate.run_id:
        paths = {a.path for a in mlflow.MlflowClient().list_artifacts(run_id)}
        assert "translations.jsonl" in paths and "route_effects" not in paths  # a run logs only itself
        rows = [
            json.loads(line)
            for line in open(
                mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="translations.jsonl"), encoding="utf-8"
            )
        ]
        assert len(rows) == (
            2 if translate.loc[translate.run_id == run_id, "params.model"].item() == "keyword-baseline" else 3
        )
        assert all(r["source"] and r["reference"] and "translation" in r for r in rows)
    # The route effects are the report's: each model on translate against itself on native.
    report.main(
        [
            "--experiment",
            "routes",
            "--tracking-uri",
            f"sqlite:///{workdir}/mlruns/mlflow.db",
            "--out",
            str(workdir / "report"),
            "--bootstrap",
            "10",
            "--no-log",
        ]
    )
    effects = pd.read_csv(workdir / "report" / "route_effects.csv")
    assert set(zip(effects.route_a, effects.route_b)) == {("native", "translate")} and len(effects) == 2 * 13 * 5
    logged = {(r["params.model"], r["params.route"]): r["metrics.feature/pain/mcc"] for _, r in runs.iterrows()}
    for _, row in effects.query("feature == 'pain' and metric == 'mcc'").iterrows():
        model = row.a.split("|")[0]
        assert row.b.startswith(model + "|")  # the same model on both routes
        assert (row.value_a, row.value_b) == pytest.approx((logged[model, "native"], logged[model, "translate"]))
        assert row.delta == pytest.approx(row.value_b - row.value_a)
    import sqlite3

    db = sqlite3.connect(cache)
    assert db.execute("SELECT COUNT(*), COUNT(DISTINCT source) FROM translations").fetchone() == (3, 3)


@pytest.mark.model
def test_parallel_jobs_share_the_translation_cache(workdir):
    cache = workdir / "translations.sqlite"
    proc = run_harness(
        "-m",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "route=translate",
        "model=scripted",
        "seed=1,2",
        "dataset.limit=3",
        "prompt.shots=1",  # two cells (seeds)
        "translator.model.backend.max_new_tokens=64",
        f"dataset.path={DEMO}",
        f"translator.cache={cache}",
        *_store(workdir),
        "tracking.experiment=parallel",
        cwd=workdir,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = _runs(workdir, "parallel")
    assert len(runs) == 2 and set(runs["status"]) == {"FINISHED"}
    import sqlite3

    db = sqlite3.connect(cache)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    count, distinct = db.execute("SELECT COUNT(*), COUNT(DISTINCT key) FROM translations").fetchone()
    assert count == distinct  # every translation held once
    texts = {
        t
        for run_id in runs.run_id
        for t in (
            json.loads(line)["source"]
            for line in open(
                mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="translations.jsonl"), encoding="utf-8"
            )
        )
    }
    assert distinct == len(texts)


@pytest.mark.model
def test_urdu_native_and_reference_routes(workdir):
    proc = run_harness(
        "-m",
        "dataset=demo_ur",
        "route=native,reference",
        "route.prompt_language=source",
        "model=keyword-baseline,smollm2-135m",
        "dataset.limit=2",
        "prompt.shots=1",
        "prompt.mode=score",
        *_store(workdir),
        "tracking.experiment=urdu",
        cwd=workdir,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = _runs(workdir, "urdu")
    assert len(runs) == 4 and set(runs["params.dataset"]) == {"demo_ur"}
    smol = runs[(runs["params.model"] == "smollm2-135m") & (runs["params.route"] == "native")].iloc[0]
    prompt = open(mlflow.artifacts.download_artifacts(run_id=smol.run_id, artifact_path="prompt.txt")).read()
    assert "سانچہ" in prompt and "ڈاکٹر کے معائنے کی درخواست" in prompt  # the Urdu prompt and field names
