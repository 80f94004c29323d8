"""Every MLflow call of the harness lives in this package: here the runs
(start, log, describe, read back); `store`, reaching the store."""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import time
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, Sequence

import mlflow

from .. import names
from ..artifacts import per_feature_csv, predictions_jsonl, predictions_table, text_for_log  # noqa: F401 (re-exported)
from ..config import LogText
from ..errors import HarnessError
from ..records import RunResult
from .store import check_names, connect, open_experiment, open_store, redact, store_errors, writable  # noqa: F401

_PARAM_BATCH = 100  # MLflow accepts at most 100 params per request
_PARAM_MAX = 6000  # and values of at most 6000 characters


def _log_params(params: Mapping[str, Any]) -> None:
    items = [(k, str(redact(k, v))) for k, v in params.items()]
    items = [(k, v if len(v) <= _PARAM_MAX else v[: _PARAM_MAX - 1] + "…") for k, v in items]
    for i in range(0, len(items), _PARAM_BATCH):
        mlflow.log_params(dict(items[i : i + _PARAM_BATCH]))


@contextlib.contextmanager
def tracked_run(
    *,
    uri: str,
    experiment: str,
    artifact_location: Optional[str],
    run_name: str,
    params: Mapping[str, Any],
    tags: Mapping[str, str],
    system_metrics: bool = False,
) -> Iterator[str]:
    """An MLflow run around the body; yields its id. A body that raises leaves
    the run marked FAILED, and Ctrl-C KILLED, not looking like a result."""
    experiment_id = open_store(uri, experiment, artifact_location)
    run = mlflow.start_run(
        experiment_id=experiment_id, run_name=run_name, tags=dict(tags), log_system_metrics=system_metrics
    )
    try:
        _log_params(params)
        yield run.info.run_id
    except KeyboardInterrupt:
        mlflow.end_run("KILLED")
        raise
    except BaseException:
        mlflow.end_run("FAILED")
        raise
    mlflow.end_run()


@contextlib.contextmanager
def study_run(
    *, uri: str, experiment: str, artifact_location: Optional[str], study: str, params: Mapping[str, Any]
) -> Iterator[str]:
    """The parent run of an Optuna study: resumed when the study is, so every
    worker and every resumption nests its trials under one run."""
    import tempfile

    from filelock import FileLock

    experiment_id = open_store(uri, experiment, artifact_location)
    client = mlflow.MlflowClient()
    # Workers on this machine starting together must find one parent, not make two.
    lock = (
        Path(tempfile.gettempdir()) / f"harness-study-{hashlib.sha256(f'{uri}|{study}'.encode()).hexdigest()[:16]}.lock"
    )
    with FileLock(lock):
        found = client.search_runs(
            [experiment_id],
            filter_string=f"tags.`{names.STUDY}` = '{study}' and tags.`{names.ROLE}` = 'study'",
            order_by=["attributes.start_time ASC"],
            max_results=1,
        )
        if found:
            run_id = found[0].info.run_id
        else:
            run_id = client.create_run(
                experiment_id, run_name=f"tune|{study}", tags={names.STUDY: study, names.ROLE: "study"}
            ).info.run_id
            mlflow.start_run(run_id=run_id)
            _log_params(params)
            mlflow.end_run()
    with mlflow.start_run(run_id=run_id):
        yield run_id


@contextlib.contextmanager
def trial_run(number: int, params: Mapping[str, Any], pruned: type[BaseException]) -> Iterator[None]:
    """A nested run per trial, tagged with how the trial ended."""
    mlflow.start_run(
        run_name=f"trial {number}",
        nested=True,
        experiment_id=mlflow.active_run().info.experiment_id,
        tags={names.ROLE: "trial", "optuna_trial": str(number)},
    )
    _log_params(params)
    try:
        yield
    except pruned:
        mlflow.set_tag("optuna_state", "PRUNED")
        mlflow.end_run("KILLED")
        raise
    except BaseException:
        mlflow.set_tag("optuna_state", "FAIL")
        mlflow.end_run("FAILED")
        raise
    mlflow.set_tag("optuna_state", "COMPLETE")
    mlflow.end_run()


def previous_runs(
    uri: str, experiment: str, config_hash: str, settings_hash: str
) -> tuple[Optional[str], list[str], Optional[str]]:
    """(a finished run of this cell, ids of runs of it still marked RUNNING,
    a finished run of the same settings on other data: why the cell reruns)."""
    found = mlflow.get_experiment_by_name(experiment)
    if found is None:
        return None, [], None
    client = mlflow.MlflowClient()
    runs = client.search_runs([found.experiment_id], filter_string=f"params.{names.CONFIG_HASH} = '{config_hash}'")
    finished = [r.info.run_id for r in runs if r.info.status == "FINISHED"]
    stale = [r.info.run_id for r in runs if r.info.status == "RUNNING"]
    older = None
    if not finished:
        before = client.search_runs(
            [found.experiment_id],
            max_results=1,
            order_by=["attributes.start_time DESC"],
            filter_string=f"params.{names.CELL_SETTINGS} = '{settings_hash}' and attributes.status = 'FINISHED'",
        )
        older = before[0].info.run_id if before else None
    return (finished[0] if finished else None), stale, older


