"""What the report page tells a reviewer beyond the numbers: each feature's
support and interval, a verdict and its rule, links back to MLflow, the
study's published scale. In-process, on runs built from literal labels."""

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score, matthews_corrcoef

from harness import metrics, report

N_DOCS, N_BOOT, SEED = 30, 100, 0
GOLD = {
    "pain": [i % 5 < 2 for i in range(N_DOCS)],  # 12 positives
    "seizures": [i == 7 for i in range(N_DOCS)],  # 1: too few to judge
}


def _raw(run_id: str, pred: dict, baseline: bool = False, docs_per_s: float = 1234.5) -> dict:
    keys = list(GOLD)
    gold = [{k: GOLD[k][i] for k in keys} for i in range(N_DOCS)]
    answers = [{k: pred[k][i] for k in keys} for i in range(N_DOCS)]
    logged = metrics.summarize(metrics.score(gold, answers, keys), N_DOCS)
    return {
        "run_id": run_id,
        "experiment_id": "7",
        "name": f"{run_id}|native|3shot",
        "params": {
            "model": run_id,
            "route": "native",
            "shots": "3",
            "prompt": "default",
            "baseline": "true" if baseline else "false",
            "protocol": "harness",
            "protocol_departures": "parser",
        },
        "metrics": {**logged, "throughput/docs_per_s": docs_per_s},
        "predictions": [{"id": str(i), "gold": gold[i], "pred": answers[i]} for i in range(N_DOCS)],
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    good = {k: [g != (i in (3, 11)) for i, g in enumerate(v)] for k, v in GOLD.items()}
    chance = {k: [i % 2 == 0 for i in range(N_DOCS)] for k in GOLD}  # whatever the document says
    raw = [_raw("good", good, baseline=True), _raw("chance", chance, docs_per_s=0.8)]
    out = tmp_path_factory.mktemp("report")
    files, tables = report.build(raw, out, experiment="screens", n_boot=N_BOOT, seed=SEED, ui="http://ui:5000")
    return raw, files, tables


def test_each_feature_has_its_support_and_an_interval_computed_independently(built):
    raw, _, tables = built
    rows = tables["per_feature"]
    assert set(rows.query("feature == 'pain'")["n_pos"]) == {12}
    assert set(rows.query("feature == 'seizures'")["n_pos"]) == {1}
    # The same document resamples as the report's (one seeded draw of indices), scored by scikit-learn.
    idx = np.random.default_rng(SEED).integers(0, N_DOCS, size=(N_BOOT, N_DOCS))
    for run in raw:
        for key in GOLD:
            gold = np.array([r["gold"][key] for r in run["predictions"]])
            pred = np.array([bool(r["pred"][key]) for r in run["predictions"]])
            for name, fn in (
                ("macro_f1", lambda y, p: f1_score(y, p, average="macro", zero_division=0)),
                ("mcc", matthews_corrcoef),
            ):
                with np.errstate(all="ignore"):
                    samples = [fn(gold[i], pred[i]) for i in idx]
                lo, hi = np.percentile(samples, [2.5, 97.5])
                row = rows.query(f"label == '{run['name']}' and feature == '{key}' and metric == '{name}'").iloc[0]
                assert (row["lo"], row["hi"]) == pytest.approx((lo, hi)), (run["name"], key, name)
                assert row["lo"] <= row["value"] <= row["hi"]
    assert rows.query("metric == 'accuracy'")["lo"].isna().all()  # intervals for macro-F1 and MCC only


def test_the_page_says_support_verdict_and_scale_and_links_each_run(built):
    raw, files, tables = built
    page = files["report.html"].read_text(encoding="utf-8")
    assert "seizures<small>n+ 1: too few</small>" in page and "pain<small>n+ 12</small>" in page
    assert page.index("pain<small>") < page.index("seizures<small>")  # definition order, not alphabetical
    assert "<th>feature</th>" not in page  # no stray pivot header
    assert "<td>no better than chance</td>" in page and "where it holds 0 (its answers agree" in page
    for run in raw:
        assert f'href="http://ui:5000/#/experiments/7/runs/{run["run_id"]}"' in page
    assert 'href="http://ui:5000/#/experiments/7/runs?viewStateShareKey=harness-headline"' in page
    assert "1,234" in page and "e+03" not in page  # docs/s as a number, not in scientific notation
    assert "Qwen2.5-7B-Instruct" in page and "0.899" in page and "Not comparable run for run" in page
    headline = tables["headline"].set_index("model")
    assert headline.loc["good", "prompt"] == "" and headline.loc["chance", "prompt"] == "default"
    assert headline.loc["chance", "verdict"] == report.stats.CHANCE
    assert headline.loc["good", "verdict"] == report.stats.BETTER
    assert headline.loc["good", "departures"] == "parser"
    assert re.search(r"<code>harness</code> where some depart", page)


def test_the_terminal_headline_and_the_page_give_the_same_verdict(built):
    _, _, tables = built
    text = report.headline_text(tables["headline"])
    chance_line = next(line for line in text.splitlines() if line.startswith("chance|"))
    assert chance_line.endswith(report.stats.CHANCE)
    assert isinstance(tables["headline"], pd.DataFrame)


def test_the_predictions_table_names_its_answer_and_shows_what_the_model_read():
    from harness import tracking
    from harness.records import Prediction, RunResult

    rows = [
        Prediction(
            "d1",
            "test",
            "{pain: True, fever: False}",
            {"pain": True, "fever": False},
            {"pain": True, "fever": True},
            prob={"pain": 0.91234567, "fever": 0.2},
        ),
        Prediction(
            "d2",
            "test",
            "{pain: False, fever: False}",
            {"pain": False, "fever": False},
            {"pain": False, "fever": False},
            prob={"pain": 0.1, "fever": 0.3},
        ),
    ]
    result = RunResult(rows, {}, {}, [], texts={"d1": "درد دارم", "d2": "تب ندارم"}, answer_kind="answer_from_scores")
    full = tracking.predictions_table(result, "full").set_index("id")
    assert "answer" not in full and full.loc["d1", "answer_from_scores"] == "{pain: True, fever: False}"
    assert full.loc["d1", "text"] == "درد دارم" and full.loc["d1", "pain_p"] == 0.9123
    assert (full.loc["d1", "wrong"], full.loc["d2", "wrong"]) == ("fever", "")
    assert (full.loc["d1", "right"], full.loc["d2", "right"]) == (1, 2)
    hidden = tracking.predictions_table(result, "none")
    assert hidden["text"].isna().all() and hidden["answer_from_scores"].isna().all()
    assert tracking.predictions_table(result, "hashed")["text"].str.startswith("sha256:").all()


def test_each_run_and_the_report_run_describe_themselves_in_mlflow(workdir, monkeypatch):
    """The MLflow description of a run (its note): the headline with intervals
    as the report computes them, the verdict, the protocol in words; the
    report run's note holds the headline table and where report.html is."""
    import mlflow
    from omegaconf import OmegaConf

    from harness import cli
    from harness.config import typed

    from .conftest import compose_config, store_overrides, store_runs

    monkeypatch.chdir(workdir)
    cfg = compose_config(*store_overrides(workdir), "model=keyword-baseline", "dataset.limit=12")
    cli.run_typed(*typed(cfg), OmegaConf.to_yaml(cfg))
    run = store_runs(workdir).iloc[0]
    note = run["tags.mlflow.note.content"]
    assert note.startswith(f"**{run['tags.mlflow.runName']}**: median macro-F1 {run['metrics.median/macro_f1']:.3f} [")
    assert "Verdict: " in note and "Scored 12 test documents of demo_fa" in note
    assert "no language model (a baseline)" in note  # its prompt and answer elements do not apply
    assert note.count("it scores a split or the first documents, not every document") == 1
    assert run["params.protocol"] == "baseline" and run["params.protocol_departures"] == "scored_set"
    assert "params.mode" not in run or run.isna()["params.mode"]  # reads no prompt: neither scores nor generates

    uri = f"sqlite:///{workdir}/mlruns/mlflow.db"
    report.main(["--experiment", "harness", "--tracking-uri", uri, "--out", str(workdir / "rep"), "--bootstrap", "200"])
    mlflow.set_tracking_uri(uri)
    logged = mlflow.search_runs(search_all_experiments=True, filter_string="tags.`harness.role` = 'report'")
    report_note = logged.iloc[0]["tags.mlflow.note.content"]
    assert "`report/report.html`" in report_note and "| run | docs | macro-F1 [95% CI] |" in report_note
    assert run["tags.mlflow.runName"] in report_note


def test_documents_side_by_side_data_and_no_markup_from_text(built):
    """One row per document scored by any run, each run's predictions (None
    where missing) or None where it did not score it; a document's text can
    not close the page's script."""
    from harness import documents

    raw, _, _ = built
    first = {**raw[0], "predictions": [dict(p) for p in raw[0]["predictions"]]}
    first["predictions"][0]["text"] = "</script><b>x</b>"
    first["predictions"][1]["pred"] = {**first["predictions"][1]["pred"], "pain": None}
    second = {**raw[1], "predictions": raw[1]["predictions"][:10]}  # scored only the first 10
    runs = [report.Run(first), report.Run(second)]
    data = documents.table_data(runs)
    assert data["features"] == list(GOLD) and len(data["docs"]) == N_DOCS
    by_id = {d["id"]: d for d in data["docs"]}
    assert by_id["1"]["runs"][0]["pred"][0] is None  # missing, not false
    assert by_id["20"]["runs"][1] is None and by_id["5"]["runs"][1]["pred"] == [i % 2 == 0 for i in [5, 5]]
    assert by_id["0"]["text"] == "</script><b>x</b>"
    html = documents.section(runs)
    assert "</script><b>" not in html and "<\\/script><b>x<\\/b>" in html
