"""No silently wrong number: resume that knows the data changed, settings
checked before a run exists, every failure of the store in one line, a
cell run once at a time. In-process against the baselines and the scripted
backend (no model), except where the behaviour is the process's own
(Ctrl-C, Hydra's errors, a sweep that goes on)."""

import errno
import functools
import json
import logging
import math
import shutil
import signal
import subprocess
import sys

import mlflow
import pytest

from harness import checkpoint, identity
from harness.cli import run_config, run_typed
from harness.config import Calibration, Evaluate, KnnOrder, Mode, Selection, typed, with_values
from harness.errors import HarnessError, exit_on_user_error
from harness.plan import plan
from harness.records import Generation

from .conftest import DEMO, compose_config, composed, free_port, run_harness, store_overrides, store_runs


def _rows(n=40):
    return [json.loads(line) for line in DEMO.read_text(encoding="utf-8").split("\n")[:n] if line]


def _write(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _cfg(workdir, *overrides):
    return compose_config(*store_overrides(workdir), *overrides)


def _finished(workdir):
    runs = store_runs(workdir)
    return runs[runs["status"] == "FINISHED"] if len(runs) else runs


# 1. Resume knows the data changed ------------------------------------------------------------


def test_a_finished_cell_reruns_when_its_labels_change(workdir, caplog):
    data = _write(workdir / "calls.jsonl", _rows())
    cfg = _cfg(workdir, "model=keyword-baseline", f"dataset.path={data}")
    first = run_config(cfg)
    assert run_config(cfg) == first and len(_finished(workdir)) == 1  # unchanged: skipped
    _write(data, [{**r, "pain": not r["pain"], "fever": not r["fever"]} for r in _rows()])
    with caplog.at_level(logging.INFO, logger="harness"):
        run_config(cfg)
    assert "its data changed since run" in caplog.text
    runs = _finished(workdir)
    assert len(runs) == 2 and runs["params.dataset_digest"].nunique() == 2
    assert runs["metrics.feature/pain/macro_f1"].nunique() == 2  # scored against the new labels


def test_a_checkpoint_is_used_only_for_the_data_and_experiment_it_was_made_on(workdir):
    """A checkpoint holds answers for the cell it was keyed by; changed
    transcripts or another experiment never read it."""
    data = _write(workdir / "calls.jsonl", _rows())
    overrides = ["model=scripted", "prompt.mode=generate", f"dataset.path={data}", "split.evaluate=nonpool"]

    def planted(*more):
        p = plan(*typed(_cfg(workdir, *overrides, *more)))
        every_field_true = "{" + ",\n".join(f"{n}: True" for n in p.cell.task.names) + "}"
        checkpoint.append(
            p.checkpoint, [Generation(doc_id=d.id, text=every_field_true, latency_s=0.0) for d in p.cell.evaluated]
        )
        return p

    planted()
    run_config(_cfg(workdir, *overrides))  # the planted answers are read back: nothing missing
    assert _finished(workdir).iloc[0]["metrics.missing/rate"] == 0.0
    planted("tracking.experiment=other")
    _write(data, [{**r, "text": r["text"] + " ."} for r in _rows()])  # every transcript changed
    run_config(_cfg(workdir, *overrides, "tracking.experiment=other"))
    runs = _finished(workdir)
    assert len(runs) == 2 and runs["metrics.missing/rate"].max() == 1.0  # answered afresh (scripted: nothing)


def test_what_changes_no_prediction_is_not_part_of_a_cell():
    def hash_of(*overrides):
        conf, plain = typed(compose_config("model=smollm2-135m", *overrides))
        return plan(conf, plain).cell_hash

    base = hash_of()
    assert hash_of("chunk_size=7", "model.backend.batch_size=2", "tracking.experiment=x", "resume=false") == base
    assert hash_of("seed=1") != base and hash_of("prompt.shots=2") != base
    conf, plain = typed(compose_config("model=keyword-baseline"))
    ident = identity.cell_identity(
        plain,
        reads_prompt=False,
        learns_from_pool=False,
        translates=False,
        dataset_digest="d",
        pool_digest=None,
        shot_ids=[],
    )
    assert ident["prompt"] == {} and "seed" not in ident  # a baseline reads no prompt


# 2. and 4. Settings and inputs are checked before a run exists --------------------------------


@functools.cache
def _base(model: str):
    """A composed and typed cell of `model` on 5 documents (composing costs
    ~0.3 s; the settings below are then changed on the typed values)."""
    return composed(f"model={model}", "dataset.limit=5")


@pytest.mark.parametrize(
    "model, changes, message",
    [
        ("keyword-baseline", {"chunk_size": -1}, "chunk_size=-1 is out of range: it must be >= 1"),
        ("keyword-baseline", {"chunk_size": 0}, "chunk_size=0 is out of range"),
        ("keyword-baseline", {"dataset.limit": -1}, "dataset.limit=-1 is out of range"),
        ("keyword-baseline", {"dataset.limit": 0}, "dataset.limit=0 is out of range"),
        ("scripted", {"prompt.selection": Selection.balanced, "prompt.shots": -2}, "prompt.shots=-2 is out of range"),
        ("keyword-baseline", {"seed": 4294967296}, "seed=4294967296 is out of range"),
        ("keyword-baseline", {"split.seed": -1}, "split.seed=-1 is out of range"),
        ("keyword-baseline", {"split.pool": 0.5, "split.dev": 0.5}, "leave room for a test split"),
        ("keyword-baseline", {"split.pool": 0.6, "split.dev": 0.399}, "no documents to evaluate"),
        ("tfidf-logreg", {"split.pool": 0.0}, "trains on the example pool, which is empty"),
        ("tfidf-logreg", {"split.evaluate": Evaluate.all}, "split.evaluate=all would score the pool documents"),
        ("scripted", {"prompt.threshold": 1.5}, "prompt.threshold must be a number between 0 and 1"),
        ("keyword-baseline", {"tracking.experiment": " "}, "tracking.experiment is empty"),
        ("scripted", {"prompt.draws": 0}, "prompt.draws=0 is out of range"),
        ("scripted", {"prompt.mode": Mode.score, "prompt.calibration_samples": 0}, "prompt.calibration_samples=0"),
        ("scripted", {"prompt.calibration": Calibration.contextual}, "it needs prompt.mode=score"),
        ("scripted", {"prompt.knn_order": KnnOrder.nearest_first}, "it needs prompt.selection=knn"),
        ("scripted", {"prompt.selection": Selection.knn, "prompt.shots": 10_000}, "prompt.selection=knn needs"),
        ("scripted", {"prompt.selection": Selection.knn, "prompt.draws": 2}, "draws need random or balanced"),
    ],
)
def test_bad_settings_fail_before_a_run_exists(workdir, model, changes, message):
    store_overrides(workdir)  # the store exists; no run may appear in it
    store = {"tracking.uri": f"sqlite:///{workdir}/mlruns/mlflow.db", "tracking.checkpoints": f"{workdir}/ck"}
    conf, plain = with_values(*_base(model), {**store, **changes})
    with pytest.raises(HarnessError, match=message):
        run_typed(conf, plain, config_yaml="")
    assert store_runs(workdir).empty


def test_a_model_class_that_answers_nothing_is_one_line():
    from harness.plan import backend_class

    with pytest.raises(
        HarnessError,
        match=r"^model.backend._target_=collections.OrderedDict: not a harness.backends.Backend or Baseline$",
    ):
        backend_class({"_target_": "collections.OrderedDict"})


def test_a_baseline_ignores_the_prompt_settings_it_never_reads(workdir):
    tiny = _write(workdir / "tiny.jsonl", _rows(3))  # too few for 3 examples, which a baseline never reads
    assert not math.isnan(
        run_config(_cfg(workdir, "model=keyword-baseline", f"dataset.path={tiny}", "split.pool=0", "split.dev=0"))
    )
    run_config(
        _cfg(
            workdir,
            "model=keyword-baseline",
            f"dataset.path={tiny}",
            "split.pool=0",
            "split.dev=0",
            "prompt.threshold=0.9",
            "prompt.shots=5",
        )
    )
    runs = _finished(workdir)
    assert list(runs["tags.mlflow.runName"]) == ["keyword-baseline|native"]  # one cell, one run


def test_a_feature_key_mlflow_refuses_and_unwritable_folders_fail_before_a_run(workdir):
    cfg = _cfg(workdir, "model=keyword-baseline", "dataset.limit=5")
    cfg.features.entries[11].key = "pain?"
    cfg.dataset.columns.labels = {"pain?": "pain"}
    with pytest.raises(HarnessError, match="MLflow refuses the metric name 'feature/pain\\?/macro_f1'"):
        run_config(cfg)
    (workdir / "a-file").write_text("")
    for override, key in (
        (f"tracking.checkpoints={workdir}/a-file/c", "tracking.checkpoints"),
        (f"tracking.artifact_location={workdir}/a-file/art", "tracking.artifact_location"),
    ):
        with pytest.raises(HarnessError, match=f"{key}=.*cannot write there"):
            run_config(
                _cfg(workdir, "model=keyword-baseline", "dataset.limit=5", override, f"tracking.experiment={key}")
            )
    assert _finished(workdir).empty and store_runs(workdir).get("status", []).tolist() == []


# 5. The store's failures are one line --------------------------------------------------------


@pytest.mark.parametrize(
    "uri, message",
    [
        ("sqlite:////proc/harness/m.db", "cannot create its folder /proc/harness"),
        ("foo://somewhere", "unknown scheme 'foo'"),
        ("mysql://alice:s3cret@127.0.0.1:1/db", "needs the database driver MySQLdb"),
    ],
)
def test_an_unusable_store_is_one_clear_error(workdir, uri, message):
    with pytest.raises(HarnessError, match=message) as e:
        run_config(
            compose_config(
                "model=keyword-baseline", "dataset.limit=5", f"tracking.uri={uri}", f"tracking.checkpoints={workdir}/c"
            )
        )
    assert "s3cret" not in str(e.value)


def test_an_unreachable_server_answers_at_once(workdir):
    uri = f"http://alice:s3cret@127.0.0.1:{free_port()}"
    with pytest.raises(HarnessError, match="cannot connect within 2 s") as e:
        run_config(
            compose_config(
                "model=keyword-baseline",
                f"tracking.uri={uri}",
                "tracking.timeout_s=2",
                f"tracking.checkpoints={workdir}/c",
            )
        )
    assert "s3cret" not in str(e.value) and "alice:***@" in str(e.value)


def test_a_deleted_experiment_is_one_clear_error(workdir):
    cfg = _cfg(workdir, "model=keyword-baseline", "dataset.limit=5")
    run_config(cfg)
    client = mlflow.MlflowClient()
    client.delete_experiment(client.get_experiment_by_name("harness").experiment_id)
    with pytest.raises(HarnessError, match="experiment 'harness' was deleted"):
        run_config(cfg)


@pytest.mark.cli
def test_a_read_only_store_is_one_clear_error(workdir):
    run_config(_cfg(workdir, "model=keyword-baseline", "dataset.limit=5"))  # a finished cell
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-m", "true"]).returncode != 0:
        pytest.skip("a private mount namespace (unshare -m) is not allowed here")
    mlruns = workdir / "mlruns"
    overrides = " ".join(store_overrides(workdir) + ["model=keyword-baseline", "dataset.limit=5"])
    proc = subprocess.run(
        [
            "unshare",
            "-m",
            "sh",
            "-c",
            f"mount --bind -o ro {mlruns} {mlruns} && {sys.executable} -m harness {overrides}",
        ],
        capture_output=True,
        text=True,
        cwd=workdir,
    )
    errors = [line for line in proc.stderr.splitlines() if line.startswith("harness: error:")]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and len(errors) == 1, proc.stderr[-2000:]
    assert "Read-only file system" in errors[0]


def test_a_full_disk_is_one_line(capsys):
    def body():
        raise OSError(errno.ENOSPC, "No space left on device", "mlruns/checkpoints/x.jsonl")

    with pytest.raises(SystemExit) as e:
        exit_on_user_error("harness", body)
    assert e.value.code == 2
    assert capsys.readouterr().err == (
        "harness: error: cannot write mlruns/checkpoints/x.jsonl: No space left on device\n"
    )


# 6. Ctrl-C, 8. one process per cell ----------------------------------------------------------


@pytest.mark.cli
def test_ctrl_c_marks_the_run_killed_and_resume_continues(workdir):
    args = [
        sys.executable,
        "-m",
        "harness",
        "model=scripted",
        "model.backend.delay_s=0.05",
        "chunk_size=4",
        "dataset.limit=60",
        *store_overrides(workdir),
    ]
    proc = subprocess.Popen(
        args,
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    for line in proc.stdout:  # Hydra logs to stdout
        if "8/60 documents" in line:
            break
    proc.send_signal(signal.SIGINT)
    err = proc.stderr.read()
    assert proc.wait(60) == 130 and "Traceback" not in err
    assert [line for line in err.splitlines() if line.startswith("harness:")] == [
        "harness: interrupted (a run it had started is marked KILLED; the same command resumes it)"
    ]
    assert list(store_runs(workdir)["status"]) == ["KILLED"]
    done = subprocess.run(args, cwd=workdir, capture_output=True, text=True)
    assert done.returncode == 0 and "resuming: " in done.stdout, done.stderr[-2000:]
    assert sorted(store_runs(workdir)["status"]) == ["FINISHED", "KILLED"]


def test_a_cell_another_process_is_running_is_skipped(workdir, caplog):
    from filelock import FileLock

    cfg = _cfg(workdir, "model=keyword-baseline", "dataset.limit=5")
    with FileLock(f"{plan(*typed(cfg)).checkpoint}.lock"):  # as another process holds it
        with caplog.at_level(logging.INFO, logger="harness"):
            assert math.isnan(run_config(cfg))
    assert "another process is running it now" in caplog.text
    assert _finished(workdir).empty
    assert not math.isnan(run_config(cfg))


# 4. A sweep goes on past a failing cell; 5. Hydra's errors and files -------------------------


@pytest.mark.cli
def test_a_sweep_reports_a_failing_cell_and_runs_the_others(workdir):
    uri = f"http://alice:s3cret@127.0.0.1:{free_port()}"
    proc = run_harness(
        "-m",
        "model=tfidf-logreg,keyword-baseline",
        "split.evaluate=all",
        "dataset.limit=5",
        *store_overrides(workdir),
        cwd=workdir,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("harness:")]
    assert len(lines) == 2 and "[model=tfidf-logreg" in lines[0] and "split.evaluate=all would score" in lines[0]
    assert lines[1].startswith("harness: 1 sweep cell failed: [model=tfidf-logreg")
    assert list(_finished(workdir)["params.model"]) == ["keyword-baseline"]
    leak = run_harness("-m", "model=keyword-baseline", f"tracking.uri={uri}", cwd=workdir)
    assert leak.returncode == 2 and "s3cret" not in leak.stdout + leak.stderr
    written = [p for p in (workdir / "multirun").rglob("*.yaml")]
    assert written and not [p for p in written if "s3cret" in p.read_text(encoding="utf-8")]


@pytest.mark.cli
@pytest.mark.parametrize(
    "override, fragment",
    [
        ("tracking.log_text=all", "tracking.log_text: Invalid value 'all', expected one of [full, hashed, none]"),
        ("prompt.shots=three", "prompt.shots: Value 'three'"),
        ("model=qwen-7b", "Could not find 'model/qwen-7b'; available: alif-8b,"),
    ],
)
def test_a_bad_config_value_is_one_line_naming_the_key(workdir, override, fragment):
    proc = run_harness(override, cwd=workdir)
    assert proc.returncode == 2 and "HYDRA_FULL_ERROR" not in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("harness: error: ")
    assert fragment in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_report_out_and_experiment_names_stay_where_they_belong(workdir, capsys, monkeypatch):
    from harness.report import folder_name, main

    assert folder_name("../x") == "_x" and folder_name("a/b c") == "a_b_c" and folder_name("..") == "_"
    (workdir / "a-file").write_text("")
    monkeypatch.chdir(workdir)
    with pytest.raises(SystemExit):
        main(["--experiment", "demo", "--out", str(workdir / "a-file")])
    assert "is a file; name a folder" in capsys.readouterr().err


# 7. Only "\n" ends a JSONL line ---------------------------------------------------------------


def test_an_id_holding_a_line_separator_survives_the_run_and_the_report(workdir):
    from harness.tracking import result_runs

    rows = _rows()
    rows = [{**r, "id": f"{r['id']}\u2028x"} for r in rows]
    data = _write(workdir / "calls.jsonl", rows)
    run_config(_cfg(workdir, "model=keyword-baseline", f"dataset.path={data}", "split.evaluate=nonpool"))
    (run,) = result_runs(f"sqlite:///{workdir}/mlruns/mlflow.db", "harness")
    assert run["predictions"] and all(p["id"].endswith("\u2028x") for p in run["predictions"])
    assert len(run["predictions"]) == 32  # 40 documents, 8 in the pool
