"""harness-tune: a real Optuna study (SQLite storage), real nested MLflow runs,
dev scored by the scripted backend (the bookkeeping is the point, not a
model), one final test run."""

import json

import mlflow
import optuna
import pytest

from harness.records import Document
from harness.splits import balanced_shots, random_shots

from .conftest import DEMO, compose_config, composed_cell, run_harness, store_overrides, store_runs

STUDY = "resume-test"


def test_balanced_selection_covers_every_feature_it_can():
    keys = ["a", "b", "c"]
    pool = [Document(id=f"d{i}", text="t", labels={"a": i == 1, "b": i in (1, 2), "c": i == 3}) for i in range(6)]
    shots = balanced_shots(pool, 3, keys, seed=0)
    assert {d.id for d in shots} >= {"d1", "d3"}
    assert len(shots) == 3 and len({d.id for d in shots}) == 3


def test_the_final_run_is_the_tuned_cell_on_test(workdir, monkeypatch):
    """In-process with the scripted backend: the trials read dev, the winner's
    selection is written, and the one test run is the same cell with that
    selection (derived from the typed config, as `harness` would log it)."""
    from harness.tune import tune_config

    monkeypatch.chdir(workdir)
    cfg = compose_config(
        *store_overrides(workdir),
        "model=scripted",
        "prompt.mode=score",
        "prompt.shots=1",
        "tune.n_trials=3",
        "tune.dev_limit=4",
        "dataset.limit=3",
        f"tune.storage=sqlite:///{workdir}/optuna.db",
        f"tune.selection_dir={workdir}/selections",
        "tune.study=s",
        config_name="tune",
    )
    tune_config(cfg)
    selection = json.loads((workdir / "selections" / "s.json").read_text())
    runs = store_runs(workdir)
    (final,) = [r for _, r in runs.iterrows() if r.get("tags.optuna_study") == "s"]
    assert final["params.selection"] == "tuned" and final["params.split.evaluate"] == "test"
    assert final["params.prompt.selection_file"] == str(workdir / "selections" / "s.json")
    logged = mlflow.artifacts.load_text(f"runs:/{final.run_id}/shots.json")
    assert json.loads(logged)["shot_ids"] == selection["ids"]
    assert len(runs[runs["tags.harness.role"] == "trial"]) == 3


