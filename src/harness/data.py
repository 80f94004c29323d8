"""Load a dataset file (JSONL, CSV or Parquet) and validate it.

Every problem a user can cause ends in one HarnessError naming the file, the
row (1-based, in data rows) and the column. Ids are kept as text exactly as
the file writes them (`0001` stays `0001`; a JSON number keeps its digits),
and the file's digest is taken from the very bytes that were parsed."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Optional

from .config import EmptyText
from .errors import HarnessError
from .records import Document

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}
_ABSENT = object()  # a JSONL row without the column


class Number(str):
    """A JSON number as the file writes it, so an id keeps its digits
    (`1.0`, `12345678901234567890`) and a label can still be 0 or 1."""


@dataclass(frozen=True)
class Loaded:
    documents: list[Document]
    skipped: int  # rows left out for an empty transcript (dataset.empty_text=skip)
    digest: str  # sha256 of the bytes read


def file_digest(path: str | Path) -> str:
    """sha256 of the file's bytes: names exactly what was evaluated."""
    return hashlib.sha256(_read_bytes(Path(path), "file")).hexdigest()


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise HarnessError(f"{what} {path} does not exist") from None
    except OSError as e:
        raise HarnessError(f"{what} {path}: cannot be read ({e.strerror})") from None
    if stat.S_ISDIR(mode):
        raise HarnessError(f"{what} {path} is a folder, not a file")
    if not stat.S_ISREG(mode):
        raise HarnessError(f"{what} {path} is not a regular file (a pipe or device cannot be read twice)")
    try:
        return path.read_bytes()
    except OSError as e:
        raise HarnessError(f"{what} {path}: cannot be read ({e.strerror})") from None


def _text(path: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line_no = raw.count(b"\n", 0, e.start) + 1
        column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise HarnessError(
            f"{path}, line {line_no}: not UTF-8 text (byte {column} of the line); save the file as UTF-8"
        ) from None


def _json_rows(path: Path, text: str) -> list[dict]:
    """One object a line (only "\\n" ends a line: U+2028 is text); a .json file may hold one array instead."""

    def parse(s: str):
        return json.loads(s, parse_int=Number, parse_float=Number, parse_constant=Number)

    if path.suffix.lower() == ".json" and text.lstrip().startswith("["):
        try:
            rows = parse(text)
        except json.JSONDecodeError as e:
            raise HarnessError(f"{path}, line {e.lineno}: not valid JSON ({e.msg})") from None
        for i, row in enumerate(rows, 1):
            if not isinstance(row, dict):
                raise HarnessError(f"{path}, row {i}: not a JSON object")
        return rows
    rows = []
    for line_no, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = parse(line)
        except json.JSONDecodeError as e:
            raise HarnessError(f"{path}, line {line_no}: not valid JSON ({e.msg})") from None
        if not isinstance(row, dict):
            raise HarnessError(f"{path}, line {line_no}: not a JSON object")
        rows.append(row)
    return rows


def _csv_rows(path: Path, text: str) -> list[dict]:
    """Every cell as the text it is: no type guessing, no "NA" turned missing."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        table = [r for r in reader if r]
    except csv.Error as e:
        raise HarnessError(f"{path}, line {reader.line_num}: cannot be read as CSV ({e})") from None
    if not table:
        raise HarnessError(f"{path}: the file holds no rows")
    header, rows = table[0], []
    for row_no, values in enumerate(table[1:], 1):
        if len(values) != len(header):
            raise HarnessError(f"{path}, row {row_no}: {len(values)} fields where the header has {len(header)}")
        rows.append(dict(zip(header, values)))
    return rows


def _parquet_rows(path: Path, raw: bytes) -> list[dict]:
    import pyarrow.parquet as pq

    try:
        return pq.read_table(io.BytesIO(raw)).to_pylist()
    except Exception as e:  # pyarrow raises several types for a file that is not Parquet
        detail = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise HarnessError(f"{path}: cannot be read as PARQUET: {detail}") from None


def _read_rows(path: Path) -> tuple[list[dict], str]:
    """The file's rows as dicts, and the digest of the bytes they came from."""
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".json", ".csv", ".parquet"):
        raise HarnessError(f"{path}: unsupported file type {path.suffix!r} (use .jsonl, .csv or .parquet)")
    raw = _read_bytes(path, "dataset file")
    if not raw:
        raise HarnessError(f"{path}: the file is empty")
    digest = hashlib.sha256(raw).hexdigest()
    if suffix == ".parquet":
        return _parquet_rows(path, raw), digest
    text = _text(path, raw)
    return (_csv_rows(path, text) if suffix == ".csv" else _json_rows(path, text)), digest


