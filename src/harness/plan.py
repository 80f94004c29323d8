"""A grid cell's plan: everything decided from the typed config before
anything exists - every check bad input can fail, the cell, its identity,
name, params and tags. No model is loaded and no store is touched here;
`cli.execute` carries a plan out."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__, identity, names, protocol
from .config import Calibration, Config, Mode, Pool, Selection, check_ranges, class_named, with_values
from .errors import HarnessError, mask_passwords
from .records import Cell


@dataclass(frozen=True)
class RunPlan:
    conf: Config
    cell: Cell
    backend_class: type  # the backend the model config names (not built yet)
    cell_hash: str  # harness.identity: what resume and checkpoints key on
    settings_hash: str  # the same without the data: tells a changed file from a new cell
    name: str
    params: dict[str, Any]
    tags: dict[str, str]
    checkpoint: Path  # this cell's finished chunks, in this store and experiment
    departures: tuple[str, ...]

    @property
    def baseline(self) -> bool:
        """The model decides the features itself: no prompt, no examples."""
        from .backends import Baseline

        return issubclass(self.backend_class, Baseline)


def backend_class(spec: dict[str, Any]) -> type:
    """The class `model.backend._target_` names, imported but not built."""
    from .backends import Answerer

    return class_named(
        spec.get("_target_"),
        Answerer,
        "model.backend._target_",
        "harness.backends.hf.TransformersBackend",
        "harness.backends.Backend or Baseline",
    )


def run_name(conf: Config, cell: Cell, baseline: bool, learns: bool = False) -> str:
    """model|route|kshot, plus what departs from the defaults, so a sweep's
    runs read apart in the UI; a baseline reads no examples: model|route
    (one that learns from the pool is named for a synthetic one too)."""
    prompt = conf.prompt
    return "|".join(
        [
            conf.model.name,
            conf.route.name,
            *([] if baseline else [f"{cell.shots_per_document}shot"]),
            *([prompt.selection.value] if prompt.selection is not Selection.random and not baseline else []),
            *([prompt.knn_order.value] if cell.nearest_first and not baseline else []),
            *(["synthetic"] if prompt.pool is Pool.synthetic and (learns or not baseline) else []),
            *([prompt.mode.value] if prompt.mode is not Mode.generate and not baseline else []),
            *(
                [f"threshold={prompt.threshold}"]
                if not baseline and (cell.calibration or cell.task.threshold != 0.5)
                else []
            ),
            *([prompt.calibration.value] if prompt.calibration is not Calibration.none and not baseline else []),
        ]
    )


def _pool_params(conf: Config, cell: Cell) -> dict[str, str]:
    """Where the examples came from: the pool's kind, and for a synthetic one
    its file's digest and the model harness-synth wrote it with."""
    if conf.prompt.pool is Pool.real:
        return {names.POOL: "real"}
    try:  # harness-synth's state beside the file; a pool written another way has none
        state = json.loads(Path(conf.prompt.pool_file + ".state.json").read_text(encoding="utf-8"))
        generator = str(state["settings"]["generator"])
    except (OSError, ValueError, KeyError, TypeError):
        generator = "unknown"
    return {names.POOL: "synthetic", names.POOL_DIGEST: str(cell.pool_digest), names.POOL_GENERATOR: generator}


def checkpoint_path(conf: Config, cell_hash: str) -> Path:
    """A cell's checkpoint, keyed by its identity and by the store and
    experiment it is logged to (one experiment's never resumes another's)."""
    t = conf.tracking
    where = hashlib.sha256(f"{mask_passwords(t.uri)}|{t.experiment}".encode()).hexdigest()[:8]
    return Path(t.checkpoints) / f"{where}-{cell_hash}.jsonl"


def git_commit() -> str:
    import subprocess

    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


