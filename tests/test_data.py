import json

import pandas as pd
import pytest

from harness.data import label_columns_for, load_documents
from harness.errors import HarnessError

ROWS = [
    {"doc": "a", "body": "متن یک", "en": "text one", "Fever": "true", "Pain": 0},
    {"doc": "b", "body": "متن دو", "en": "text two", "Fever": "False", "Pain": 1},
]
COLS = dict(id_column="doc", text_column="body", reference_column="en",
            label_columns={"fever": "Fever", "pain": "Pain"})


def write(path, rows):
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    elif path.suffix == ".csv":
        pd.DataFrame(rows).to_csv(path, index=False)
    else:
        pd.DataFrame(rows).astype({"Fever": str}).to_parquet(path)
    return path


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_loads_every_format_with_mapped_columns(tmp_path, suffix):
    docs, skipped = load_documents(write(tmp_path / f"d{suffix}", ROWS), **COLS)
    assert skipped == 0
    assert [d.id for d in docs] == ["a", "b"]
    assert docs[0].text == "متن یک" and docs[1].reference == "text two"
    assert docs[0].labels == {"fever": True, "pain": False}
    assert docs[1].labels == {"fever": False, "pain": True}


@pytest.mark.parametrize("rows, message", [
    ([{**ROWS[0], "Fever": "maybe"}], r"row 1, column 'Fever': label 'maybe' is not a boolean"),
    ([ROWS[0], {**ROWS[1], "doc": "a"}], r"row 2, column 'doc': duplicate id 'a' \(first at row 1\)"),
    ([ROWS[0], {**ROWS[1], "body": "   "}], r"row 2, column 'body': empty transcript"),
    ([{k: v for k, v in ROWS[0].items() if k != "Pain"}], r"no column 'Pain' \(from dataset.columns.labels.pain\)"),
])
def test_bad_rows_name_file_row_and_column(tmp_path, rows, message):
    path = write(tmp_path / "bad.jsonl", rows)
    with pytest.raises(HarnessError, match=message) as e:
        load_documents(path, **COLS)
    assert str(path) in str(e.value)


def test_unreadable_files(tmp_path):
    cases = {
        "missing.jsonl": None,
        "empty.jsonl": b"",
        "trunc.jsonl": b'{"doc": "a", "body": "x"}\n{"doc": "b", "bo',
        "latin1.jsonl": '{"doc": "a", "body": "caf\xe9"}\n'.encode("latin-1"),
        "data.txt": b"x",
        "empty.csv": b"",
        "header.csv": b"doc,body\n",
        "ragged.csv": b'doc,body\n1,"unterminated\n',
        "fake.parquet": b"not parquet",
        "string.jsonl": b'"just a string"\n',
    }
    for name, content in cases.items():
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(HarnessError) as e:
            load_documents(path, **COLS)
        assert str(path) in str(e.value), name
    with pytest.raises(HarnessError, match="line 2"):
        load_documents(tmp_path / "trunc.jsonl", **COLS)
    with pytest.raises(HarnessError, match="the file is empty"):
        load_documents(tmp_path / "empty.csv", **COLS)
    with pytest.raises(HarnessError, match="holds no rows"):
        load_documents(tmp_path / "header.csv", **COLS)


def test_label_mapping_defaults_to_the_key_and_rejects_unknown_features():
    assert label_columns_for(["fever", "pain"], {"pain": "Pain"}) == {"fever": "fever", "pain": "Pain"}
    with pytest.raises(HarnessError, match="pian"):
        label_columns_for(["fever", "pain"], {"pian": "Pain"})


def test_empty_transcripts_can_be_skipped_and_counted(tmp_path):
    path = write(tmp_path / "d.jsonl", [ROWS[0], {**ROWS[1], "body": " \u200c\n"}])
    with pytest.raises(HarnessError, match="empty_text=skip"):
        load_documents(path, **COLS)
    docs, skipped = load_documents(path, **COLS, empty_text="skip")
    assert [d.id for d in docs] == ["a"] and skipped == 1


def test_a_column_marks_the_examples(tmp_path):
    rows = [{**ROWS[0], "shot": "yes"}, {**ROWS[1], "shot": 0}]
    docs, _ = load_documents(write(tmp_path / "d.jsonl", rows), **COLS, example_column="shot")
    assert [d.is_example for d in docs] == [True, False]
    with pytest.raises(HarnessError, match=r"row 2, column 'shot': 'often' is not a boolean"):
        load_documents(write(tmp_path / "e.jsonl", [rows[0], {**rows[1], "shot": "often"}]), **COLS,
                       example_column="shot")
    with pytest.raises(HarnessError, match=r"no column 'shots' \(from dataset.columns.is_example\)"):
        load_documents(write(tmp_path / "f.jsonl", rows), **COLS, example_column="shots")
