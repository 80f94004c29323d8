"""`harness-tune`: an Optuna study over which pool documents serve as the
examples, for one model and route.

Examples come only from the pool, trials are judged only on dev, and the
winner is scored once on test, as an ordinary `harness` run. A trial scores
dev in chunks and reports after each, so the pruner can stop a hopeless
example set early. The study lives in an RDB storage (SQLite by default):
rerunning the same study name resumes it, and several workers on one storage
share its trial budget."""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator, Optional

import hydra
from omegaconf import DictConfig, OmegaConf

from . import names, progress
from .cli import CONF_DIR, run_typed
from .config import (
    SEED_MAX,
    Evaluate,
    KnnOrder,
    Pool,
    Selection,
    Strategy,
    check_ranges,
    register,
    typed,
    with_values,
)
from .errors import HarnessError, exit_on_user_error, run_hydra_app
from .plan import flatten
from .records import Cell

log = logging.getLogger("harness.tune")
register()


@contextmanager
def _storage_lock(url: str, name: str) -> Iterator[None]:
    """A lock named `name` that every worker on `url` sees: a PostgreSQL
    advisory lock (workers on any machine), a file lock beside a SQLite file
    (one machine). Other databases get none."""
    if url.startswith("postgresql"):
        import sqlalchemy

        key = int.from_bytes(hashlib.sha256(f"harness-tune|{name}".encode()).digest()[:8], "big", signed=True)
        engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
        try:
            with engine.connect() as connection:
                connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": key})
                try:
                    yield
                finally:
                    connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        finally:
            engine.dispose()
    elif url.startswith("sqlite:///"):
        from filelock import FileLock

        db = Path(url.removeprefix("sqlite:///"))
        db.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(f"{db}.{hashlib.sha256(name.encode()).hexdigest()[:8]}.lock"):
            yield
    else:
        yield


def _storage(url: str):
    """The study's RDB storage. Heartbeats let a resumed study fail the trials
    of a worker that died, instead of leaving them running forever."""
    import warnings

    import optuna

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
    try:
        with _storage_lock(url, "schema"):  # workers creating the tables of a new database at once collide
            return optuna.storages.RDBStorage(url, heartbeat_interval=60, grace_period=180)
    except Exception as e:  # a bad URL or an unreachable database
        raise HarnessError(f"tune.storage={url}: {str(e).splitlines()[0]}") from None


