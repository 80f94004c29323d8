"""A run's finished answers, appended chunk by chunk to a JSONL file, so a
run killed mid-way resumes where it stopped instead of starting over."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Optional, Sequence

from .records import Answer, Generation, Labels, Scores

_KINDS = {"generation": Generation, "scores": Scores, "labels": Labels}


def load(path: Optional[Path]) -> dict[str, Answer]:
    """Answers saved so far, by document id. A line cut short by a kill, or
    written by another version, is ignored (that document is answered again)."""
    if path is None or not path.is_file():
        return {}
    done: dict[str, Answer] = {}
    for line in path.read_text(encoding="utf-8").split("\n"):  # only "\n" ends a line: an id may hold U+2028
        try:
            row = json.loads(line)
            kind = _KINDS[row.pop("kind")]
            if kind is Scores:
                row["probs"] = tuple(row["probs"])
            done[row["doc_id"]] = kind(**row)
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
            continue
    return done


def append(path: Optional[Path], answers: Sequence[Answer]) -> None:
    """Add one finished chunk, durably, before the next one starts."""
    if path is None:
        return
    kind_of = {cls: kind for kind, cls in _KINDS.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(
            "".join(json.dumps({"kind": kind_of[type(a)], **asdict(a)}, ensure_ascii=False) + "\n" for a in answers)
        )
        f.flush()
        os.fsync(f.fileno())
