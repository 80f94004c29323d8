"""The synthetic example pool: harness-synth's filters and plans (pure), the
pool's use by runs and the report (a planted pool file, the real CLI), and
harness-synth itself with the embedded Gemma model: Persian and Urdu,
determinism under a seed, resume after a kill, seeds only from the pool."""

import json
import os
import signal
import subprocess
import sys
import time

import mlflow
import pytest

from harness import synth
from harness.errors import HarnessError

from .conftest import DEMO, ROOT, composed_cell, run_harness

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


@pytest.mark.parametrize("text, language, reason", [
    ("", "fa", "empty"), ("سلام", "fa", "too_short"),
    ("Operator: hello. Caller: my mother has a fever and cannot breathe well, no pain.", "fa", "wrong_script"),
    (FA, "fa", None), (UR, "ur", None), (FA, "en", "wrong_script"),
])
def test_empty_short_and_wrong_script_texts_are_dropped(text, language, reason):
    assert synth.rejection(text, [], [], language, min_chars=20, script=0.6, threshold=0.7) == reason


def test_label_plans_are_seeded_and_cover_every_feature_first():
    keys = ["a", "b", "c"]
    rates = {"a": 0.0, "b": 0.0, "c": 0.0}  # never on by chance: only the covering turns one on
    assert [synth.plan_labels(i, keys, rates, 1) for i in range(4)] == [
        {"a": True, "b": False, "c": False}, {"a": False, "b": True, "c": False},
        {"a": False, "b": False, "c": True}, {"a": False, "b": False, "c": False}]
    half = {k: 0.5 for k in keys}
    assert synth.plan_labels(9, keys, half, 1) == synth.plan_labels(9, keys, half, 1)
    assert any(synth.plan_labels(i, keys, half, 1) != synth.plan_labels(i, keys, half, 2) for i in range(3, 12))


def test_clean_keeps_one_transcript():
    assert synth.clean("```\nCall 3: " + FA + "\n\nCall 4: something else```") == FA


def _planted_pool(tmp_path, demo_rows, n=24):
    """A stand-in for harness-synth's output: pool-shaped rows with new ids."""
    path = tmp_path / "synthetic.jsonl"
    rows = [{**{k: v for k, v in r.items() if k not in ("id", "translation_en")}, "id": f"syn-{i:05d}"}
            for i, r in enumerate(demo_rows[-n:])]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_a_synthetic_pool_supplies_the_examples_and_the_real_pool_becomes_evaluable(tmp_path, demo_rows):
    path = _planted_pool(tmp_path, demo_rows)
    real = composed_cell("split.evaluate=nonpool")
    cell = composed_cell("prompt.pool=synthetic", f"prompt.pool_file={path}", "split.evaluate=nonpool",
                         "prompt.selection=balanced")
    assert all(d.id.startswith("syn-") for d in cell.shots + cell.pool) and len(cell.pool) == 24
    real_pool = {d.id for d in real.pool}
    assert {d.id for d in cell.evaluated} == {d.id for d in real.evaluated} | real_pool  # spare pool now scored
    assert not any(d.id.startswith("syn-") for d in cell.evaluated)
    test = composed_cell("prompt.pool=synthetic", f"prompt.pool_file={path}")
    assert [d.id for d in test.evaluated] == [d.id for d in composed_cell().evaluated]  # dev and test stay real


@pytest.mark.parametrize("overrides, message", [
    (["prompt.pool=synthetic"], "prompt.pool_file"),
    (["prompt.pool=synthetic", "prompt.pool_file=/nonexistent.jsonl"], "prompt.pool_file"),
    (["prompt.pool=synthetic", "prompt.pool_file={path}", "route=reference"], "route=native or translate"),
])
def test_bad_synthetic_pool_settings_are_one_clear_error(tmp_path, demo_rows, overrides, message):
    path = _planted_pool(tmp_path, demo_rows)
    with pytest.raises(HarnessError, match=message):
        composed_cell(*(o.format(path=path) for o in overrides))


