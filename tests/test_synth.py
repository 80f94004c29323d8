"""The synthetic example pool: harness-synth's filters and plans (pure), the
pool's use by runs and the report (a planted pool file, the real CLI), and
harness-synth itself with the embedded Gemma model: Persian and Urdu,
determinism under a seed, resume after a kill, seeds only from the pool."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import mlflow
import pytest

from harness import synth
from harness.errors import HarnessError, refuse_other_sections

from .conftest import ROOT, composed_cell, run_harness

FA = "اپراتور: سلام، وقت بخیر. تماس‌گیرنده: مادرم از دیشب تب دارد و نفسش به سختی بالا می‌آید. درد ندارد."
UR = "آپریٹر: السلام علیکم۔ کالر: میری والدہ کو کل رات سے بخار ہے اور سانس لینے میں دشواری ہے۔ درد نہیں ہے۔"


def test_rouge_l_reads_persian_words_and_catches_a_planted_near_duplicate():
    assert synth._Words.tokenize("می‌خواهم بروم")[0] == "می\u200cخواهم"  # the half-space stays inside the word
    near = FA.replace("دیشب", "دیروز")  # one word changed
    assert synth.rouge_l(FA, near) > 0.9
    assert synth.rouge_l(FA, UR) < 0.2
    kept = [FA]
    assert synth.rejection(near, kept, [], "fa", min_chars=20, script=0.6, threshold=0.7) == "near_duplicate"
    assert synth.rejection(near, [], [FA], "fa", min_chars=20, script=0.6, threshold=0.7) == "echoes_seed"
    other = "اپراتور: بفرمایید. تماس‌گیرنده: پدرم چند روز است اشتها ندارد و شب‌ها نمی‌خوابد؛ هزینه‌ها هم زیاد شده."
    assert synth.rejection(other, kept, [], "fa", min_chars=20, script=0.6, threshold=0.7) is None


@pytest.mark.parametrize(
    "text, language, reason",
    [
        ("", "fa", "empty"),
        ("سلام", "fa", "too_short"),
        ("Operator: hello. Caller: my mother has a fever and cannot breathe well, no pain.", "fa", "wrong_script"),
        (FA, "fa", None),
        (UR, "ur", None),
        (FA, "en", "wrong_script"),
    ],
)
def test_empty_short_and_wrong_script_texts_are_dropped(text, language, reason):
    assert synth.rejection(text, [], [], language, min_chars=20, script=0.6, threshold=0.7) == reason


def test_attempts_order_by_number_past_five_digits():
    ids = ["syn-100000", "syn-99999", "syn-00007"]
    assert sorted(ids, key=synth._attempt) == ["syn-00007", "syn-99999", "syn-100000"]


def test_label_plans_are_seeded_and_put_on_what_no_kept_example_shows():
    keys = ["a", "b", "c"]
    rates = {"a": 0.0, "b": 0.0, "c": 0.0}  # never on by chance: only the covering turns one on
    kept = [{"a": False, "b": True, "c": False}]
    assert synth.uncovered(keys, kept) == ["a", "c"]
    assert [synth.plan_labels(i, keys, rates, 1, force) for i, force in enumerate(["a", "c", None])] == [
        {"a": True, "b": False, "c": False},
        {"a": False, "b": False, "c": True},
        {"a": False, "b": False, "c": False},
    ]
    half = {k: 0.5 for k in keys}
    assert synth.plan_labels(9, keys, half, 1) == synth.plan_labels(9, keys, half, 1)
    assert any(synth.plan_labels(i, keys, half, 1) != synth.plan_labels(i, keys, half, 2) for i in range(3, 12))


def test_clean_keeps_one_transcript():
    assert synth.clean("```\nCall 3: " + FA + "\n\nCall 4: something else```") == FA


def _planted_pool(tmp_path, demo_rows, n=24):
    """A stand-in for harness-synth's output: pool-shaped rows with new ids."""
    path = tmp_path / "synthetic.jsonl"
    rows = [
        {**{k: v for k, v in r.items() if k not in ("id", "translation_en")}, "id": f"syn-{i:05d}"}
        for i, r in enumerate(demo_rows[-n:])
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_a_synthetic_pool_supplies_the_examples_and_the_real_pool_becomes_evaluable(tmp_path, demo_rows):
    path = _planted_pool(tmp_path, demo_rows)
    real = composed_cell("split.evaluate=nonpool")
    cell = composed_cell(
        "prompt.pool=synthetic", f"prompt.pool_file={path}", "split.evaluate=nonpool", "prompt.selection=balanced"
    )
    assert all(d.id.startswith("syn-") for d in cell.shots + cell.pool) and len(cell.pool) == 24
    real_pool = {d.id for d in real.pool}
    assert {d.id for d in cell.evaluated} == {d.id for d in real.evaluated} | real_pool  # spare pool now scored
    assert not any(d.id.startswith("syn-") for d in cell.evaluated)
    test = composed_cell("prompt.pool=synthetic", f"prompt.pool_file={path}")
    assert [d.id for d in test.evaluated] == [d.id for d in composed_cell().evaluated]  # dev and test stay real


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["prompt.pool=synthetic"], "prompt.pool_file"),
        (["prompt.pool=synthetic", "prompt.pool_file=/nonexistent.jsonl"], "prompt.pool_file"),
        (["prompt.pool=synthetic", "prompt.pool_file={path}", "route=reference"], "route=native or translate"),
    ],
)
def test_bad_synthetic_pool_settings_are_one_clear_error(tmp_path, demo_rows, overrides, message):
    path = _planted_pool(tmp_path, demo_rows)
    with pytest.raises(HarnessError, match=message):
        composed_cell(*(o.format(path=path) for o in overrides))