def _plain(value: object) -> object:
    """JSON numbers as numbers again (for showing a nested value)."""
    if isinstance(value, Number):
        return json.loads(value) if value not in ("NaN", "Infinity", "-Infinity") else str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _shown(value: object) -> str:
    """A value as a message shows it: what it is, for what is not plain text."""
    if value is None or value is _ABSENT:
        return "null"
    if isinstance(value, Number) or (isinstance(value, float) and not math.isfinite(value)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return f"a list {json.dumps(_plain(value), ensure_ascii=False, default=str)[:40]}"
    if isinstance(value, dict):
        return f"an object {json.dumps(_plain(value), ensure_ascii=False, default=str)[:40]}"
    return repr(value)


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (Number, int, float)):
        return f"a number ({_shown(value)})"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _id(value: object, where: str) -> str:
    """The id as the file writes it; a missing, NaN or non-scalar one is refused."""
    if value is None or value is _ABSENT or (isinstance(value, str) and not value.strip()):
        raise HarnessError(f"{where}: empty id")
    if isinstance(value, Number):
        if value in ("NaN", "Infinity", "-Infinity"):
            raise HarnessError(f"{where}: id {value} is not an id")
        return str.__str__(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise HarnessError(f"{where}: id {value} is not an id")
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise HarnessError(f"{where}: id {_shown(value)} is {_kind(value)}, not text or a number")
    return str(value)


def _text_of(value: object, where: str, what: str) -> Optional[str]:
    """A transcript or translation: text, or None where there is none."""
    if value is None or value is _ABSENT:
        return None
    if not isinstance(value, str) or isinstance(value, Number):
        raise HarnessError(f"{where}: the {what} is {_kind(value)}, not text")
    return value


def _is_blank(text: Optional[str]) -> bool:
    """No visible character: whitespace, zero-width joiners and bidi marks only."""
    return text is None or all(ch.isspace() or unicodedata.category(ch) == "Cf" for ch in text)


def _as_bool(value: object) -> Optional[bool]:
    if isinstance(value, bool):
        return value
    if isinstance(value, Number):
        try:
            number = float(value)
        except ValueError:
            return None
        return bool(number) if number in (0, 1) else None
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        v = value.strip().lower()
        if v in _TRUE:
            return True
        if v in _FALSE:
            return False
    return None


def _boolean(value: object, where: str, what: str) -> bool:
    parsed = _as_bool(value)
    if parsed is None:
        raise HarnessError(f"{where}: {what}{_shown(value)} is not a boolean (expected true/false or 1/0)")
    return parsed


def load_documents(
    path: str | Path,
    *,
    id_column: str,
    text_column: str,
    label_columns: Mapping[str, str],
    reference_column: Optional[str] = None,
    example_column: Optional[str] = None,
    empty_text: EmptyText | str = EmptyText.error,
) -> Loaded:
    """Read and validate every row. `label_columns` maps feature key -> column;
    `example_column`, if given, is a boolean column marking examples.
    An empty or whitespace-only transcript is an error, or with
    empty_text="skip" left out and counted."""
    path = Path(path)
    rows, digest = _read_rows(path)
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

        def at(column: str) -> str:
            return f"{path}, row {row_no}, column {column!r}"

        doc_id = _id(row.get(id_column, _ABSENT), at(id_column))
        if doc_id in seen:
            raise HarnessError(f"{at(id_column)}: duplicate id {doc_id!r} (first at row {seen[doc_id]})")
        seen[doc_id] = row_no
        text = _text_of(row.get(text_column, _ABSENT), at(text_column), "transcript")
        if _is_blank(text):
            if EmptyText(empty_text) is EmptyText.skip:
                skipped += 1
                continue
            raise HarnessError(
                f"{at(text_column)}: empty transcript (id {doc_id!r}); dataset.empty_text=skip leaves such rows out"
            )
        labels = {
            key: _boolean(row.get(column, _ABSENT), at(column), "label ") for key, column in label_columns.items()
        }
        is_example = _boolean(row.get(example_column, _ABSENT), at(example_column), "") if example_column else False
        reference = _text_of(row.get(reference_column), at(reference_column), "reference") if reference_column else None
        documents.append(
            Document(
                id=doc_id,
                text=text,
                labels=labels,
                is_example=is_example,
                reference=None if _is_blank(reference) else reference,
            )
        )
    if not documents:
        raise HarnessError(f"{path}: every transcript is empty")
    return Loaded(documents, skipped, digest)


def label_columns_for(feature_keys: Iterable[str], overrides: Mapping[str, str]) -> dict[str, str]:
    """Feature key -> dataset column: the override if given, else the key itself."""
    keys = list(feature_keys)
    unknown = sorted(set(overrides) - set(keys))
    if unknown:
        raise HarnessError(
            f"dataset.columns.labels names {', '.join(unknown)}, which the feature set does not have "
            f"(features: {', '.join(keys)})"
        )
    return {k: overrides.get(k, k) for k in keys}
