"""`harness`: one extraction run per composed config; `harness -m ...` sweeps.

The Hydra entry point: it turns the composed config into typed values,
`plan.plan` checks and decides the run, and `execute` carries it out."""

from __future__ import annotations

import logging
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

import hydra
from omegaconf import DictConfig, OmegaConf

from . import names
from .config import PROJECT_ROOT, Config, register, typed
from .errors import exit_on_user_error, run_hydra_app
from .plan import RunPlan, draws

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
    """ " (cell 3 of 8)" in a sweep run from this command line, else ""."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from .progress import sweep_position

    if not HydraConfig.initialized() or HydraConfig.get().mode is not RunMode.MULTIRUN:
        return ""
    where = sweep_position(int(HydraConfig.get().job.num), sys.argv[1:])
    return f" ({where})" if where else ""


def run_config(cfg: DictConfig) -> float:
    """Run one grid cell; returns its objective, the median macro-F1 (NaN for
    a cell another process is running)."""
    conf, plain = typed(cfg)  # typed values below; plain ones for params and identity
    return run_typed(conf, plain, OmegaConf.to_yaml(cfg))


def run_typed(conf: Config, plain: dict[str, Any], config_yaml: str) -> float:
    """`run_config` on typed values (`config_yaml`: the config as logged);
    over prompt.draws example draws, one run each (a later draw logs its
    own seed's values), returning the mean objective."""
    # Everything that can fail on bad input fails here, before a run exists, and
    # bad data or config before the slow imports (transformers, MLflow).
    plans = draws(conf, plain)
    with downloads(conf.allow_downloads):  # said explicitly in the config, for this cell only
        scores = [execute(p, config_yaml if i == 0 else OmegaConf.to_yaml(drawn)) for i, (p, drawn) in enumerate(plans)]
    return sum(scores) / len(scores)


def seed_everything(seed: int) -> None:
    """Python's, NumPy's and, where a backend imported it, PyTorch's random
    generators (every device), as transformers.set_seed does; a baseline's
    run never imports PyTorch for it."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


@contextmanager
def _cell_lock(checkpoint: Path) -> Iterator[bool]:
    """Held while this process runs the cell: a second process starting the
    same cell (two identical sweeps, a relaunched job) sees it and skips."""
    from filelock import FileLock, Timeout

    lock = FileLock(f"{checkpoint}.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


def _resume(p: RunPlan) -> tuple[Optional[float], Optional[Path]]:
    """(the objective of a finished run of this cell, or None; the checkpoint to continue)."""
    from . import tracking

    t = p.conf.tracking
    if not p.conf.resume:
        return None, None
    finished, stale, older = tracking.previous_runs(t.uri, t.experiment, p.cell_hash, p.settings_hash)
    if finished:
        log.info("skipping %s: finished as run %s (resume=false reruns it)", p.name, finished)
        return tracking.finished_metric(finished, "median/macro_f1"), None
    if older:
        log.info("rerunning %s: its data changed since run %s (dataset or pool file digest differs)", p.name, older)
    tracking.mark_failed(stale)  # their processes are gone: this one holds the cell's lock
    return None, p.checkpoint


def execute(p: RunPlan, config_yaml: str) -> float:
    """Carry out a plan: open the store, resume or skip, build the backend and
    the route, run the cell inside its tracked run, and log it."""
    from . import notes, pipeline, tracking
    from .cell import components

    conf, cell, t = p.conf, p.cell, p.conf.tracking
    tracking.check_names(
        [name for k in cell.task.keys for name in (f"feature/{k}/macro_f1", f"threshold/{k}")], list(p.params)
    )
    tracking.writable(p.checkpoint.parent, "tracking.checkpoints")
    with tracking.store_errors(t.uri):
        tracking.open_experiment(t.uri, t.experiment, t.artifact_location, t.timeout_s)
        with _cell_lock(p.checkpoint) as held:
            if not held:
                log.info("skipping %s: another process is running it now (lock %s.lock)", p.name, p.checkpoint)
                return float("nan")
            done, checkpoint = _resume(p)
            if done is not None:
                return done
            backend, reader = components(conf)
            seed_everything(conf.seed)
            run_name, split = p.name, conf.split
            with tracking.tracked_run(
                uri=t.uri,
                experiment=t.experiment,
                artifact_location=t.artifact_location,
                run_name=run_name,
                params=p.params,
                tags=p.tags,
                system_metrics=t.system_metrics,
            ) as run_id:
                log.info(
                    "run %s%s: %s on %d %s documents of %s; protocol %s%s",
                    run_id,
                    _sweep_position(),
                    conf.model.name,
                    len(cell.evaluated),
                    split.evaluate.value,
                    conf.dataset.name,
                    p.params[names.PROTOCOL],
                    f" (departs in {', '.join(p.departures)})" if p.departures else "",
                )
                if getattr(backend, "weights", None):  # the weight format, for the runs table and the report
                    tracking.set_tags({names.WEIGHTS: backend.weights})
                result = pipeline.run_cell(cell, backend, reader, chunk_size=conf.chunk_size, checkpoint=checkpoint)
                result.metrics["data/skipped_empty"] = float(cell.skipped_empty)
                if result.translations is not None:
                    # What the model read: examples (knn: the pool it chose them from) and documents.
                    shown = cell.pool if cell.neighbours else cell.shots
                    read = list({d.id: d for d in shown + cell.evaluated}.values())  # evaluate=all: shots too
                    tracking.log_translations(read, result.translations, cell.split_of, t.log_text)
                tracking.log_result(
                    result,
                    config_yaml=config_yaml,
                    dataset_name=conf.dataset.name,
                    dataset_path=conf.dataset.path,
                    dataset_digest=cell.dataset_digest,
                    context=split.evaluate.value,
                    log_text=t.log_text,
                )
                if t.traces:
                    tracking.log_traces(result, conf.route.name, t.log_text)
                tracking.describe(
                    notes.run_note(
                        result.predictions,
                        name=run_name,
                        scored=f"{len(cell.evaluated)} {split.evaluate.value} documents of {conf.dataset.name}",
                        protocol=p.params[names.PROTOCOL],
                        departures=p.departures,
                    )
                )
            if checkpoint is not None:
                checkpoint.unlink(missing_ok=True)  # the run holds everything now
    m = result.metrics
    log.info(
        "median macro-F1 %.3f, MCC %.3f, missing %.1f%%, %.2f docs/s",
        m["median/macro_f1"],
        m["median/mcc"],
        100 * m["missing/rate"],
        m["throughput/docs_per_s"],
    )
    return m["median/macro_f1"]


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
def _app(cfg: DictConfig) -> float:
    return exit_on_user_error("harness", lambda: run_config(cfg))


def main() -> None:
    run_hydra_app("harness", _app, sys.argv[1:])


if __name__ == "__main__":
    main()
