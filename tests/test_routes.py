"""Routes are components: a new one is a class and a YAML file, chosen with
`route=`; and a cell that allows downloads leaves the next cell offline."""

import mlflow
import pytest

from harness.errors import HarnessError
from harness.routes import Reading, Route, with_texts

from .conftest import DEMO, ROOT, compose_config, run_harness, store_overrides


class Tagged(Route):
    """A toy route: the transcript, marked, so the prompt shows which route read it."""

    def read(self, documents, language):
        return Reading(
            with_texts(documents, {d.id: f"[toy route] {d.text}" for d in documents}),
            metrics={"toy/read": float(len(documents))},
        )


@pytest.mark.cli
def test_a_new_route_is_a_class_and_a_yaml_file(tmp_path):
    (tmp_path / "conf" / "route").mkdir(parents=True)
    (tmp_path / "conf" / "route" / "toy.yaml").write_text(
        "name: toy\n_target_: tests.test_routes.Tagged\nprompt_language: en\n", encoding="utf-8"
    )
    proc = run_harness(
        "--config-dir",
        str(tmp_path / "conf"),
        "route=toy",
        "model=keyword-baseline",
        "dataset.limit=3",
        f"dataset.path={DEMO}",
        f"tracking.uri=sqlite:///{tmp_path}/mlflow.db",
        f"tracking.artifact_location={tmp_path}/artifacts",
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    run = mlflow.search_runs(experiment_names=["harness"]).iloc[0]
    assert run["params.route"] == "toy" and run["metrics.toy/read"] == 3  # a baseline reads no examples
    prompt = open(mlflow.artifacts.download_artifacts(run_id=run.run_id, artifact_path="prompt.txt")).read()
    assert "[toy route] " in prompt


def test_a_route_class_that_is_not_a_route_is_a_clear_error():
    from harness.routes import route_class

    with pytest.raises(HarnessError, match="not a harness.routes.Route"):
        route_class("harness.records.Document")
    with pytest.raises(HarnessError, match="cannot be imported"):
        route_class("harness.routes.Nowhere")


def test_allow_downloads_holds_for_its_own_cell_only(tmp_path, monkeypatch):
    """Two cells in one process, as a sweep runs them: the first may download,
    the second must not even try (its model is not on this machine)."""
    from harness.cli import run_config

    monkeypatch.chdir(tmp_path)
    store = [*store_overrides(tmp_path), "dataset.limit=2", f"dataset.path={DEMO}"]
    first = compose_config("model=keyword-baseline", "allow_downloads=true", *store)
    second = compose_config("model=qwen2.5-7b", "allow_downloads=false", *store)
    run_config(first)
    with pytest.raises(HarnessError, match="not in the local Hugging Face cache and downloads are off"):
        run_config(second)


def test_a_translator_that_writes_no_text_is_a_clear_error():
    from harness.backends import load_backend
    from harness.routes import Translation, Translator

    keyword = {
        "_target_": "harness.backends.keyword.KeywordBackend",
        "features": [],
        "negation": {},
        "negation_side": {},
        "resolved": {},
    }
    with pytest.raises(HarnessError, match="translator.model=keyword-baseline: KeywordBackend does not write text"):
        Translation(
            Translator(
                name="keyword-baseline", backend=keyword, system="{language}", language_names={}, cache="unused.sqlite"
            ),
            load_backend(keyword),
        )