@pytest.mark.cli
def test_study_finishes_resumes_and_never_leaks(workdir):
    store = [
        f"tracking.uri=sqlite:///{workdir}/mlruns/mlflow.db",
        f"tracking.artifact_location={workdir}/mlruns/a",
        f"tune.storage=sqlite:///{workdir}/optuna.db",
        f"tune.selection_dir={workdir}/selections",
    ]
    common = [
        "model=scripted",
        "prompt.mode=score",
        "prompt.shots=1",
        "tune.dev_limit=4",
        "tune.chunk_size=2",
        "dataset.limit=3",
        f"tune.study={STUDY}",
        "tune.startup_trials=1",
        f"dataset.path={DEMO}",
        *store,
    ]
    first = run_harness("tune.n_trials=3", *common, cwd=workdir, module="harness.tune")
    assert first.returncode == 0, first.stderr[-3000:]
    again = run_harness("tune.n_trials=5", *common, cwd=workdir, module="harness.tune")  # resumes
    assert again.returncode == 0, again.stderr[-3000:]

    study = optuna.load_study(study_name=STUDY, storage=f"sqlite:///{workdir}/optuna.db")
    assert len(study.trials) == 5
    cell = composed_cell(f"dataset.path={DEMO}")
    pool = [d for d in cell.documents if cell.split_of[d.id] == "pool"]
    baselines = [[d.id for d in random_shots(pool, 1, 42)], [d.id for d in balanced_shots(pool, 1, cell.task.keys, 42)]]
    assert [[t.params["shot_0"]] for t in study.trials[:2]] == baselines  # the enqueued baselines ran first
    selection = json.loads((workdir / "selections" / f"{STUDY}.json").read_text())

    mlflow.set_tracking_uri(f"sqlite:///{workdir}/mlruns/mlflow.db")
    runs = mlflow.search_runs(experiment_names=["harness"])
    parents = runs[runs["tags.harness.role"] == "study"]
    trials = runs[runs["tags.harness.role"] == "trial"]
    finals = runs[runs["tags.optuna_study"] == STUDY]
    assert len(parents) == 1 and len(trials) == 5 and 1 <= len(finals) == finals["params.config_hash"].nunique()
    third = run_harness("tune.n_trials=5", *common, cwd=workdir, module="harness.tune")  # no trial left to run
    assert third.returncode == 0, third.stderr[-3000:]
    assert "skipping" in third.stdout + third.stderr  # the same final run is not repeated
    assert len(mlflow.search_runs(experiment_names=["harness"], filter_string=f"tags.optuna_study = '{STUDY}'")) == len(
        finals
    )
    assert set(trials["tags.mlflow.parentRunId"]) == {parents.run_id.iloc[0]}
    assert set(trials["tags.optuna_state"]) <= {"COMPLETE", "PRUNED"}

    # No example is a dev or test document; the final runs score test, trials only dev.
    split_of = cell.split_of
    chosen = {v for t in study.trials for k, v in t.params.items() if k.startswith("shot_")}
    assert chosen and all(split_of[i] == "pool" for i in chosen)
    final = finals.sort_values("start_time").iloc[-1]
    assert final["params.selection"] == "tuned" and final["params.split.evaluate"] == "test"
    preds = [
        json.loads(line)
        for line in open(
            mlflow.artifacts.download_artifacts(run_id=final.run_id, artifact_path="predictions.jsonl"),
            encoding="utf-8",
        )
    ]
    assert all(p["split"] == "test" for p in preds)

    # The selection file passed to `harness` reproduces the final test numbers.
    proc = run_harness(
        "model=scripted",
        "prompt.mode=score",
        "prompt.selection=tuned",
        f"prompt.selection_file={workdir / 'selections' / f'{STUDY}.json'}",
        "dataset.limit=3",
        f"dataset.path={DEMO}",
        *store[:2],
        "tracking.experiment=replay",
        cwd=workdir,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    replay = mlflow.search_runs(experiment_names=["replay"]).iloc[0]
    assert json.loads(mlflow.artifacts.load_text(f"runs:/{replay.run_id}/shots.json"))["shot_ids"] == selection["ids"]
    for m in ("median/macro_f1", "median/mcc", "mean/sensitivity"):
        assert replay[f"metrics.{m}"] == pytest.approx(final[f"metrics.{m}"])


@pytest.mark.cli
def test_selection_file_with_a_test_document_is_refused(workdir):
    cell = composed_cell(f"dataset.path={DEMO}")
    test_id = next(d.id for d in cell.documents if cell.split_of[d.id] == "test")
    bad = workdir / "bad.json"
    bad.write_text(json.dumps({"ids": [test_id]}))
    proc = run_harness(
        "model=scripted",
        "prompt.selection=tuned",
        f"prompt.selection_file={bad}",
        f"dataset.path={DEMO}",
        f"tracking.uri=sqlite:///{workdir}/m.db",
        cwd=workdir,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert test_id in proc.stderr and "test document" in proc.stderr


@pytest.mark.cli
def test_two_workers_share_one_study(workdir):
    import subprocess
    import sys

    args = [
        "-m",
        "harness.tune",
        "model=keyword-baseline",
        "tune.n_trials=8",
        "tune.dev_limit=8",
        "tune.chunk_size=4",
        "tune.study=pair",
        "dataset.limit=3",
        f"dataset.path={DEMO}",
        f"tune.storage=sqlite:///{workdir}/optuna.db",
        f"tune.selection_dir={workdir}/selections",
        f"tracking.uri=sqlite:///{workdir}/mlruns/mlflow.db",
        f"tracking.artifact_location={workdir}/mlruns/a",
    ]
    workers = [
        subprocess.Popen(
            [sys.executable, *args], cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(2)
    ]
    outputs = [w.communicate(timeout=600)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]
    study = optuna.load_study(study_name="pair", storage=f"sqlite:///{workdir}/optuna.db")
    states = [t.state for t in study.trials]
    finished = [s for s in states if s in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)]
    assert len(finished) == len(states) == 8  # nothing lost, nothing over budget
    assert len({t.number for t in study.trials}) == len(study.trials)
    mlflow.set_tracking_uri(f"sqlite:///{workdir}/mlruns/mlflow.db")
    runs = mlflow.search_runs(experiment_names=["harness"])
    parents = runs[runs["tags.harness.role"] == "study"]
    assert len(parents) == 1
    assert len(runs[runs["tags.harness.role"] == "trial"]) == len(study.trials)


def test_trials_search_the_strategy_and_a_knn_winner_runs_as_knn(workdir, monkeypatch):
    """With tune.strategies, each strategy's default is tried first (two id
    sets, a balanced seed, knn), every example comes from the pool, and a knn
    winner's test run is a prompt.selection=knn run of the winning k."""
    from harness.tune import tune_config

    monkeypatch.chdir(workdir)
    common = [
        *store_overrides(workdir),
        "model=scripted",
        "prompt.mode=score",
        "prompt.shots=2",
        "tune.dev_limit=4",
        "dataset.limit=3",
        f"tune.storage=sqlite:///{workdir}/optuna.db",
        f"tune.selection_dir={workdir}/selections",
    ]
    tune_config(
        compose_config(
            *common, "tune.n_trials=4", "tune.study=all", "tune.strategies=[ids,balanced,knn]", config_name="tune"
        )
    )
    trials = optuna.load_study(study_name="all", storage=f"sqlite:///{workdir}/optuna.db").trials
    assert [t.user_attrs["strategy"] for t in trials] == ["ids", "ids", "balanced", "knn"]
    pool = {d.id for d in composed_cell().pool}
    assert all(set(t.user_attrs["shot_ids"]) <= pool for t in trials)

    tune_config(
        compose_config(*common, "tune.n_trials=2", "tune.study=knn", "tune.strategies=[knn]", config_name="tune")
    )
    (final,) = [r for _, r in store_runs(workdir).iterrows() if r.get("tags.optuna_study") == "knn"]
    assert final["params.selection"] == "knn" and final["params.shots"] == "2"
    chosen = json.loads((workdir / "selections" / "knn.json").read_text())
    study = optuna.load_study(study_name="knn", storage=f"sqlite:///{workdir}/optuna.db")
    assert study.trials[0].params["knn_order"] == "nearest_last"  # the default, enqueued first
    assert chosen["strategy"] == "knn" and chosen["knn_order"] == study.best_trial.params["knn_order"]
    assert final["params.prompt.knn_order"] == chosen["knn_order"]  # the test run reads the winner's order


@pytest.mark.parametrize(
    "override, message",
    [("tune.strategies=[]", "tune.strategies is empty"), ("prompt.draws=2", "harness-tune picks one selection")],
)
def test_bad_tuning_settings_fail_before_the_study_opens(workdir, monkeypatch, override, message):
    from harness.errors import HarnessError
    from harness.tune import tune_config

    monkeypatch.chdir(workdir)
    storage = workdir / "optuna.db"
    cfg = compose_config(
        *store_overrides(workdir), "model=scripted", f"tune.storage=sqlite:///{storage}", override, config_name="tune"
    )
    with pytest.raises(HarnessError, match=message):
        tune_config(cfg)
    assert not storage.exists() and store_runs(workdir).empty
