import math
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from harness import comparisons, identity, names, report
from harness.metrics import ROUTE_EFFECT_METRICS

from .conftest import run_harness

HEADLINE_METRICS = {
    "macro_f1": "median/macro_f1",
    "mcc": "median/mcc",
    "sensitivity": "median/sensitivity",
    "specificity": "median/specificity",
    "precision": "median/precision",
    "missing_rate": "missing/rate",
}


def _runs(uri: str, experiment: str) -> dict[str, mlflow.entities.Run]:
    mlflow.set_tracking_uri(uri)
    found = mlflow.get_experiment_by_name(experiment)
    return {r.info.run_name: r for r in mlflow.search_runs([found.experiment_id], output_format="list")}


@pytest.mark.model
def test_report_numbers_are_the_logged_metrics_with_intervals_around_them(small_sweep, tmp_path):
    out = tmp_path / "report"
    done = run_harness(
        "--experiment",
        small_sweep["experiment"],
        "--tracking-uri",
        small_sweep["uri"],
        "--out",
        str(out),
        "--bootstrap",
        "500",
        module="harness.report",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    runs = _runs(small_sweep["uri"], small_sweep["experiment"])

    headline = pd.read_csv(out / "headline.csv")
    assert sorted(headline["run_id"]) == sorted(runs[n].info.run_id for n in small_sweep["names"])
    assert list(headline["macro_f1"]) == sorted(headline["macro_f1"], reverse=True)
    by_id = {r.info.run_id: r for r in runs.values()}
    for _, row in headline.iterrows():
        logged = by_id[row["run_id"]].data.metrics
        for column, metric in HEADLINE_METRICS.items():
            assert row[column] == logged[metric], (row["label"], column)
            assert row[f"{column}_lo"] <= row[column] <= row[f"{column}_hi"], (row["label"], column)
        assert row["docs_per_s"] == logged["throughput/docs_per_s"]
        baseline = by_id[row["run_id"]].data.params["baseline"] == "true"
        assert row["n_docs"] == 12 and row["draws"] == 1
        assert pd.isna(row["note"]) if baseline else row["note"].startswith("one example draw")

    per_feature = pd.read_csv(out / "per_feature.csv")
    sample = per_feature.iloc[17]
    assert sample["value"] == by_id[sample["run_id"]].data.metrics[f"feature/{sample['feature']}/{sample['metric']}"]

    # Two route pairs (one per model) and two model pairs (one per route).
    comparisons = pd.read_csv(out / "comparisons.csv")
    assert sorted(comparisons["compared"]) == ["model", "model", "route", "route"]
    for _, row in comparisons.iterrows():
        a, b = runs[row["a"]], runs[row["b"]]
        assert row["delta"] == pytest.approx(b.data.metrics["median/macro_f1"] - a.data.metrics["median/macro_f1"])
        assert row["delta_lo"] <= row["delta"] <= row["delta_hi"]
        assert row["p"] <= row["p_holm"] <= 1
    features = pd.read_csv(out / "feature_comparisons.csv")
    assert len(features) == 4 * 13 and (features["p_mcnemar"] <= features["p_holm"]).all()

    for name in ("heatmap", "route_effects", "sensitivity_specificity", "mcc_missing"):
        assert (out / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 4 and "smollm2-135m|reference|1shot|score" in page

    # Logged as a run of the same experiment, which a second report leaves out.
    logged = _runs(small_sweep["uri"], small_sweep["experiment"])["report"]
    files = {f.path for f in mlflow.MlflowClient().list_artifacts(logged.info.run_id, "report")}
    assert {"report/report.html", "report/headline.csv", "report/heatmap.png"} <= files
    again = run_harness(
        "--experiment",
        small_sweep["experiment"],
        "--tracking-uri",
        small_sweep["uri"],
        "--out",
        str(tmp_path / "again"),
        "--bootstrap",
        "50",
        "--no-log",
        module="harness.report",
        cwd=tmp_path,
    )
    assert again.returncode == 0 and len(pd.read_csv(tmp_path / "again" / "headline.csv")) == 4


@pytest.mark.cli
def test_unknown_experiment_is_one_clear_error(tmp_path):
    done = run_harness(
        "--experiment",
        "nope",
        "--tracking-uri",
        f"sqlite:///{tmp_path}/mlflow.db",
        module="harness.report",
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("harness-report: error: no experiment named 'nope'")
    assert "Traceback" not in done.stderr


def _raw(pred_pain, logged_f1):
    rows = [{"id": str(i), "gold": {"pain": i < 2}, "pred": {"pain": v}} for i, v in enumerate(pred_pain)]
    return {
        "run_id": "r",
        "name": "m|native|0shot",
        "params": {"model": "m", "route": "native", "shots": "0"},
        "metrics": {"median/macro_f1": logged_f1},
        "predictions": rows,
    }


def test_predictions_that_disagree_with_the_logged_metrics_get_no_interval():
    good = report.Run(_raw([True, True, False, None], logged_f1=1.0))
    assert good.problem is None and good.missing[3, 0] and not good.pred[3, 0]
    stale = report.Run(_raw([True, False, False, False], logged_f1=1.0))
    assert "logged 1.0000" in stale.problem
    row = report.headline([[stale]], n_boot=20, seed=0).iloc[0]
    assert row["macro_f1"] == 1.0 and math.isnan(row["macro_f1_lo"]) and "predictions.jsonl" in row["note"]
    gone = report.Run({**_raw([], 1.0), "predictions": None})
    assert gone.problem == "predictions.jsonl is missing or empty"


@pytest.mark.model
def test_report_console_script(small_sweep, tmp_path):
    """The installed `harness-report` command, as a user types it, on a real sweep."""
    script = Path(sys.executable).parent / "harness-report"
    done = subprocess.run(
        [
            str(script),
            "--experiment",
            small_sweep["experiment"],
            "--tracking-uri",
            small_sweep["uri"],
            "--out",
            str(tmp_path / "r"),
            "--bootstrap",
            "50",
            "--no-log",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    headline = pd.read_csv(tmp_path / "r" / "headline.csv")
    assert sorted(headline["label"]) == sorted(small_sweep["names"])
    assert (tmp_path / "r" / "report.html").is_file()
    printed = done.stdout.splitlines()
    assert printed[0].split() == ["run", "docs", "macro-F1", "[95%", "CI]", "MCC", "[95%", "CI]", "missing", "docs/s"]
    for _, row in headline.iterrows():  # every run on a line of its own, with its numbers
        line = next(line for line in printed if line.startswith(row["label"] + " "))
        assert f"{row['macro_f1']:.3f} [{row['macro_f1_lo']:.3f}, {row['macro_f1_hi']:.3f}]" in line


def test_headline_text_marks_runs_no_better_than_chance():
    row = {
        "label": "m|native|3shot",
        "n_docs": 40,
        "missing_rate": 0.0,
        "docs_per_s": 2.0,
        **{f"{m}{end}": v for m in ("macro_f1", "mcc") for end, v in (("", 0.5), ("_lo", -0.1), ("_hi", 0.2))},
    }
    rows = [row, {**row, "label": "b", "mcc_lo": 0.05}, {**row, "label": "w", "mcc_hi": -0.01}]
    chance, signal, worse = report.headline_text(pd.DataFrame(rows)).splitlines()[1:]
    assert chance.startswith("m|native|3shot") and "no better than chance" in chance
    assert signal.startswith("b ") and signal.endswith("better than chance (MCC interval above 0)")
    assert worse.startswith("w ") and worse.endswith("worse than chance (MCC interval below 0)")


def _cell(model, route, translator=None, seed=42, baseline=False, shots=1, batch_size=8):
    """A run whose comparison keys come from harness.identity, as `harness` logs them."""
    plain = {
        "model": {"name": model, "backend": {"_target_": model, "batch_size": batch_size}},
        "route": {"name": route, "prompt_language": "source"},
        "seed": seed,
        "prompt": {"name": "json", "shots": shots, "pool": "real"},
        "dataset": {"name": "d", "path": "d.csv"},
        "translator": {"model": {"name": translator, "backend": {"_target_": translator}}},
    }
    ident = identity.cell_identity(
        plain,
        reads_prompt=not baseline,
        learns_from_pool=False,
        translates=translator is not None,
        dataset_digest="x",
        pool_digest=None,
        shot_ids=[] if baseline else [str(seed)] * shots,
    )
    params = {
        "model": model,
        "route": route,
        "shots": "0" if baseline else str(shots),
        "seed": str(seed),
        "baseline": str(baseline).lower(),
        **{names.COMPARISON_KEYS[k]: v for k, v in identity.comparison_keys(ident).items()},
    }
    if translator:
        params["translator.model.name"] = translator
    rows = [{"id": "1", "gold": {"pain": True}, "pred": {"pain": True}}]
    return report.Run(
        {
            "run_id": f"{model}{route}{translator}{seed}",
            "name": f"{model}|{route}|{shots}shot",
            "params": params,
            "metrics": {"median/macro_f1": 1.0, "feature/pain/macro_f1": 0.5},
            "predictions": rows,
        }
    )


def test_pairs_differ_in_exactly_what_they_compare():
    runs = [
        _cell("a", "native"),
        _cell("a", "translate", "aya"),
        _cell("a", "translate", "smol"),
        _cell("b", "translate", "aya"),
        _cell("b", "native", seed=7),
        _cell("b", "native", shots=2),
    ]
    report.label_runs(runs)
    found = {(kind, a.label, b.label) for kind, a, b in comparisons.pairs(runs)}
    assert found == {
        ("route", "a|native|1shot", "a|translate|1shot|translator.model.name=aya"),
        ("route", "a|native|1shot", "a|translate|1shot|translator.model.name=smol"),
        ("model", "a|translate|1shot|translator.model.name=aya", "b|translate|1shot"),
    }  # not two translators as a "route" pair, nor models on different translators, seeds or shots


def test_a_baseline_pairs_with_a_model_whatever_its_prompt():
    runs = [
        _cell("a", "native"),
        _cell("a", "native", seed=7),
        _cell("kw", "native", baseline=True),
        _cell("kw", "reference", baseline=True),
    ]
    report.label_runs(runs)
    found = {
        (kind, a.params["model"], a.params["seed"], b.params["model"], b.params["route"])
        for kind, a, b in comparisons.pairs(runs)
    }
    # Both seeds of model a against the baseline on its route; the baseline against itself on another route.
    assert found == {
        ("model", "a", "42", "kw", "native"),
        ("model", "a", "7", "kw", "native"),
        ("route", "kw", "42", "kw", "reference"),
    }
    effects = comparisons.route_effects(runs)
    assert set(effects["metric"]) == set(ROUTE_EFFECT_METRICS) and list(effects["route_a"].unique()) == ["native"]
    assert effects.set_index("metric").loc["macro_f1", "delta"] == 0.0


def test_a_setting_that_changes_no_prediction_does_not_split_a_pair():
    runs = [_cell("a", "native", batch_size=1), _cell("a", "translate", "aya", batch_size=32)]
    assert [kind for kind, *_ in comparisons.pairs(runs)] == ["route"]  # batch_size is not part of a cell


def test_labels_stay_unique():
    """Two draws of one cell share a label; runs of the same name apart from
    them get the settings that differ, then their run ids."""
    runs = [_cell("a", "native"), _cell("a", "native", seed="7")]
    for run_id, chunks in (("0123456789", "8"), ("9876543210", "16")):  # logged without comparison keys
        params = {"model": "a", "route": "native", "shots": "1", "seed": "5", "chunk_size": chunks}
        runs.append(report.Run({**_raw([True], 1.0), "run_id": run_id, "name": "a|native|1shot", "params": params}))
    grouped = report.label_runs(runs)
    labels = [r.label for r in runs]
    assert [len(g) for g in grouped] == [2, 1, 1]
    assert labels[:2] == ["a|native|1shot (2 draws)"] * 2
    assert labels[2:] == ["a|native|1shot|seed=5|01234567", "a|native|1shot|seed=5|98765432"]


@pytest.mark.cli
@pytest.mark.parametrize(
    "args, message",
    [
        (["--experiment", "empty"], "experiment 'empty' has no finished harness runs"),
        (["--experiment", "empty", "--bootstrap", "0"], "--bootstrap must be at least 1"),
    ],
)
def test_nothing_to_report_is_one_clear_error(tmp_path, args, message):
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    mlflow.create_experiment("empty")
    done = run_harness(
        *args, "--tracking-uri", f"sqlite:///{tmp_path}/mlflow.db", module="harness.report", cwd=tmp_path
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert message in done.stderr.strip().splitlines()[-1]
