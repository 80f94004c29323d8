"""A run's finished generations, appended chunk by chunk to a JSONL file, so a
run killed mid-way resumes where it stopped instead of starting over."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Optional, Sequence

from .records import Generation


def load(path: Optional[Path]) -> dict[str, Generation]:
    """Generations saved so far, by document id. A line cut short by a kill is ignored."""
    if path is None or not path.is_file():
        return {}
    done = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        row["probs"] = tuple(row["probs"]) if row.get("probs") is not None else None
        done[row["doc_id"]] = Generation(**row)
    return done


def append(path: Optional[Path], generations: Sequence[Generation]) -> None:
    """Add one finished chunk, durably, before the next one starts."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write("".join(json.dumps(asdict(g), ensure_ascii=False) + "\n" for g in generations))
        f.flush()
        os.fsync(f.fileno())