@pytest.mark.cli
def test_a_sweep_over_real_and_synthetic_pools_is_compared_in_the_report(tmp_path, demo_rows):
    path = _planted_pool(tmp_path, demo_rows, n=60)
    state = {"settings": {"generator": "gemma3-270m"}}
    (tmp_path / "synthetic.jsonl.state.json").write_text(json.dumps(state), encoding="utf-8")
    done = run_harness(
        "-m",
        "model=tfidf-logreg",
        "prompt.pool=real,synthetic",
        f"prompt.pool_file={path}",
        "dataset.limit=40",
        "tracking.experiment=pools",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    runs = {r.info.run_name: r for r in mlflow.search_runs(experiment_names=["pools"], output_format="list")}
    assert set(runs) == {"tfidf-logreg|native", "tfidf-logreg|native|synthetic"}
    synthetic = runs["tfidf-logreg|native|synthetic"].data
    assert synthetic.params["pool"] == "synthetic" and synthetic.params["pool_generator"] == "gemma3-270m"
    assert len(synthetic.params["pool_digest"]) >= 12 and synthetic.tags["pool"] == "synthetic"
    assert runs["tfidf-logreg|native"].data.params["prompt.pool_file"] == "None"  # not read: not a setting
    report = run_harness(
        "--experiment",
        "pools",
        "--tracking-uri",
        f"sqlite:///{tmp_path}/mlruns/mlflow.db",
        "--out",
        str(tmp_path / "report"),
        module="harness.report",
        cwd=tmp_path,
    )
    assert report.returncode == 0, report.stderr[-3000:]
    compared = (tmp_path / "report" / "comparisons.csv").read_text()
    assert "pool,tfidf-logreg|native,tfidf-logreg|native|synthetic" in compared


def _synth(cwd, *overrides, count=2, background=False):
    """harness-synth with the embedded Gemma, short generations, two a call."""
    command = [
        sys.executable,
        "-m",
        "harness.synth",
        "model.backend.max_new_tokens=96",
        f"synth.count={count}",
        "synth.batch=2",
        "synth.max_attempts=8",
        *overrides,
    ]
    if background:
        return subprocess.Popen(
            command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
        )
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=900)


@pytest.mark.model
@pytest.mark.parametrize("dataset", ["demo_fa", "demo_ur"])
def test_harness_synth_writes_a_deduplicated_labelled_pool_from_pool_seeds_only(tmp_path, dataset):
    data = ROOT / "data" / f"{dataset}.jsonl"
    done = _synth(tmp_path, f"dataset={dataset}", f"dataset.path={data}", "synth.out=pool.jsonl", "synth.min_chars=40")
    assert done.returncode == 0, done.stderr[-3000:]
    state = json.loads((tmp_path / "pool.jsonl.state.json").read_text(encoding="utf-8"))
    rows = [json.loads(line) for line in (tmp_path / "pool.jsonl").read_text(encoding="utf-8").splitlines()]
    assert rows and state["attempts"] == len(rows) + sum(state["dropped"].values())
    cell = composed_cell(f"dataset={dataset}")
    shown = {i for ids in state["shown"].values() for i in ids}
    assert shown and all(cell.split_of[i] == "pool" for i in shown)  # never a dev or test document
    for row in rows:
        assert synth.script_share(row["text"], cell.language) >= 0.6 and len(row["text"]) >= 40
        assert set(row) >= {"id", "text", *cell.task.keys}
    for a, b in zip(rows, rows[1:]):
        assert synth.rouge_l(a["text"], b["text"]) < 0.7
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    run = mlflow.search_runs(experiment_names=["harness"], output_format="list")[0]
    assert run.data.tags["harness.role"] == "synth" and run.data.metrics["synth/kept"] == len(rows)


