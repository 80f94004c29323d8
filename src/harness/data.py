"""Load a dataset file (JSONL, CSV or Parquet) through `datasets` and validate it.

Every problem a user can cause ends in one HarnessError naming the file, the
row (1-based, in data rows) and the column."""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import unicodedata
from pathlib import Path
from typing import Iterable, Mapping, Optional

from .config import EmptyText
from .errors import HarnessError
from .records import Document

_BUILDERS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def file_digest(path: str | Path) -> str:
    """sha256 of the file's bytes: names exactly what was evaluated."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_rows(path: Path) -> list[dict]:
    builder = _BUILDERS.get(path.suffix.lower())
    if builder is None:
        raise HarnessError(f"{path}: unsupported file type {path.suffix!r} (use .jsonl, .csv or .parquet)")
    if path.stat().st_size == 0:
        raise HarnessError(f"{path}: the file is empty")
    if builder != "parquet":
        _check_utf8(path)
    import datasets

    datasets.disable_progress_bars()
    logging.getLogger("datasets").setLevel(logging.CRITICAL)  # we report load failures ourselves
    # A throwaway cache: `datasets` would otherwise keep an Arrow copy of the
    # transcripts in ~/.cache, outside the user's control.
    with tempfile.TemporaryDirectory(prefix="harness-data-") as cache:
        try:
            ds = datasets.load_dataset(builder, data_files=str(path), split="train", cache_dir=cache,
                                       keep_in_memory=True)
        except Exception as e:  # datasets/pyarrow raise many types for malformed files
            raise HarnessError(_explain_load_failure(path, builder, e)) from None
        return ds.to_list()


def _check_utf8(path: Path) -> None:
    with path.open("rb") as f:
        for line_no, line in enumerate(f, 1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as e:
                raise HarnessError(f"{path}, line {line_no}: not UTF-8 text (byte {e.start + 1} of the line); "
                                   "save the file as UTF-8") from None


def _explain_load_failure(path: Path, builder: str, error: Exception) -> str:
    if builder == "json":
        # Name the first line that is not a JSON object; pyarrow's message does not.
        with path.open(encoding="utf-8") as f:
            for line_no, line in enumerate(f, 1):
                if line.strip():
                    try:
                        if not isinstance(json.loads(line), dict):
                            return f"{path}, line {line_no}: not a JSON object"
                    except json.JSONDecodeError as e:
                        return f"{path}, line {line_no}: not valid JSON ({e.msg})"
    if "corresponds to no data" in str(error):
        return f"{path}: the file holds no rows"
    while error.__cause__ is not None and "error occurred while generating" in str(error):
        error = error.__cause__  # `datasets` wraps the parser's own, more telling message
    detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return f"{path}: cannot be read as {builder.upper()}: {detail}"


def _is_blank(text: object) -> bool:
    """No visible character: whitespace, zero-width joiners and bidi marks only."""
    return not isinstance(text, str) or all(ch.isspace() or unicodedata.category(ch) == "Cf" for ch in text)


def _as_bool(value: object) -> Optional[bool]:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        v = value.strip().lower()
        if v in _TRUE:
            return True
        if v in _FALSE:
            return False
    return None


def load_documents(
    path: str | Path,
    *,
    id_column: str,
    text_column: str,
    label_columns: Mapping[str, str],
    reference_column: Optional[str] = None,
    example_column: Optional[str] = None,
    empty_text: EmptyText | str = EmptyText.error,
) -> tuple[list[Document], int]:
    """Read and validate every row. `label_columns` maps feature key -> column;
    `example_column`, if given, is a boolean column marking examples.
    An empty or whitespace-only transcript is an error, or with
    empty_text="skip" left out and counted. Returns (documents, skipped)."""
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"dataset file {path} does not exist (set dataset.path)")
    rows = _read_rows(path)
    if not rows:
        raise HarnessError(f"{path}: the file holds no rows")

    columns = set(rows[0])
    needed = {"dataset.columns.id": id_column, "dataset.columns.text": text_column}
    if reference_column:
        needed["dataset.columns.reference"] = reference_column
    if example_column:
        needed["dataset.columns.is_example"] = example_column
    needed.update({f"dataset.columns.labels.{k}": c for k, c in label_columns.items()})
    for key, column in needed.items():
        if column not in columns:
            raise HarnessError(f"{path}: no column {column!r} (from {key}); the file has: {', '.join(sorted(columns))}")

    documents, seen, skipped = [], {}, 0
    for row_no, row in enumerate(rows, 1):
        where = f"{path}, row {row_no}"
        doc_id = row[id_column]
        if doc_id is None or str(doc_id).strip() == "":
            raise HarnessError(f"{where}, column {id_column!r}: empty id")
        doc_id = str(doc_id)
        if doc_id in seen:
            raise HarnessError(f"{where}, column {id_column!r}: duplicate id {doc_id!r} (first at row {seen[doc_id]})")
        seen[doc_id] = row_no
        text = row[text_column]
        if _is_blank(text):
            if EmptyText(empty_text) is EmptyText.skip:
                skipped += 1
                continue
            raise HarnessError(f"{where}, column {text_column!r}: empty transcript (id {doc_id!r}); "
                               "dataset.empty_text=skip leaves such rows out")
        labels = {}
        for key, column in label_columns.items():
            value = _as_bool(row[column])
            if value is None:
                raise HarnessError(f"{where}, column {column!r}: label {row[column]!r} is not a boolean "
                                   "(expected true/false or 1/0)")
            labels[key] = value
        is_example = _as_bool(row[example_column]) if example_column else False
        if is_example is None:
            raise HarnessError(f"{where}, column {example_column!r}: {row[example_column]!r} is not a boolean "
                               "(expected true/false or 1/0)")
        reference = row[reference_column] if reference_column else None
        documents.append(Document(id=doc_id, text=text, labels=labels, is_example=is_example,
                                  reference=reference if isinstance(reference, str) and reference.strip() else None))
    if not documents:
        raise HarnessError(f"{path}: every transcript is empty")
    return documents, skipped


def label_columns_for(feature_keys: Iterable[str], overrides: Mapping[str, str]) -> dict[str, str]:
    """Feature key -> dataset column: the override if given, else the key itself."""
    keys = list(feature_keys)
    unknown = sorted(set(overrides) - set(keys))
    if unknown:
        raise HarnessError(f"dataset.columns.labels names {', '.join(unknown)}, which the feature set does not have "
                           f"(features: {', '.join(keys)})")
    return {k: overrides.get(k, k) for k in keys}
