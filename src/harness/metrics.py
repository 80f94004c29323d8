"""Per-feature metrics and their summaries, computed as the reference
study's code computed them (its scikit-learn calls; its medians rounded each
value to 4 decimals first, these do not). Pure functions of gold labels and
predictions."""

from __future__ import annotations

import statistics
import warnings
from typing import Mapping, Optional, Sequence

import numpy as np
from sklearn.metrics import average_precision_score, f1_score, matthews_corrcoef, roc_auc_score

METRICS = ("accuracy", "precision", "sensitivity", "specificity", "macro_f1", "mcc")


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def feature_metrics(gold: Sequence[bool], pred: Sequence[Optional[bool]]) -> dict[str, float]:
    """Metrics for one feature. A missing prediction (None) counts as False,
    as in the study, and is also counted under `missing`. `n_pos` and
    `n_pred` are the gold and predicted positives: the support a reader
    needs to judge the rest (one positive makes a perfect score easy)."""
    y = np.asarray(gold, dtype=bool)
    p = np.asarray([bool(v) for v in pred], dtype=bool)
    tp, tn = int((y & p).sum()), int((~y & ~p).sum())
    fp, fn = int((~y & p).sum()), int((y & ~p).sum())
    with warnings.catch_warnings():
        # sklearn warns when only one label occurs; the values it returns
        # then are the ones the study reported, so the warning is noise here.
        warnings.simplefilter("ignore")
        macro_f1 = float(f1_score(y, p, average="macro", zero_division=0)) if len(y) else 0.0
        mcc = float(matthews_corrcoef(y, p)) if len(y) else 0.0
    return {
        "accuracy": _ratio(tp + tn, len(y)),
        "precision": _ratio(tp, tp + fp),
        "sensitivity": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
        "macro_f1": macro_f1,
        "mcc": mcc,
        "missing": float(sum(v is None for v in pred)),
        "n_pos": float(tp + fn),
        "n_pred": float(tp + fp),
    }


def ranking_metrics(gold: Sequence[bool], prob: Sequence[float]) -> dict[str, float]:
    """ROC-AUC and PR-AUC (average precision) of P(true); empty when only one
    class occurs, where neither is defined."""
    if len(set(gold)) < 2:
        return {}
    return {"roc_auc": float(roc_auc_score(gold, prob)), "pr_auc": float(average_precision_score(gold, prob))}


def best_threshold(gold: Sequence[bool], prob: Sequence[float], default: float = 0.5) -> float:
    """The threshold on P(true) (true above it) that maximises this feature's
    macro-F1 over these documents: one between two neighbouring distinct
    probabilities, below them all, or the default; of equals, the nearest
    the default. The default where only one class occurs."""
    if len(set(gold)) < 2:
        return default
    ps = sorted(set(prob))
    candidates = [default, ps[0] - 1e-9, *((a + b) / 2 for a, b in zip(ps, ps[1:]))]
    best = max(candidates, key=lambda t: (feature_metrics(gold, [p > t for p in prob])["macro_f1"], -abs(t - default)))
    return float(best)


def score(
    gold: Sequence[Mapping[str, bool]],
    pred: Sequence[Mapping[str, Optional[bool]]],
    keys: Sequence[str],
    prob: Optional[Sequence[Mapping[str, float]]] = None,
) -> dict[str, dict[str, float]]:
    """feature key -> its metrics, over aligned lists of per-document labels
    (and, in score mode, per-document probabilities)."""
    out = {k: feature_metrics([g[k] for g in gold], [p[k] for p in pred]) for k in keys}
    if prob is not None:
        for k in keys:
            out[k].update(ranking_metrics([g[k] for g in gold], [p[k] for p in prob]))
    return out


def summarize(per_feature: Mapping[str, Mapping[str, float]], n_docs: int) -> dict[str, float]:
    """Flat MLflow metrics: median/<m>, mean/<m>, feature/<key>/<m>, missing/*.
    The study's headline is the median over features."""
    out: dict[str, float] = {}
    for m in METRICS + ("roc_auc", "pr_auc"):
        values = [f[m] for f in per_feature.values() if m in f]
        if m not in METRICS and not values:
            continue
        out[f"median/{m}"] = float(statistics.median(values)) if values else 0.0
        out[f"mean/{m}"] = float(statistics.fmean(values)) if values else 0.0
    for key, f in per_feature.items():
        for m, v in f.items():
            out[f"feature/{key}/{m}"] = v
    missing = sum(f["missing"] for f in per_feature.values())
    out["missing/count"] = missing
    out["missing/rate"] = _ratio(missing, n_docs * len(per_feature))
    return out


def latency_summary(latencies_s: Sequence[float], gen_tokens: int, wall_s: float) -> dict[str, float]:
    """Per-document latency percentiles and throughput over the backend calls."""
    ms = np.asarray(latencies_s, dtype=float) * 1000.0
    return {
        "latency/ms_per_doc_p50": float(np.percentile(ms, 50)) if len(ms) else 0.0,
        "latency/ms_per_doc_p95": float(np.percentile(ms, 95)) if len(ms) else 0.0,
        "throughput/docs_per_s": _ratio(len(ms), wall_s),
        "throughput/gen_tokens_per_s": _ratio(gen_tokens, wall_s),
    }


ROUTE_EFFECT_METRICS = ("sensitivity", "specificity", "macro_f1", "mcc", "missing")


def route_effects(
    this: Mapping[str, Mapping[str, float]], other: Mapping[str, Mapping[str, float]]
) -> list[dict[str, float | str]]:
    """Per feature and metric: this route's value, the other's, and this minus
    other - the study's "translation effects", one row per (feature, metric)."""
    rows = []
    for key in this:
        if key in other:
            for m in ROUTE_EFFECT_METRICS:
                rows.append(
                    {
                        "feature": key,
                        "metric": m,
                        "this": this[key][m],
                        "other": other[key][m],
                        "delta": this[key][m] - other[key][m],
                    }
                )
    return rows
