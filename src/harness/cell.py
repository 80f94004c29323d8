"""A grid cell from a resolved config: the task, the documents, the split
and the examples. Shared by `harness`, `harness-tune` and the benchmark."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import data, splits
from .errors import HarnessError
from .pipeline import Task
from .prompts import pick_language
from .records import Document


@dataclass(frozen=True)
class Cell:
    task: Task
    documents: list[Document]  # every document of the dataset
    split_of: dict[str, str]  # id -> "pool" | "dev" | "test"
    evaluated: list[Document]  # what the run scores
    shots: list[Document]  # the examples, from the pool


def _feature_names(entries: list[dict], language: str) -> list[str]:
    missing = [f["key"] for f in entries if language not in f["names"]]
    if missing:
        raise HarnessError(f"features: no {language!r} name for {', '.join(missing)} (features.entries[].names)")
    return [f["names"][language] for f in entries]


def task_of(c: dict[str, Any]) -> Task:
    """What to extract and how to ask, from the resolved config."""
    route, prompt, entries = c["route"], c["prompt"], c["features"]["entries"]
    read_language = c["dataset"]["language"] if route["input"] == "source" else "en"
    prompt_language = read_language if route["prompt_language"] == "source" else "en"
    return Task(
        keys=tuple(f["key"] for f in entries), names=tuple(_feature_names(entries, prompt_language)),
        fmt=prompt["format"], mode=prompt["mode"], language=read_language,
        system=pick_language(prompt["system"], prompt_language, f"prompt={prompt['name']} system"),
        lead_in=pick_language(prompt["lead_in"], prompt_language, f"prompt={prompt['name']} lead_in"),
    )


def prepare(c: dict[str, Any]) -> Cell:
    """Load and validate the data, split it and draw the examples: every
    check that bad input can fail, before any model or run exists."""
    task = task_of(c)
    ds, route, split, prompt = c["dataset"], c["route"], c["split"], c["prompt"]
    columns = ds["columns"]
    if route["input"] == "reference" and not columns["reference"]:
        raise HarnessError(f"route={route['name']} needs dataset.columns.reference (dataset={ds['name']} has none)")
    documents = data.load_documents(
        ds["path"], id_column=columns["id"], text_column=columns["text"], reference_column=columns["reference"],
        label_columns=data.label_columns_for(task.keys, columns["labels"]),
    )
    split_of = splits.split_ids([d.id for d in documents], pool=split["pool"], dev=split["dev"], seed=split["seed"])
    evaluated = splits.evaluated_split(documents, split_of, split["evaluate"])[: ds["limit"]]
    shots = splits.random_shots([d for d in documents if split_of[d.id] == "pool"], prompt["shots"], c["seed"])
    return Cell(task=task, documents=documents, split_of=split_of, evaluated=evaluated, shots=shots)
