import hashlib
import json

import pandas as pd
import pytest

from harness.data import label_columns_for, load_documents
from harness.errors import HarnessError

ROWS = [
    {"doc": "a", "body": "متن یک", "en": "text one", "Fever": "true", "Pain": 0},
    {"doc": "b", "body": "متن دو", "en": "text two", "Fever": "False", "Pain": 1},
]
COLS = dict(
    id_column="doc", text_column="body", reference_column="en", label_columns={"fever": "Fever", "pain": "Pain"}
)


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
    loaded = load_documents(write(tmp_path / f"d{suffix}", ROWS), **COLS)
    docs = loaded.documents
    assert loaded.skipped == 0 and loaded.digest == hashlib.sha256((tmp_path / f"d{suffix}").read_bytes()).hexdigest()
    assert [d.id for d in docs] == ["a", "b"]
    assert docs[0].text == "متن یک" and docs[1].reference == "text two"
    assert docs[0].labels == {"fever": True, "pain": False}
    assert docs[1].labels == {"fever": False, "pain": True}


@pytest.mark.parametrize(
    "rows, message",
    [
        ([{**ROWS[0], "Fever": "maybe"}], r"row 1, column 'Fever': label 'maybe' is not a boolean"),
        ([ROWS[0], {**ROWS[1], "doc": "a"}], r"row 2, column 'doc': duplicate id 'a' \(first at row 1\)"),
        ([ROWS[0], {**ROWS[1], "body": "   "}], r"row 2, column 'body': empty transcript"),
        ([{k: v for k, v in ROWS[0].items() if k != "Pain"}], r"no column 'Pain' \(from dataset.columns.labels.pain\)"),
    ],
)
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
    loaded = load_documents(path, **COLS, empty_text="skip")
    assert [d.id for d in loaded.documents] == ["a"] and loaded.skipped == 1


def test_a_column_marks_the_examples(tmp_path):
    rows = [{**ROWS[0], "shot": "yes"}, {**ROWS[1], "shot": 0}]
    docs = load_documents(write(tmp_path / "d.jsonl", rows), **COLS, example_column="shot").documents
    assert [d.is_example for d in docs] == [True, False]
    with pytest.raises(HarnessError, match=r"row 2, column 'shot': 'often' is not a boolean"):
        load_documents(
            write(tmp_path / "e.jsonl", [rows[0], {**rows[1], "shot": "often"}]), **COLS, example_column="shot"
        )
    with pytest.raises(HarnessError, match=r"no column 'shots' \(from dataset.columns.is_example\)"):
        load_documents(write(tmp_path / "f.jsonl", rows), **COLS, example_column="shots")


def test_ids_are_kept_as_the_file_writes_them(tmp_path):
    csv = tmp_path / "ids.csv"
    csv.write_text("doc,body,en,Fever,Pain\n0001,t,e,1,0\n01,t,e,0,1\n1,t,e,1,1\n", encoding="utf-8")
    assert [d.id for d in load_documents(csv, **COLS).documents] == ["0001", "01", "1"]
    jsonl = tmp_path / "ids.jsonl"
    jsonl.write_text(
        '{"doc": 1, "body": "t", "en": "e", "Fever": 1, "Pain": 0.0}\n'
        '{"doc": 2.0, "body": "t", "en": "e", "Fever": true, "Pain": 1}\n'
        '{"doc": 123456789012345678901234, "body": "t", "en": "e", "Fever": 0, "Pain": 0}\n'
        '{"doc": "a\u2028b", "body": "t", "en": "e", "Fever": 0, "Pain": 0}\n',
        encoding="utf-8",
    )
    docs = load_documents(jsonl, **COLS).documents
    assert [d.id for d in docs] == ["1", "2.0", "123456789012345678901234", "a\u2028b"]
    assert all(type(d.id) is str for d in docs) and docs[0].labels == {"fever": True, "pain": False}


@pytest.mark.parametrize(
    "value, message",
    [
        ("NaN", r"row 1, column 'doc': id NaN is not an id"),
        ("null", r"row 1, column 'doc': empty id"),
        ('{"a": 1}', r"row 1, column 'doc': id an object \{\"a\": 1\} is an object, not text or a number"),
        ("[1]", r"id a list \[1\] is a list"),
        ("true", r"id True is a boolean"),
    ],
)
def test_a_missing_nan_or_non_scalar_id_is_refused_naming_the_row(tmp_path, value, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(f'{{"doc": {value}, "body": "t", "en": "e", "Fever": 1, "Pain": 0}}\n', encoding="utf-8")
    with pytest.raises(HarnessError, match=message):
        load_documents(path, **COLS)


def test_parquet_ids_missing_or_nested_are_refused(tmp_path):
    for ids, message in (
        ([1.5, float("nan")], "row 2, column 'doc': empty id"),  # pyarrow stores NaN as null
        ([{"a": 1}, {"a": 2}], "is an object, not text or a number"),
    ):
        path = tmp_path / "p.parquet"
        pd.DataFrame(
            {"doc": ids, "body": ["t", "u"], "en": ["e", "f"], "Fever": [True, False], "Pain": [False, True]}
        ).to_parquet(path)
        with pytest.raises(HarnessError, match=message):
            load_documents(path, **COLS)


@pytest.mark.parametrize(
    "row, message",
    [
        ({"body": 12}, r"column 'body': the transcript is a number \(12\), not text"),
        ({"body": ["a"]}, "the transcript is a list, not text"),
        ({"Fever": float("nan")}, r"column 'Fever': label NaN is not a boolean"),
        ({"Fever": [True]}, r"label a list \[true\] is not a boolean"),
        ({"en": 3}, "the reference is a number"),
    ],
)
def test_values_of_the_wrong_type_say_what_they_are(tmp_path, row, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({**ROWS[0], **row}) + "\n", encoding="utf-8")
    with pytest.raises(HarnessError, match=message):
        load_documents(path, **COLS)


def test_a_folder_or_a_pipe_is_not_a_dataset(tmp_path):
    import os

    (tmp_path / "d.jsonl").mkdir()
    with pytest.raises(HarnessError, match="is a folder, not a file"):
        load_documents(tmp_path / "d.jsonl", **COLS)
    os.mkfifo(tmp_path / "p.jsonl")
    with pytest.raises(HarnessError, match="is not a regular file"):
        load_documents(tmp_path / "p.jsonl", **COLS)


def test_a_checkpoint_keeps_ids_that_hold_a_line_separator(tmp_path):
    from harness import checkpoint
    from harness.records import Scores

    saved = [Scores(doc_id="a\u2028b", probs=(0.1, 0.9), latency_s=0.0), Scores(doc_id="c", probs=(0.5,), latency_s=0)]
    checkpoint.append(tmp_path / "c.jsonl", saved)
    assert checkpoint.load(tmp_path / "c.jsonl") == {s.doc_id: s for s in saved}