@contextmanager
def _heartbeat(storage, trial_id: int) -> Iterator[None]:
    """What Study.optimize does for its trials, for ours: a beat every
    interval, so a worker that dies leaves a trial that goes stale."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(storage.get_heartbeat_interval()):
            storage.record_heartbeat(trial_id)

    storage.record_heartbeat(trial_id)
    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def run_trials(
    study, storage, url: str, n_trials: int, objective: Callable, timeout: Optional[float], baselines: list[dict]
) -> None:
    """Ask, run and tell trials until the study holds n_trials that are
    finished, running or queued (failed ones are replaced), or time is up.
    A new study starts from the baselines. Several workers on one storage
    share the budget exactly."""
    import optuna

    State = optuna.trial.TrialState
    deadline = time.monotonic() + timeout if timeout else float("inf")
    with progress.bar(n_trials, "trials", unit="trial") as shown:
        while time.monotonic() < deadline:
            # Deciding to start a trial and creating it is one step for all workers together.
            with _storage_lock(url, study.study_name):
                optuna.storages.fail_stale_trials(study)  # trials of dead workers
                trials = study.get_trials(deepcopy=False)
                shown.update(sum(t.state.is_finished() for t in trials) - shown.n)  # all workers' trials
                if not trials:
                    for params in baselines[:n_trials]:
                        study.enqueue_trial(params)
                    trials = study.get_trials(deepcopy=False)
                queued = any(t.state == State.WAITING for t in trials)
                if not queued and sum(t.state != State.FAIL for t in trials) >= n_trials:
                    return
                trial = study.ask()  # takes a queued trial first
            with _heartbeat(storage, trial._trial_id):  # a live Trial has no public id
                try:
                    value = objective(trial)
                except optuna.TrialPruned:
                    study.tell(trial, state=State.PRUNED)
                    continue
                except BaseException:
                    study.tell(trial, state=State.FAIL)
                    raise
            study.tell(trial, value)


def tune_config(cfg: DictConfig) -> float:
    """Run (or resume) the study; write the best selection; score it on test."""
    import optuna

    from . import metrics, pipeline, splits, tracking
    from .cell import components, prepare

    conf, plain = typed(cfg)
    check_ranges(conf)
    if conf.prompt.draws > 1:
        raise HarnessError(f"prompt.draws={conf.prompt.draws}: harness-tune picks one selection; leave prompt.draws=1")
    t = conf.tune
    strategies = [s.value for s in dict.fromkeys(t.strategies)]
    if not strategies:
        raise HarnessError("tune.strategies is empty: name at least one of ids, balanced, knn")
    # Trials read dev only; their examples are drawn here, not by prompt.selection.
    cell = prepare(
        replace(
            conf,
            split=replace(conf.split, evaluate=Evaluate.dev),
            dataset=replace(conf.dataset, limit=t.dev_limit),
            prompt=replace(conf.prompt, selection=Selection.random, shots=0),
        )
    )
    if conf.prompt.pool is Pool.synthetic:  # its own study: trials over other examples (the file checked by prepare)
        from .data import file_digest

        t = replace(t, study=f"{t.study}|synthetic-{file_digest(conf.prompt.pool_file)[:12]}")
    pool = sorted(d.id for d in cell.pool)  # the dataset's pool, or the synthetic examples (prompt.pool)
    by_id = {d.id: d for d in cell.documents + cell.pool}
    k_low, k_high = t.k_range or (conf.prompt.shots, conf.prompt.shots)
    if not 0 < k_low <= k_high <= len(pool):
        raise HarnessError(
            f"tune: k from {k_low} to {k_high} examples, but the pool holds {len(pool)} (tune.k_range, prompt.shots)"
        )
    backend, route = components(conf)
    objective_key = f"median/{t.objective.value}"

    sampler = optuna.samplers.TPESampler(seed=conf.seed)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=t.startup_trials, n_warmup_steps=1)
    storage = _storage(t.storage)
    with _storage_lock(t.storage, "schema"):
        study = optuna.create_study(
            study_name=t.study,
            storage=storage,
            sampler=sampler,
            pruner=pruner,
            direction="maximize",
            load_if_exists=True,
        )
    pool_docs = [by_id[i] for i in pool]
    baselines = [  # each strategy's default first: the random and the balanced draw of prompt.seed, knn
        {"k": k_low, **({"strategy": s} if len(strategies) > 1 else {}), **params}
        for s in strategies
        for params in {
            Strategy.ids.value: [
                {f"shot_{i}": d.id for i, d in enumerate(shots)}
                for shots in (
                    splits.random_shots(pool_docs, k_low, conf.seed),
                    splits.balanced_shots(pool_docs, k_low, cell.task.keys, conf.seed),
                )
            ],
            Strategy.balanced.value: [{"balanced_seed": conf.seed}],
            Strategy.knn.value: [{"knn_order": KnnOrder.nearest_last.value}],
        }[s]
    ]

    def examples(trial: optuna.Trial, k: int) -> tuple[str, list[str], Cell]:
        """(strategy, example ids, the trial's cell)."""
        strategy = trial.suggest_categorical("strategy", strategies) if len(strategies) > 1 else strategies[0]
        if strategy == Strategy.knn.value:
            order = trial.suggest_categorical("knn_order", [o.value for o in KnnOrder])
            return strategy, [], replace(cell, shots=[], neighbours=k, nearest_first=order == KnnOrder.nearest_first)
        if strategy == Strategy.balanced.value:
            seed = trial.suggest_int("balanced_seed", 0, SEED_MAX)
            ids = [d.id for d in splits.balanced_shots(pool_docs, k, cell.task.keys, seed)]
        else:
            ids = [trial.suggest_categorical(f"shot_{i}", pool) for i in range(k)]
        return strategy, ids, replace(cell, shots=[by_id[i] for i in ids])

    def objective(trial: optuna.Trial) -> float:
        k = trial.suggest_int("k", k_low, k_high)
        strategy, ids, trial_cell = examples(trial, k)
        assert all(cell.split_of[i] == "pool" for i in ids)  # examples never come from dev or test
        logged = {"k": k, "strategy": strategy, "shot_ids": json.dumps(ids)}
        with tracking.trial_run(trial.number, logged, optuna.TrialPruned):
            if len(set(ids)) < len(ids):  # independent slots can draw one document twice
                raise optuna.TrialPruned("the same example twice")
            step = iter(range(len(cell.evaluated)))

            def report(predictions: list) -> None:  # after each chunk of dev documents
                per_feature = metrics.score(
                    [p.gold for p in predictions], [p.pred for p in predictions], cell.task.keys
                )
                value, at = metrics.summarize(per_feature, len(predictions))[objective_key], next(step)
                trial.report(value, at)
                tracking.log_metrics({f"dev/{objective_key}": value}, step=at)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"dev {objective_key} {value:.3f} after {len(predictions)} documents")

            result = pipeline.run_cell(trial_cell, backend, route, chunk_size=t.chunk_size, on_chunk=report)
            value = result.metrics[objective_key]
            tracking.log_metrics(
                {f"dev/{m}": v for m, v in result.metrics.items() if m.startswith(("median/", "mean/", "missing/"))}
            )
        trial.set_user_attr("shot_ids", ids)
        trial.set_user_attr("strategy", strategy)
        return value

    tr = conf.tracking
    with tracking.study_run(
        uri=tr.uri,
        experiment=tr.experiment,
        artifact_location=tr.artifact_location,
        study=t.study,
        params={
            **flatten({"tune": plain["tune"]}),
            "model": conf.model.name,
            "route": conf.route.name,
            "dataset": conf.dataset.name,
        },
    ):
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        run_trials(study, storage, t.storage, t.n_trials, objective, t.timeout, baselines)
        completed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if not completed:
            raise HarnessError(f"study {t.study}: no trial completed (all pruned or failed)")
        best = study.best_trial
        strategy = best.user_attrs.get("strategy", Strategy.ids.value)  # trials of older studies chose ids
        path = Path(t.selection_dir) / f"{t.study.replace('|', '_').replace('/', '_')}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            json.dumps(
                {
                    "study": t.study,
                    "strategy": strategy,
                    "k": best.params["k"],
                    **({"knn_order": best.params["knn_order"]} if strategy == Strategy.knn.value else {}),
                    "ids": best.user_attrs["shot_ids"],
                    "trial": best.number,
                    f"dev_{objective_key}": best.value,
                },
                indent=1,
            )
            + "\n",
            encoding="utf-8",
        )
        tracking.log_study_result(
            {
                "best_trial": str(best.number),
                "best_strategy": strategy,
                "best_shot_ids": json.dumps(best.user_attrs["shot_ids"]),
            },
            {f"best/dev/{objective_key}": best.value, "trials/complete": len(completed)},
            str(path),
        )
    log.info(
        "study %s: best trial %d, dev %s %.3f, %s examples %s; selection written to %s",
        t.study,
        best.number,
        objective_key,
        best.value,
        strategy,
        best.user_attrs["shot_ids"] or f"(the {best.params['k']} nearest of each document)",
        path,
    )

    # The one look at test: an ordinary run with the tuned selection, tagged with the study.
    chosen = (
        {
            "prompt.selection": Selection.knn,
            "prompt.shots": best.params["k"],
            "prompt.knn_order": KnnOrder(best.params["knn_order"]),
        }
        if strategy == Strategy.knn.value
        else {"prompt.selection": Selection.tuned, "prompt.selection_file": str(path)}
    )
    final, final_plain = with_values(
        conf,
        plain,
        {
            **chosen,
            "split.evaluate": Evaluate.test,
            "tracking.tags": {**conf.tracking.tags, names.OPTUNA_STUDY: t.study},
        },
    )
    run_typed(final, final_plain, OmegaConf.to_yaml(final_plain))
    return best.value


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="tune")
def _app(cfg: DictConfig) -> float:
    return exit_on_user_error("harness-tune", lambda: tune_config(cfg))


def main() -> None:
    run_hydra_app("harness-tune", _app, sys.argv[1:])


if __name__ == "__main__":
    main()