def mark_failed(run_ids: Sequence[str]) -> None:
    """Runs whose process died (kill -9, power loss) stop looking like they run."""
    client = mlflow.MlflowClient()
    for run_id in run_ids:
        client.set_tag(run_id, names.INTERRUPTED, "true")
        client.set_terminated(run_id, status="FAILED")


def finished_metric(run_id: str, name: str) -> float:
    return mlflow.MlflowClient().get_run(run_id).data.metrics.get(name, float("nan"))


def set_tags(tags: Mapping[str, str]) -> None:
    mlflow.set_tags(dict(tags))


def log_metrics(metrics: Mapping[str, float], step: Optional[int] = None) -> None:
    mlflow.log_metrics(dict(metrics), step=step)


def log_study_result(tags: Mapping[str, str], metrics: Mapping[str, float], selection_file: str) -> None:
    mlflow.set_tags(dict(tags))
    mlflow.log_metrics(dict(metrics))
    mlflow.log_artifact(selection_file)


def log_synth_run(
    *,
    uri: str,
    experiment: str,
    artifact_location: Optional[str],
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    pool_file: Path,
    text_column: str,
    log_text: str,
) -> None:
    """harness-synth's run: its settings, what it kept and dropped, and the
    pool file with its texts as tracking.log_text allows (a synthetic text
    can echo a real seed)."""
    experiment_id = open_store(uri, experiment, artifact_location)
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=f"synth|{params.get('generator')}", tags={names.ROLE: "synth"}
    ):
        _log_params(params)
        mlflow.log_metrics(dict(metrics))
        if pool_file.is_file():
            rows = [json.loads(line) for line in pool_file.read_text(encoding="utf-8").split("\n") if line.strip()]
            text = "".join(
                json.dumps({**r, text_column: text_for_log(r[text_column], log_text)}, ensure_ascii=False) + "\n"
                for r in rows
            )
            mlflow.log_text(text, pool_file.name)


def describe(markdown: str) -> None:
    """The active run's description: the note the MLflow UI shows on its page."""
    mlflow.set_tag("mlflow.note.content", markdown)


def log_translations(documents, texts: Mapping[str, str], split_of: Mapping[str, str], log_text: str) -> None:
    """translations.jsonl: what the extractor read on the translate route."""
    rows = [
        {
            "id": d.id,
            "split": split_of[d.id],
            "source": text_for_log(d.text, log_text),
            "translation": text_for_log(texts[d.id], log_text),
            "reference": text_for_log(d.reference, log_text),
        }
        for d in documents
    ]
    mlflow.log_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), names.TRANSLATIONS)


def log_result(
    result: RunResult,
    *,
    config_yaml: str,
    dataset_name: str,
    dataset_path: str,
    dataset_digest: str,
    context: str,
    log_text: str,
) -> None:
    """Metrics, artifacts and the evaluated dataset of the active run."""
    import pandas as pd

    mlflow.log_metrics(result.metrics)
    mlflow.log_text(predictions_jsonl(result, log_text), names.PREDICTIONS)
    mlflow.log_table(predictions_table(result, log_text), names.PREDICTIONS_TABLE)
    prompt = result.example_prompt
    if LogText(log_text) is not LogText.full:  # keep the prompt's shape, not its transcripts
        for text in sorted(result.example_texts, key=len, reverse=True):
            prompt = prompt.replace(text, f"<{text_for_log(text, log_text) or 'transcript'}>")
    mlflow.log_text(per_feature_csv(result.per_feature), "per_feature.csv")
    mlflow.log_text(config_yaml, "config.yaml")
    mlflow.log_text(prompt, "prompt.txt")
    mlflow.log_dict({"shot_ids": result.shot_ids}, names.EXAMPLES)
    # The dataset input records which documents and labels were scored (not the text).
    frame = pd.DataFrame([{"id": p.doc_id, **p.gold} for p in result.predictions])
    from mlflow.data.sources import LocalArtifactDatasetSource

    source = LocalArtifactDatasetSource(str(Path(dataset_path).resolve()))
    dataset = mlflow.data.from_pandas(frame, source=source, name=dataset_name, digest=dataset_digest[:16])
    for attempt in range(4):
        try:
            mlflow.log_input(dataset, context=context)
            break
        except mlflow.exceptions.MlflowException as e:
            # Parallel jobs registering the same dataset race on the server's
            # get-or-create (PostgreSQL: unique violation); the retry finds it.
            if "unique" not in str(e).lower() or attempt == 3:
                raise
            time.sleep(0.2 * 2**attempt)