# Flattened config entries a short param name below already logs: each is
# logged once, under the short name (docs/tracking.md).
REPEATED = frozenset(
    ("model.name", "route.name", "prompt.name", "prompt.mode", "prompt.shots", "prompt.selection")
    + ("dataset.name", "prompt.pool")
)


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}, "c": [1, 2]} -> {"a.b": 1, "c": "[1, 2]"}: one param per
    setting, lists kept whole as JSON."""
    if not isinstance(tree, dict):
        return {prefix: json.dumps(tree, ensure_ascii=False) if isinstance(tree, (list, tuple)) else tree}
    out: dict[str, Any] = {}
    for k, v in tree.items():
        out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def plan(conf: Config, plain: dict[str, Any]) -> RunPlan:
    """Check the config and the data, and decide the run: raises HarnessError
    on anything a user can fix, before a model or a run exists."""
    from .backends import Baseline, learns_from_pool
    from .cell import prepare, protocol_settings, uses_translator

    check_ranges(conf)
    cls = backend_class(conf.model.backend)
    baseline, learns = issubclass(cls, Baseline), learns_from_pool(cls)
    cell = prepare(conf, reads_prompt=not baseline)
    if not baseline and cell.task.mode not in cls.modes:
        raise HarnessError(
            f"prompt.mode={cell.task.mode.value}: {cls.__name__} answers only "
            f"{', '.join(sorted(m.value for m in cls.modes))} (score mode needs the "
            "transformers or llama.cpp backend)"
        )
    if learns and not cell.pool:
        raise HarnessError(f"model={conf.model.name} trains on the example pool, which is empty (split.pool)")
    if learns and cell.scores_examples:
        raise HarnessError(
            f"model={conf.model.name}: split.evaluate=all would score the pool documents it trains "
            "on (use test, dev or nonpool)"
        )
    translates = uses_translator(conf)
    plain = dict(plain)
    plain.pop("tune", None), plain.pop("synth", None)
    if not translates:
        plain.pop("translator")  # not part of this cell: keeps it out of the params
    if conf.prompt.pool is Pool.real:
        plain["prompt"] = {**plain["prompt"], "pool_file": None}  # not read
    ident = identity.cell_identity(
        plain,
        reads_prompt=not baseline,
        learns_from_pool=learns,
        translates=translates,
        dataset_digest=cell.dataset_digest,
        pool_digest=cell.pool_digest,
        shot_ids=[d.id for d in cell.shots],
    )
    cell_hash = identity.digest(ident)
    generation_config = not baseline and cls.applies_generation_config
    settings = protocol_settings(conf, cell.task, cell.shots_per_document, generation_config)
    departures = tuple(protocol.baseline_departures(settings) if baseline else protocol.departures(settings))
    model, route, prompt, ds = conf.model, conf.route, conf.prompt, conf.dataset
    pool = _pool_params(conf, cell)
    named = {
        names.MODEL: model.name,
        names.ROUTE: route.name,
        names.PROMPT: prompt.name,
        # A baseline reads no prompt: it neither scores nor generates, nor draws examples.
        **({} if baseline else {names.MODE: prompt.mode.value}),
        names.SHOTS: cell.shots_per_document,
        **({} if baseline else {names.SELECTION: prompt.selection.value}),
        names.SEED: conf.seed,
        names.BASELINE: str(baseline).lower(),
        **pool,
        names.DATASET: ds.name,
        names.DATASET_DIGEST: cell.dataset_digest,
        names.PROTOCOL: protocol.BASELINE if baseline else protocol.protocol_name(settings),
        names.PROTOCOL_DEPARTURES: ",".join(departures),
        names.PROTOCOL_UNVERIFIABLE: "" if baseline else ",".join(protocol.unverifiable(settings)),
        names.CONFIG_HASH: cell_hash,
        names.CELL_SETTINGS: identity.without_data(ident),
        **{names.COMPARISON_KEYS[k]: v for k, v in identity.comparison_keys(ident).items()},
        "harness_version": __version__,
        "git_commit": git_commit(),
    }
    tags = {
        "model": model.name,
        "family": model.family,
        "params_b": str(model.params_b),
        "route": route.name,
        "language": ds.language,
        "shots": str(cell.shots_per_document),
        **({} if baseline else {"mode": prompt.mode.value, "selection": prompt.selection.value}),
        names.POOL: prompt.pool.value,
        names.PROTOCOL: named[names.PROTOCOL],
        **conf.tracking.tags,
    }
    return RunPlan(
        conf=conf,
        cell=cell,
        backend_class=cls,
        cell_hash=cell_hash,
        settings_hash=named[names.CELL_SETTINGS],
        name=run_name(conf, cell, baseline, learns),
        params={**{k: v for k, v in flatten(plain).items() if k not in REPEATED}, **named},
        tags=tags,
        checkpoint=checkpoint_path(conf, cell_hash),
        departures=departures,
    )


def draws(conf: Config, plain: dict[str, Any]) -> list[tuple[RunPlan, dict[str, Any]]]:
    """The cell's plans over prompt.draws example draws (seeds seed, seed+1,
    ...), each with its plain values: all checked before any run exists. A
    baseline reads no examples: one plan."""
    first = plan(conf, plain)
    n = conf.prompt.draws
    if n == 1 or first.baseline:
        return [(first, plain)]
    if conf.prompt.selection not in (Selection.random, Selection.balanced):
        raise HarnessError(
            f"prompt.draws={n}: prompt.selection={conf.prompt.selection.value} draws nothing "
            "(its examples do not depend on the seed); draws need random or balanced"
        )
    out = [(first, plain)]
    for i in range(1, n):
        drawn, drawn_plain = with_values(conf, plain, {"seed": conf.seed + i})
        out.append((plan(drawn, drawn_plain), drawn_plain))
    return out
