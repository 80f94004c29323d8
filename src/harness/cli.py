"""`harness`: one extraction run per composed config; `harness -m ...` sweeps.

The only place that reads the config: it turns it into plain values, calls
the pipeline and hands the result to tracking."""

from __future__ import annotations

import json
import logging
import os
import sys
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import hydra
from omegaconf import DictConfig, OmegaConf

from . import __version__, names
from .config import PROJECT_ROOT, Mode, Pool, Selection, register, typed
from .errors import exit_on_user_error, refuse_other_sections

log = logging.getLogger("harness")
CONF_DIR = str(PROJECT_ROOT / "conf")

register()


@contextmanager
def downloads(allowed: bool) -> Iterator[None]:
    """Hugging Face may download missing models for this cell only
    (allow_downloads=true); the process is offline again afterwards, so the
    next cell of a sweep is not."""
    names = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
    saved = {name: os.environ.get(name) for name in names}
    if allowed:
        os.environ.update({name: "0" for name in names})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _sweep_position() -> str:
    """" (cell 3 of 8)" in a sweep run from this command line, else ""."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from .progress import sweep_position

    if not HydraConfig.initialized() or HydraConfig.get().mode is not RunMode.MULTIRUN:
        return ""
    where = sweep_position(int(HydraConfig.get().job.num), sys.argv[1:])
    return f" ({where})" if where else ""


def run_config(cfg: DictConfig) -> float:
    """Run one grid cell; returns its objective, the median macro-F1."""
    with downloads(cfg.allow_downloads):  # said explicitly in the config, for this cell only
        return _run_config(cfg)


def _run_name(conf, cell, baseline: bool, learns: bool = False) -> str:
    """model|route|kshot, plus what departs from the defaults, so a sweep's
    runs read apart in the UI; a baseline reads no examples: model|route
    (one that learns from the pool is named for a synthetic one too)."""
    prompt = conf.prompt
    return "|".join([conf.model.name, conf.route.name, *([] if baseline else [f"{len(cell.shots)}shot"]),
                     *([prompt.selection.value] if prompt.selection is not Selection.random else []),
                     *(["synthetic"] if prompt.pool is Pool.synthetic and (learns or not baseline) else []),
                     *([prompt.mode.value] if prompt.mode is not Mode.generate and not baseline else []),
                     *([f"threshold={prompt.threshold}"] if cell.calibration or cell.task.threshold != 0.5 else [])])


def pool_params(conf) -> dict[str, str]:
    """Where the examples came from: the pool's kind, and for a synthetic one
    its file's digest and the model harness-synth wrote it with."""
    prompt = conf.prompt
    if prompt.pool is Pool.real:
        return {names.POOL: "real"}
    from . import data

    try:  # harness-synth's state beside the file; a pool written another way has none
        state = json.loads(Path(prompt.pool_file + ".state.json").read_text(encoding="utf-8"))
        generator = str(state["settings"]["generator"])
    except (OSError, ValueError, KeyError, TypeError):
        generator = "unknown"
    return {names.POOL: "synthetic", names.POOL_DIGEST: data.file_digest(prompt.pool_file),
            names.POOL_GENERATOR: generator}