@pytest.mark.model
def test_harness_synth_is_seeded_and_resumes_after_a_kill(tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    whole.mkdir(), killed.mkdir()
    keep_most = ("synth.out=pool.jsonl", "synth.min_chars=1", "synth.script_share=0", "synth.rouge_l=1")
    done = _synth(whole, *keep_most, count=3)  # two calls of two generations at least
    assert done.returncode == 0, done.stderr[-3000:]
    expected = (whole / "pool.jsonl").read_text(encoding="utf-8")
    attempts = json.loads((whole / "pool.jsonl.state.json").read_text(encoding="utf-8"))["attempts"]
    assert expected.count("\n") >= 2 and attempts > 2
    process = _synth(killed, *keep_most, count=3, background=True)
    deadline = time.time() + 600
    while time.time() < deadline and process.poll() is None and not (killed / "pool.jsonl.state.json").is_file():
        time.sleep(0.2)  # the first batch written
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    state = json.loads((killed / "pool.jsonl.state.json").read_text(encoding="utf-8"))
    assert state["attempts"] < attempts  # killed before the end
    assert expected.startswith((killed / "pool.jsonl").read_text(encoding="utf-8"))
    again = _synth(killed, *keep_most, count=3)
    assert again.returncode == 0, again.stderr[-3000:]
    assert (killed / "pool.jsonl").read_text(encoding="utf-8") == expected  # what the uninterrupted run wrote
    other = _synth(killed, *keep_most, "seed=7", count=3)
    assert other.returncode != 0 and "other settings (seed)" in other.stderr and "Traceback" not in other.stderr


@pytest.mark.cli
def test_another_programs_section_is_one_clear_error(tmp_path, capsys):
    done = run_harness("synth.count=3", cwd=tmp_path)  # harness, as a user would run it
    assert done.returncode == 2 and "Traceback" not in done.stderr and "run harness-synth synth.count=3" in done.stderr
    for program, override, owner in (
        ("harness", "tune.n_trials=3", "harness-tune"),
        ("harness-synth", "+tune.n_trials=3", "harness-tune"),
        ("harness-tune", "synth.count=3", "harness-synth"),
    ):
        with pytest.raises(SystemExit) as stop:
            refuse_other_sections(program, ["model=smollm2-135m", override])
        assert stop.value.code == 2 and f"run {owner} {override}" in capsys.readouterr().err
    refuse_other_sections("harness-synth", ["synth.count=3", "prompt.shots=2"])  # its own: no error


def test_a_line_cut_short_by_a_crash_is_dropped_on_resume(tmp_path):
    path = tmp_path / "pool.jsonl"
    path.write_text('{"id": "syn-00000"}\n{"id": "syn-00001"}\n{"id": "syn-0', encoding="utf-8")
    assert [r["id"] for r in synth._written(path)] == ["syn-00000", "syn-00001"]
    assert path.read_text(encoding="utf-8").endswith('"syn-00001"}\n')  # the next row starts on a line of its own


@pytest.mark.parametrize(
    "override, message",
    [
        ("synth.count=0", "synth.count=0 is out of range: it must be >= 1"),
        ("synth.rouge_l=0", "synth.rouge_l=0.0 is out of range: it must be <= 1 and > 0"),
        ("prompt.pool=synthetic", "prompt.pool=real"),
        ("model=keyword-baseline", "model=keyword-baseline: KeywordBackend writes no text"),
    ],
)
def test_bad_synth_settings_are_one_clear_error(override, message):
    from .conftest import composed

    conf, plain = composed(override, config_name="synth")
    with pytest.raises(HarnessError, match=re.escape(message)):  # before any data, model or file
        synth.synthesize(conf, plain)
