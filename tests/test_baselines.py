"""The baselines a model must beat: tfidf-logreg trains on the example pool
and nothing else; neither baseline reads examples, so neither is named as if
it did."""

from dataclasses import replace

import mlflow
import pytest

from harness.backends import load_backend
from harness.cell import prepare, route_of
from harness.errors import HarnessError
from harness.pipeline import run_cell
from harness.records import Document

from .conftest import composed, run_harness


def _cell(*overrides: str):
    conf, _ = composed("model=tfidf-logreg", *overrides)
    return conf, prepare(conf)


def _flipped(cell, splits: set[str]):
    """The cell with every label of the documents in `splits` inverted."""

    def flip(d: Document) -> Document:
        return replace(d, labels={k: not v for k, v in d.labels.items()}) if cell.split_of[d.id] in splits else d

    return replace(
        cell,
        documents=[flip(d) for d in cell.documents],
        evaluated=[flip(d) for d in cell.evaluated],
        pool=[flip(d) for d in cell.pool],
    )


def _probs(conf, cell):
    result = run_cell(cell, load_backend(conf.model.backend), route_of(conf))
    return [p.prob for p in result.predictions], result


def test_tfidf_logreg_learns_from_the_pool_only():
    """Inverting every dev and test label leaves its probabilities unchanged;
    inverting the pool's changes them (so the first check can fail)."""
    conf, cell = _cell("split.evaluate=nonpool")
    probs, result = _probs(conf, cell)
    assert len(probs) == len([d for d in cell.documents if cell.split_of[d.id] != "pool"])
    assert probs == _probs(conf, _flipped(cell, {"dev", "test"}))[0]
    assert probs != _probs(conf, _flipped(cell, {"pool"}))[0]
    # Probabilities: the ranking metrics are there, and some feature carries signal.
    aucs = [m["roc_auc"] for m in result.per_feature.values() if "roc_auc" in m]
    assert aucs and max(aucs) > 0.7


def _settings(backend) -> dict:
    """What a backend was built with and holds, but its per-run counters."""
    return {k: v for k, v in vars(backend).items() if k not in ("stats", "peak_gpu_mem_mb")}


def test_a_cached_backend_comes_back_as_it_was_built():
    """A cell trains the baseline and drives a progress bar; the cache then
    hands the next cell the same, untrained backend: training made a copy and
    progress was a call argument, so no cell changes what the next receives."""
    conf, cell = _cell("split.evaluate=test")
    backend = load_backend(conf.model.backend)
    built = _settings(backend)
    run_cell(cell, backend, route_of(conf))
    again = load_backend(conf.model.backend)
    assert again is backend and _settings(again) == built
    assert again.vectorizer is None and again.models == {}  # the run's training went to a copy


def test_a_learning_baseline_refuses_to_score_its_training_documents():
    conf, cell = _cell("split.evaluate=all")
    with pytest.raises(HarnessError, match="split.evaluate=all"):
        run_cell(cell, load_backend(conf.model.backend), route_of(conf))


@pytest.mark.cli
def test_baselines_are_not_named_for_examples_they_do_not_read(workdir):
    done = run_harness("-m", "model=keyword-baseline,tfidf-logreg", "prompt.shots=3", "dataset.limit=8", cwd=workdir)
    assert done.returncode == 0, done.stderr[-3000:]
    mlflow.set_tracking_uri(f"sqlite:///{workdir}/mlruns/mlflow.db")
    runs = mlflow.search_runs(experiment_names=["harness"], output_format="list")
    assert sorted(r.info.run_name for r in runs) == ["keyword-baseline|native", "tfidf-logreg|native"]
    assert {r.data.params["shots"] for r in runs} == {"0"}
    tfidf = next(r for r in runs if r.info.run_name.startswith("tfidf"))
    assert "median/roc_auc" in tfidf.data.metrics