def _run_config(cfg: DictConfig) -> float:
    """Resume, naming and tracking around `pipeline.run_cell`."""
    from .cell import prepare, protocol_settings, route_of, uses_translator

    conf, c = typed(cfg)  # typed values below; plain ones for params and the config hash
    model, route, prompt, ds, split = conf.model, conf.route, conf.prompt, conf.dataset, conf.split
    c.pop("tune", None)
    if not uses_translator(conf):
        c.pop("translator")  # not part of this cell: keeps it out of the params and the config hash
    if prompt.pool is Pool.real:
        c["prompt"]["pool_file"] = None  # not read: a sweep over prompt.pool=real,synthetic names it for both

    # Everything that can fail on bad input fails here, before a run exists, and
    # bad data or config before the slow imports (torch, transformers, MLflow).
    cell = prepare(conf)
    from transformers import set_seed

    from . import data, pipeline, protocol, tracking
    from .backends import load_backend
    from .report import route_effects

    set_seed(conf.seed)
    reader = route_of(conf)
    backend = load_backend(model.backend)
    pipeline.answering(cell.task, backend)  # can it answer this task at all (score mode)?
    if backend.predicts_labels:  # a baseline reads no examples (one that learns trains on the pool), and decides
        cell = replace(cell, shots=[], calibration=[])  # by its own rule (prompt.threshold is for score mode)
    task, split_of, evaluated, shots = cell.task, cell.split_of, cell.evaluated, cell.shots

    t = conf.tracking
    run_name = _run_name(conf, cell, baseline=backend.predicts_labels, learns=backend.learns_from_pool)
    pool = pool_params(conf)  # a synthetic file that grew is another cell
    cell_hash = tracking.config_hash({**c, "shot_ids": [d.id for d in shots], **pool})  # a tuned file's ids may change
    checkpoint = None
    if conf.resume:
        finished, stale = tracking.previous_runs(t.uri, t.experiment, cell_hash)
        if finished:
            log.info("skipping %s: finished as run %s (resume=false reruns it)", run_name, finished)
            return tracking.finished_metric(finished, "median/macro_f1")
        tracking.mark_failed(stale)
        checkpoint = Path(t.checkpoints) / f"{cell_hash}.jsonl"
    digest = data.file_digest(ds.path)
    k = len(shots)
    settings = protocol_settings(conf, task, k, backend.applies_generation_config)
    departures = protocol.departures(settings)
    named = {
        names.MODEL: model.name, names.ROUTE: route.name, names.PROMPT: prompt.name,
        names.MODE: prompt.mode.value, names.SHOTS: k, names.SELECTION: prompt.selection.value, names.SEED: conf.seed,
        names.BASELINE: str(backend.predicts_labels).lower(), **pool,
        names.DATASET: ds.name, names.DATASET_DIGEST: digest, names.PROTOCOL: protocol.protocol_name(settings),
        names.PROTOCOL_DEPARTURES: ",".join(departures),
        names.PROTOCOL_UNVERIFIABLE: ",".join(protocol.unverifiable(settings)), names.CONFIG_HASH: cell_hash,
        "harness_version": __version__, "git_commit": tracking.git_commit(),
        # Same value for the runs of one cell on different routes: pairs them for the route comparison.
        names.COMPARISON_KEY: tracking.config_hash({key: value for key, value in c.items()
                                                    if key not in ("route", "translator")}),
    }
    tags = {"model": model.name, "family": model.family, "params_b": str(model.params_b), "route": route.name,
            "language": ds.language, "shots": str(k), "selection": prompt.selection.value, "mode": prompt.mode.value,
            names.POOL: prompt.pool.value,
            names.PROTOCOL: named[names.PROTOCOL], **t.tags}
    with tracking.tracked_run(uri=t.uri, experiment=t.experiment, artifact_location=t.artifact_location,
                              run_name=run_name, params={**tracking.flatten(c), **named}, tags=tags,
                              system_metrics=t.system_metrics) as run_id:
        log.info("run %s%s: %s on %d %s documents of %s; protocol %s%s", run_id, _sweep_position(), model.name,
                 len(evaluated), split.evaluate.value, ds.name, named[names.PROTOCOL],
                 f" (departs in {', '.join(departures)})" if departures else "")
        result = pipeline.run_cell(cell, backend, reader, chunk_size=conf.chunk_size, checkpoint=checkpoint)
        result.metrics["data/skipped_empty"] = float(cell.skipped_empty)
        if result.translations is not None:
            read = list({d.id: d for d in shots + evaluated}.values())  # split.evaluate=all: shots are evaluated too
            tracking.log_translations(read, result.translations, split_of, t.log_text)
        tracking.log_result(result, config_yaml=OmegaConf.to_yaml(cfg), dataset_name=ds.name, dataset_path=ds.path,
                            dataset_digest=digest, context=split.evaluate.value, log_text=t.log_text)
        for other, rows, delta in route_effects(route.name, result.per_feature, result.metrics["median/macro_f1"],
                                                tracking.cell_runs(named[names.COMPARISON_KEY])):
            tracking.log_route_effect(route.name, other, rows, delta)
    if checkpoint is not None:
        checkpoint.unlink(missing_ok=True)  # the run holds everything now
    m = result.metrics
    log.info("median macro-F1 %.3f, MCC %.3f, missing %.1f%%, %.2f docs/s", m["median/macro_f1"], m["median/mcc"],
             100 * m["missing/rate"], m["throughput/docs_per_s"])
    return m["median/macro_f1"]


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
def _app(cfg: DictConfig) -> float:
    return exit_on_user_error("harness", lambda: run_config(cfg))


def main() -> None:
    refuse_other_sections("harness", sys.argv[1:])
    _app()


if __name__ == "__main__":
    main()