def log_traces(result: RunResult, route: str, log_text: str) -> None:
    """One trace per document in the active run (tracking.traces): inputs (id,
    route, the text the model read), outputs (the parsed fields and the
    answer), the gold labels as an expectation and the fields right as
    feedback, so MLflow's Traces and Evaluation runs views can browse them.
    Text goes in as tracking.log_text allows."""
    ids, seeded = [], random.getstate()
    random.seed()  # trace ids come from `random`, which the run seeded: every run of a seed would share them
    for p in result.predictions:
        inputs = {"doc_id": p.doc_id, "route": route, "text": text_for_log(result.texts.get(p.doc_id), log_text)}
        outputs = {**p.pred, result.answer_kind: text_for_log(p.raw_output, log_text)}
        with mlflow.start_span(name="document", span_type="PARSER") as span:
            span.set_inputs({k: v for k, v in inputs.items() if v is not None})
            span.set_outputs({k: v for k, v in outputs.items() if v is not None or k in p.pred})
        ids.append(span.trace_id)
    random.setstate(seeded)
    mlflow.flush_trace_async_logging()  # every trace stored before an assessment refers to it
    for trace_id, p in zip(ids, result.predictions):
        mlflow.log_expectation(trace_id=trace_id, name="gold", value=dict(p.gold))
        wrong = [k for k, g in p.gold.items() if p.pred[k] != g]  # a missing field is not right
        mlflow.log_feedback(
            trace_id=trace_id,
            name="fields_right",
            value=len(p.gold) - len(wrong),
            rationale=f"wrong or missing: {', '.join(wrong)}" if wrong else "all right",
        )


def result_runs(uri: str, experiment: str) -> list[dict[str, Any]]:
    """The experiment's finished extraction runs, the latest per grid cell, as
    plain values: run_id, name, start_time, params, tags, metrics and
    predictions (the rows of predictions.jsonl, or None where it is gone)."""
    import tempfile

    connect(uri)
    found = mlflow.get_experiment_by_name(experiment)
    if found is None or found.lifecycle_stage == "deleted":
        raise HarnessError(
            f"no experiment named {experiment!r} in the tracking store {redact('uri', uri)}"
            f"{' (it was deleted)' if found is not None else ''}"
        )
    runs = mlflow.search_runs(
        [found.experiment_id],
        filter_string="attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        output_format="list",
    )
    seen: set[str] = set()
    out = []
    client = mlflow.MlflowClient()
    for run in runs:
        cell = run.data.params.get(names.CONFIG_HASH)
        if cell is None or cell in seen or run.data.tags.get(names.ROLE) in ("study", "trial", "report", "synth"):
            continue  # not an extraction run, or an older run of the same cell
        seen.add(cell)
        with tempfile.TemporaryDirectory() as tmp:
            try:
                path = client.download_artifacts(run.info.run_id, names.PREDICTIONS, tmp)
                predictions = [
                    json.loads(line) for line in Path(path).read_text(encoding="utf-8").split("\n") if line.strip()
                ]  # only "\n" ends a line: an id may hold U+2028
            except (mlflow.exceptions.MlflowException, OSError, ValueError):
                predictions = None
        out.append(
            {
                "run_id": run.info.run_id,
                "experiment_id": run.info.experiment_id,
                "name": run.info.run_name,
                "start_time": run.info.start_time,
                "params": dict(run.data.params),
                "tags": dict(run.data.tags),
                "metrics": dict(run.data.metrics),
                "predictions": predictions,
            }
        )
    return out


def share_view(uri: str, experiment_id: str, key: str, state: Mapping[str, Any]) -> None:
    """A view of the experiment's runs table (filter, sort, columns) saved as
    the MLflow UI's "Share" button saves one: an experiment tag the UI reads
    from `?viewStateShareKey=<key>`."""
    connect(uri)
    mlflow.MlflowClient().set_experiment_tag(experiment_id, f"mlflow.sharedViewState.{key}", json.dumps(state))


def log_report(uri: str, experiment: str, folder: str, params: Mapping[str, Any], note: str = "") -> str:
    """A run named `report` holding the report's files under report/, `note`
    as its description; returns its id."""
    experiment_id = open_store(uri, experiment, None)
    with mlflow.start_run(experiment_id=experiment_id, run_name="report", tags={names.ROLE: "report"}) as run:
        _log_params(params)
        mlflow.log_artifacts(folder, "report")
        if note:
            describe(note)
    return run.info.run_id
