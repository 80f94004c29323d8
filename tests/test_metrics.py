import math

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef, precision_score, recall_score

from harness.metrics import feature_metrics, latency_summary, score, summarize

GOLD = [True, True, False, False, True, False, False, False]
PRED = [True, None, False, True, True, False, None, False]


def test_matches_scikit_learn_with_missing_as_false():
    m = feature_metrics(GOLD, PRED)
    p = [bool(v) for v in PRED]
    assert m["accuracy"] == pytest.approx(accuracy_score(GOLD, p))
    assert m["precision"] == pytest.approx(precision_score(GOLD, p))
    assert m["sensitivity"] == pytest.approx(recall_score(GOLD, p))
    assert m["specificity"] == pytest.approx(recall_score(GOLD, p, pos_label=False))
    assert m["macro_f1"] == pytest.approx(f1_score(GOLD, p, average="macro"))
    assert m["mcc"] == pytest.approx(matthews_corrcoef(GOLD, p))
    assert m["missing"] == 2


def test_literal_values():
    # tp=2 fp=1 fn=1 tn=4
    m = feature_metrics(GOLD, PRED)
    assert (m["accuracy"], m["precision"], m["sensitivity"], m["specificity"]) == (6 / 8, 2 / 3, 2 / 3, 4 / 5)
    assert (m["n_pos"], m["n_pred"]) == (3, 3)  # gold positives; predicted ones (missing counts as false)


def test_feature_absent_and_never_predicted_scores_one_as_the_study_did():
    m = feature_metrics([False] * 5, [False] * 5)
    assert m["macro_f1"] == 1.0  # averages over the labels present only
    assert m["precision"] == 0.0 and m["sensitivity"] == 0.0 and m["mcc"] == 0.0
    assert m["specificity"] == 1.0


def test_all_missing_is_defined_not_nan():
    m = feature_metrics([True, False, True], [None, None, None])
    assert all(not math.isnan(v) for v in m.values())
    assert m["missing"] == 3 and m["sensitivity"] == 0.0 and m["specificity"] == 1.0


def test_no_warnings_on_degenerate_input(recwarn):
    feature_metrics([True, True], [True, True])
    feature_metrics([], [])
    assert len(recwarn) == 0


def test_summary_is_median_and_mean_over_features():
    gold = [{"a": True, "b": False, "c": True}, {"a": False, "b": False, "c": True}]
    pred = [{"a": True, "b": True, "c": None}, {"a": False, "b": False, "c": True}]
    per = score(gold, pred, ["a", "b", "c"])
    s = summarize(per, n_docs=2)
    f1 = [per[k]["macro_f1"] for k in "abc"]
    assert s["median/macro_f1"] == pytest.approx(float(np.median(f1)))
    assert s["mean/macro_f1"] == pytest.approx(float(np.mean(f1)))
    assert s["feature/c/missing"] == 1 and s["missing/count"] == 1
    assert s["missing/rate"] == pytest.approx(1 / 6)
    assert set(s) >= {
        f"{agg}/{m}"
        for agg in ("median", "mean")
        for m in ("accuracy", "precision", "sensitivity", "specificity", "macro_f1", "mcc")
    }


def test_latency_summary():
    s = latency_summary([0.1, 0.2, 0.3, 0.4], gen_tokens=100, wall_s=1.0)
    assert s["latency/ms_per_doc_p50"] == pytest.approx(250.0)
    assert s["throughput/docs_per_s"] == 4.0 and s["throughput/gen_tokens_per_s"] == 100.0
