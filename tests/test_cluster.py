"""Beyond one process: a sweep as submitit jobs (the Slurm launcher's local
twin) and parallel tuning workers, both against a real MLflow server whose
backend store is a real PostgreSQL server, all started on loopback here."""

import json
import subprocess
import sys

import mlflow
import optuna
import pytest

psycopg = pytest.importorskip("psycopg")

from .conftest import DEMO, mlflow_server, run_harness  # noqa: E402 (after the skip)

pytestmark = pytest.mark.server
COMPLETE_RUN = {
    "predictions.jsonl",
    "predictions_table.json",
    "per_feature.csv",
    "config.yaml",
    "prompt.txt",
    "shots.json",
}


@pytest.fixture(scope="module")
def tracking_server(postgres, tmp_path_factory):
    """`mlflow server` on PostgreSQL, serving its own artifact store."""
    artifacts = tmp_path_factory.mktemp("served-artifacts")
    with mlflow_server("--backend-store-uri", f"{postgres}/mlflow", "--artifacts-destination", str(artifacts)) as uri:
        yield uri


def test_submitit_sweep_of_four_cells_two_at_a_time(postgres, tracking_server, workdir):
    """4 cells as submitit jobs, 2 at a time, logging to the shared server; the
    translate cells share one translation cache in PostgreSQL (the second
    batch's translates three documents, two of them translated by the first's)."""
    done = run_harness(
        "-m",
        "hydra/launcher=local",
        "hydra.sweeper.max_batch_size=2",
        "model=scripted",
        "dataset.limit=2,3",
        "route=translate,native",
        f"dataset.path={DEMO}",
        "translator.model.backend.max_new_tokens=48",
        f"translator.cache={postgres}/mlflow",
        f"tracking.uri={tracking_server}",
        "tracking.experiment=cluster",
        cwd=workdir,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(list(workdir.glob("multirun/*/*/.submitit/*"))) >= 4  # each cell ran as a submitit job

    mlflow.set_tracking_uri(tracking_server)
    runs = mlflow.search_runs(experiment_names=["cluster"], output_format="list")
    assert len(runs) == 4
    assert len({(r.data.params["route"], r.data.params["dataset.limit"]) for r in runs}) == 4
    client = mlflow.MlflowClient()
    sources = set()
    for run in runs:
        assert run.info.status == "FINISHED"
        assert COMPLETE_RUN <= {a.path for a in client.list_artifacts(run.info.run_id)}
        rows = mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/predictions.jsonl").splitlines()
        assert len(rows) == int(run.data.params["dataset.limit"]) and "median/macro_f1" in run.data.metrics
        assert run.inputs.dataset_inputs  # the evaluated documents, as an MLflow dataset
        if run.data.params["route"] == "translate":
            translated = mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/translations.jsonl").splitlines()
            sources |= {json.loads(row)["source"] for row in translated}
            if run.data.params["dataset.limit"] == "3":  # ran after the batch that translated the first two
                assert run.data.metrics["translation/cache_hits"] >= 2
    with psycopg.connect(f"{postgres}/mlflow".replace("+psycopg", "")) as db:
        cached = [row[0] for row in db.execute("SELECT source FROM translations")]
    assert sorted(cached) == sorted(sources)  # each text translated into the cache once


def test_two_tuning_workers_on_postgres_finish_exactly_n_trials(postgres, tracking_server, workdir):
    storage = f"{postgres}/optuna"
    args = [
        "-m",
        "harness.tune",
        "model=keyword-baseline",
        "tune.n_trials=7",
        "tune.dev_limit=8",
        "tune.chunk_size=4",
        "tune.study=shared",
        "dataset.limit=3",
        f"dataset.path={DEMO}",
        f"tune.storage={storage}",
        f"tune.selection_dir={workdir}/selections",
        f"tracking.uri={tracking_server}",
        "tracking.experiment=tuning",
    ]
    workers = [
        subprocess.Popen(
            [sys.executable, *args], cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(2)
    ]
    outputs = [w.communicate(timeout=600)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]

    trials = optuna.load_study(study_name="shared", storage=storage).trials
    assert len(trials) == 7 and sorted(t.number for t in trials) == list(range(7))
    assert {t.state for t in trials} <= {optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED}
    mlflow.set_tracking_uri(tracking_server)
    runs = mlflow.search_runs(experiment_names=["tuning"])
    assert len(runs[runs["tags.harness.role"] == "study"]) == 1
    assert sorted(runs[runs["tags.harness.role"] == "trial"]["tags.optuna_trial"].astype(int)) == list(range(7))
