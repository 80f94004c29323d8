"""What a run's artifacts hold: its predictions and per-feature metrics as
text and tables, transcripts as tracking.log_text allows. Pure functions;
tracking logs what they return."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from typing import Mapping, Optional

from .config import LogText
from .records import RunResult


def text_for_log(text: Optional[str], mode: LogText | str) -> Optional[str]:
    """A transcript, translation or answer as tracking.log_text allows it."""
    if text is None or LogText(mode) is LogText.full:
        return text
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16] if LogText(mode) is LogText.hashed else None


def per_feature_csv(per_feature: Mapping[str, Mapping[str, float]]) -> str:
    buf = io.StringIO()
    columns = list(dict.fromkeys(c for row in per_feature.values() for c in row))  # AUCs exist for some features only
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["feature", *columns])
    for key, row in per_feature.items():
        writer.writerow([key, *(f"{row[c]:.6g}" if c in row else "" for c in columns)])
    return buf.getvalue()


def predictions_jsonl(result: RunResult, log_text: str) -> str:
    rows = []
    for p in result.predictions:
        row = {
            "id": p.doc_id,
            "split": p.split,
            "raw_output": text_for_log(p.raw_output, log_text),
            "pred": dict(p.pred),
            "gold": dict(p.gold),
        }
        if p.prob is not None:
            row["prob"] = dict(p.prob)
        if p.shot_ids is not None:
            row["shot_ids"] = list(p.shot_ids)
        if p.doc_id in result.texts:  # what the model read, as tracking.log_text allows
            row["text"] = text_for_log(result.texts[p.doc_id], log_text)
        rows.append(json.dumps(row, ensure_ascii=False) + "\n")
    return "".join(rows)


def predictions_table(result: RunResult, log_text: str):
    """One row per document for MLflow's table view (browsed and filtered in
    the UI): id, split, fields right, the fields wrong, fields missing, the
    answer (named for what it is: the model's, the template filled from the
    scores, a baseline's labels) and the text the model read (both under
    tracking.log_text's rules), then each feature's prediction, gold label
    and, where there is one, P(true)."""
    import pandas as pd

    rows = []
    for p in result.predictions:
        row = {
            "id": p.doc_id,
            "split": p.split,
            "right": sum(p.pred[k] is not None and p.pred[k] == g for k, g in p.gold.items()),
            "wrong": ", ".join(k for k, g in p.gold.items() if p.pred[k] is not None and p.pred[k] != g),
            "missing": sum(v is None for v in p.pred.values()),
            result.answer_kind: text_for_log(p.raw_output, log_text),
            "text": text_for_log(result.texts.get(p.doc_id), log_text),
        }
        for k, g in p.gold.items():
            row[k], row[f"{k}_gold"] = p.pred[k], g
            if p.prob is not None and k in p.prob:
                row[f"{k}_p"] = round(float(p.prob[k]), 4)
        rows.append(row)
    return pd.DataFrame(rows)
