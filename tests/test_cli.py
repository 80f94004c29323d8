"""The `harness` command as a user meets it: bad input ends in one clear
message and a non-zero exit, before any MLflow run exists."""

import json

import mlflow
import pytest

from .conftest import DEMO, run_harness


def _store(workdir):
    return [f"tracking.uri=sqlite:///{workdir}/mlruns/mlflow.db", f"tracking.artifact_location={workdir}/mlruns/a"]


def _runs(workdir):
    mlflow.set_tracking_uri(f"sqlite:///{workdir}/mlruns/mlflow.db")
    return mlflow.search_runs(search_all_experiments=True)


def _write(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _one_clear_error(proc, *fragments):
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr + proc.stdout
    errors = [line for line in proc.stderr.splitlines() if line.startswith("harness: error:")]
    assert len(errors) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in errors[0]


@pytest.mark.cli
@pytest.mark.parametrize(
    "mutate, fragments",
    [
        (lambda rows: rows[:5] + [{**rows[5], "pain": "often"}] + rows[6:], ["row 6", "column 'pain'", "often"]),
        (lambda rows: rows + [rows[0]], ["duplicate id 'fa-0001'"]),
        (lambda rows: [{**rows[0], "text": ""}] + rows[1:], ["row 1", "column 'text'", "empty transcript"]),
        (lambda rows: [{k: v for k, v in r.items() if k != "fever"} for r in rows], ["no column 'fever'"]),
    ],
)
def test_bad_dataset_rows(workdir, demo_rows, mutate, fragments):
    path = _write(workdir / "bad.jsonl", mutate(demo_rows))
    proc = run_harness("model=keyword-baseline", f"dataset.path={path}", *_store(workdir), cwd=workdir)
    _one_clear_error(proc, str(path), *fragments)
    assert not (workdir / "mlruns").exists() or _runs(workdir).empty


@pytest.mark.cli
@pytest.mark.parametrize("model", ["smollm2-135m", "gemma3-270m-llamacpp"])
def test_a_language_models_bad_row_fails_before_its_libraries_load(workdir, demo_rows, model):
    """The plan reads the backend's class for what it can do, but imports
    neither torch nor transformers nor MLflow (seconds on a CPU): a bad row
    of a language-model cell is refused before any of them loads."""
    path = _write(workdir / "bad.jsonl", demo_rows + [demo_rows[0]])
    env = {"PYTHONPROFILEIMPORTTIME": "1"}  # each import on stderr: "import time: self | cumulative | name"
    proc = run_harness(f"model={model}", f"dataset.path={path}", *_store(workdir), cwd=workdir, env=env)
    _one_clear_error(proc, "duplicate id 'fa-0001'")
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "harness.backends.layout" in imported  # the backend's module was read (importlib's own import is not listed)
    assert not imported & {"torch", "transformers", "mlflow", "llama_cpp"}


@pytest.mark.cli
def test_missing_dataset_file(workdir):
    proc = run_harness("model=keyword-baseline", "dataset.path=nowhere.jsonl", *_store(workdir), cwd=workdir)
    _one_clear_error(proc, "nowhere.jsonl", "does not exist")


@pytest.mark.cli
def test_missing_model_fails_before_any_run(workdir):
    proc = run_harness(
        "model=qwen2.5-7b", f"dataset.path={DEMO}", *_store(workdir), cwd=workdir, env={"HF_HOME": str(workdir / "hf")}
    )
    _one_clear_error(proc, "Qwen/Qwen2.5-7B-Instruct", "not in the local Hugging Face cache")
    proc = run_harness(
        "model=smollm2-135m", "model.backend.path=/models/none", f"dataset.path={DEMO}", *_store(workdir), cwd=workdir
    )
    _one_clear_error(proc, "/models/none", "does not exist")
    assert not (workdir / "mlruns").exists() or _runs(workdir).empty


@pytest.mark.cli
@pytest.mark.parametrize(
    "setting, value", [("draft_tokens", "-1"), ("prefill_batch_size", "0"), ("batch_size", "eight")]
)
def test_bad_backend_setting(workdir, setting, value):
    proc = run_harness(f"model.backend.{setting}={value}", f"dataset.path={DEMO}", *_store(workdir), cwd=workdir)
    _one_clear_error(proc, f"model.backend.{setting}", value)
    assert not (workdir / "mlruns").exists() or _runs(workdir).empty


@pytest.mark.cli
@pytest.mark.parametrize(
    "overrides, fragments",
    [
        (["prompt=json", "prompt.parser=study"], ["prompt.parser=study", "prompt.format=json"]),
        (["prompt.selection=fixed"], ["prompt.selection=fixed", "dataset.columns.is_example"]),
        (["+features.template_names.fevr={en: Feverish}"], ["features.template_names", "fevr"]),
    ],
)
def test_bad_protocol_settings(workdir, overrides, fragments):
    proc = run_harness("model=scripted", f"dataset.path={DEMO}", *overrides, *_store(workdir), cwd=workdir)
    _one_clear_error(proc, *fragments)


@pytest.mark.cli
def test_mapping_to_a_feature_the_set_lacks(workdir):
    proc = run_harness(
        "model=keyword-baseline",
        f"dataset.path={DEMO}",
        "+dataset.columns.labels.pian=pain",
        *_store(workdir),
        cwd=workdir,
    )
    _one_clear_error(proc, "pian")


@pytest.mark.cli
@pytest.mark.parametrize("override", ["model=qwen-7b", "prompt.shotz=3", "prompt.shots=three"])
def test_config_typos_get_hydras_message(workdir, override):
    proc = run_harness(override, *_store(workdir), cwd=workdir)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert override.split("=")[0].split(".")[-1] in proc.stderr


@pytest.mark.cli
def test_vllm_backend_without_vllm_is_a_clear_error(workdir):
    pytest.importorskip("torch")
    try:
        import vllm  # noqa: F401

        pytest.skip("vLLM is installed here")
    except ImportError:
        pass
    proc = run_harness("model=qwen2.5-7b-vllm", f"dataset.path={DEMO}", *_store(workdir), cwd=workdir)
    _one_clear_error(proc, "vLLM")
