"""What makes two runs the same grid cell, declared once.

The rule: a cell's identity is everything that can change its predictions -
the resolved config's settings, the content digests of the files it reads
(the dataset, a synthetic pool) and the example ids it was given - and
nothing that changes only how fast it runs, where it is logged or how it is
shown, nor a setting that is off (prompt.calibration=none). Schema fields
marked `outside_cell` (config.py) are left out, as are the backend
arguments in SPEED_ONLY and the places files are read from
(their digests stand for them). A baseline reads no prompt: its identity
holds no prompt settings, nor the seed that draws examples (a baseline that
learns keeps the pool it learns from).

Resume, checkpoints and the report's pairing (the comparison keys each run
logs) all read these functions; nothing else decides what a cell is."""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields
from typing import Any, Mapping, Optional, Sequence

from .config import Config

# Backend constructor arguments that change speed or memory, never an answer.
SPEED_ONLY = ("batch_size", "prefill_batch_size")
# Where files are read from: their content digests are part of the identity instead.
LOCATIONS = (("dataset", "path"), ("prompt", "pool_file"), ("prompt", "selection_file"), ("translator", "cache"))
# Settings of the translate route only: a cell on another route has no translator.
ROUTE_ONLY = ("route", "translator")
# How many cells a config makes, not what one is: draw i of prompt.draws=N is the cell of seed+i.
BETWEEN_CELLS = (("prompt", "draws"),)


def _outside_cell() -> set[str]:
    return {f.name for f in fields(Config) if f.metadata.get("cell") is False}


def _backend(args: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in args.items() if k not in SPEED_ONLY}


def _only_where_used(prompt: dict[str, Any]) -> None:
    """A default that changes nothing is no setting (cells logged before
    prompt.calibration or prompt.knn_order existed keep their identity); the
    sample count matters to domain calibration only."""
    if prompt.get("calibration") in (None, "none"):
        prompt.pop("calibration", None)
    if prompt.get("calibration") != "domain":
        prompt.pop("calibration_samples", None)
    if prompt.get("knn_order") in (None, "nearest_last"):
        prompt.pop("knn_order", None)


def cell_identity(
    plain: Mapping[str, Any],
    *,
    reads_prompt: bool,
    learns_from_pool: bool,
    translates: bool,
    dataset_digest: str,
    pool_digest: Optional[str],
    shot_ids: Sequence[str],
) -> dict[str, Any]:
    """The cell's identity from the plain resolved config and what was read."""
    skip = _outside_cell() | {"hydra"}
    ident = {k: json.loads(json.dumps(v, default=str)) for k, v in plain.items() if k not in skip}
    for section, key in LOCATIONS + BETWEEN_CELLS:
        ident.get(section, {}).pop(key, None)
    _only_where_used(ident.get("prompt", {}))
    ident["model"]["backend"] = _backend(ident["model"]["backend"])
    if translates:
        ident["translator"]["model"]["backend"] = _backend(ident["translator"]["model"]["backend"])
    else:
        ident.pop("translator", None)
    if not reads_prompt:
        pool = ident["prompt"]["pool"]
        ident.pop("seed", None)
        ident["prompt"] = {"pool": pool} if learns_from_pool else {}
    ident["data"] = {"dataset_digest": dataset_digest, "pool_digest": pool_digest, "shot_ids": list(shot_ids)}
    return ident


def digest(tree: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(tree, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _without(identity: Mapping[str, Any], *paths: str) -> dict[str, Any]:
    """A copy of `identity` without the dotted `paths` ("data.shot_ids")."""
    out = json.loads(json.dumps(identity, default=str))
    for path in paths:
        *parents, last = path.split(".")
        node = out
        for key in parents:
            node = node.get(key, {})
        node.pop(last, None)
    return out


def comparison_keys(identity: Mapping[str, Any]) -> dict[str, str]:
    """One key per comparison the report makes, equal for two runs that
    differ only in what is compared: `route` (the route and its translator),
    `model` (the model and what it reads of the prompt: a baseline reads
    none), `pool` (real examples against synthetic ones). `prompt` holds
    what a model reads of the prompt: two models pair only with the same
    one, a baseline with any. `draws`: equal for the cells that differ only
    in their example draw (the seed and the examples it drew), which the
    report folds into one row."""
    prompt = ("prompt", "seed", "route.prompt_language", "data.shot_ids")
    return {
        "route": digest(_without(identity, *ROUTE_ONLY)),
        "model": digest(_without(identity, "model", *prompt)),
        "pool": digest(_without(identity, "prompt.pool", "data.pool_digest", "data.shot_ids")),
        "draws": digest(_without(identity, "seed", "data.shot_ids")),
        "prompt": digest(
            {
                "prompt": identity.get("prompt"),
                "seed": identity.get("seed"),
                "prompt_language": identity.get("route", {}).get("prompt_language"),
                "shot_ids": identity["data"]["shot_ids"],
            }
        ),
    }


def without_data(identity: Mapping[str, Any]) -> str:
    """The cell's settings without the files' contents: finds the run of this
    cell made on an earlier version of its data, to say why it reruns."""
    return digest({k: v for k, v in identity.items() if k != "data"})