@pytest.mark.slow
def test_a_sweep_over_real_and_synthetic_pools_is_compared_in_the_report(tmp_path, demo_rows):
    path = _planted_pool(tmp_path, demo_rows, n=60)
    state = {"settings": {"generator": "gemma3-270m"}}
    (tmp_path / "synthetic.jsonl.state.json").write_text(json.dumps(state), encoding="utf-8")
    done = run_harness("-m", "model=tfidf-logreg", "prompt.pool=real,synthetic", f"prompt.pool_file={path}",
                       "dataset.limit=40", "tracking.experiment=pools", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    runs = {r.info.run_name: r for r in mlflow.search_runs(experiment_names=["pools"], output_format="list")}
    assert set(runs) == {"tfidf-logreg|native", "tfidf-logreg|native|synthetic"}
    synthetic = runs["tfidf-logreg|native|synthetic"].data
    assert synthetic.params["pool"] == "synthetic" and synthetic.params["pool_generator"] == "gemma3-270m"
    assert len(synthetic.params["pool_digest"]) >= 12 and synthetic.tags["pool"] == "synthetic"
    assert runs["tfidf-logreg|native"].data.params["prompt.pool_file"] == "None"  # not read: not a setting
    report = run_harness("--experiment", "pools", "--tracking-uri", f"sqlite:///{tmp_path}/mlruns/mlflow.db",
                         "--out", str(tmp_path / "report"), module="harness.report", cwd=tmp_path)
    assert report.returncode == 0, report.stderr[-3000:]
    compared = (tmp_path / "report" / "comparisons.csv").read_text()
    assert "pool,tfidf-logreg|native,tfidf-logreg|native|synthetic" in compared


def _synth(cwd, *overrides, background=False):
    command = [sys.executable, "-m", "harness.synth", "model.backend.max_new_tokens=96", "synth.count=3",
               "synth.batch=2", "synth.max_attempts=6", "synth.min_chars=40", *overrides]
    if background:
        return subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["demo_fa", "demo_ur"])
def test_harness_synth_writes_a_deduplicated_labelled_pool_from_pool_seeds_only(tmp_path, dataset):
    data = ROOT / "data" / f"{dataset}.jsonl"
    done = _synth(tmp_path, f"dataset={dataset}", f"dataset.path={data}", "synth.out=pool.jsonl")
    assert done.returncode == 0, done.stderr[-3000:]
    state = json.loads((tmp_path / "pool.jsonl.state.json").read_text(encoding="utf-8"))
    rows = [json.loads(line) for line in (tmp_path / "pool.jsonl").read_text(encoding="utf-8").splitlines()]
    assert state["attempts"] == len(rows) + sum(state["dropped"].values())
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


@pytest.mark.slow
def test_harness_synth_is_seeded_and_resumes_after_a_kill(tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    whole.mkdir(), killed.mkdir()
    done = _synth(whole, "synth.out=pool.jsonl", "synth.min_chars=1", "synth.script_share=0")
    assert done.returncode == 0, done.stderr[-3000:]
    expected = (whole / "pool.jsonl").read_text(encoding="utf-8")
    assert expected.count("\n") == 3
    process = _synth(killed, "synth.out=pool.jsonl", "synth.min_chars=1", "synth.script_share=0", background=True)
    deadline = time.time() + 600
    while time.time() < deadline and process.poll() is None and not (killed / "pool.jsonl.state.json").is_file():
        time.sleep(0.2)  # the first batch written
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    partial = (killed / "pool.jsonl").read_text(encoding="utf-8")
    assert 0 < partial.count("\n") < 3 and expected.startswith(partial)
    again = _synth(killed, "synth.out=pool.jsonl", "synth.min_chars=1", "synth.script_share=0")
    assert again.returncode == 0, again.stderr[-3000:]
    assert (killed / "pool.jsonl").read_text(encoding="utf-8") == expected
    other = _synth(killed, "synth.out=pool.jsonl", "synth.min_chars=1", "synth.script_share=0", "seed=7")
    assert other.returncode != 0 and "other settings (seed)" in other.stderr and "Traceback" not in other.stderr
