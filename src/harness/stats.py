"""Uncertainty for the report: document-level bootstrap, paired comparisons,
McNemar's test and Holm's correction. Pure functions of label arrays.

Arrays are documents x features booleans: `gold`, and `pred` with a missing
answer already counted as False (the study's rule, as in metrics.py)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.stats import binomtest

HEADLINE = ("macro_f1", "mcc", "sensitivity", "specificity", "precision")
# The verdict on a run, read off the 95% interval of its median MCC.
BETTER = "better than chance (MCC interval above 0)"
CHANCE = "no better than chance (MCC interval holds 0)"
WORSE = "worse than chance (MCC interval below 0)"
VERDICT_RULE = (
    "Each row's verdict reads the 95% interval of its median MCC: no better than chance where it holds 0 "
    "(its answers agree with the gold labels no more than chance would, at this many documents), better "
    "or worse where it lies wholly above or below 0."
)


def verdict(mcc_lo: float, mcc_hi: float) -> str:
    """A run's verdict from the 95% interval of its median MCC (VERDICT_RULE); empty where it is unknown."""
    if not (np.isfinite(mcc_lo) and np.isfinite(mcc_hi)):
        return ""
    return BETTER if mcc_lo > 0 else WORSE if mcc_hi < 0 else CHANCE


# Fewer gold positives than this and a feature's numbers say little (one
# positive found can make a perfect score); the headline median still counts it.
FEW_POSITIVES = 5


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num, dtype=float), where=den > 0)


def count_metrics(tp: np.ndarray, tn: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> dict[str, np.ndarray]:
    """Per-feature metrics from confusion counts of any shape, equal to
    metrics.feature_metrics (scikit-learn's definitions) element by element."""
    tp, tn, fp, fn = (np.asarray(a, dtype=float) for a in (tp, tn, fp, fn))
    f1_pos, f1_neg = _div(2 * tp, 2 * tp + fp + fn), _div(2 * tn, 2 * tn + fp + fn)
    # scikit-learn's macro average runs over the labels that occur in gold or prediction.
    has_pos, has_neg = (tp + fp + fn) > 0, (tn + fp + fn) > 0
    macro_f1 = _div(f1_pos * has_pos + f1_neg * has_neg, has_pos.astype(float) + has_neg)
    mcc_den = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return {
        "accuracy": _div(tp + tn, tp + tn + fp + fn),
        "precision": _div(tp, tp + fp),
        "sensitivity": _div(tp, tp + fn),
        "specificity": _div(tn, tn + fp),
        "macro_f1": macro_f1,
        "mcc": _div(tp * tn - fp * fn, mcc_den),
    }


def resample_weights(n_docs: int, n_boot: int, seed: int) -> np.ndarray:
    """n_boot x n_docs: how often each document occurs in each bootstrap sample."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n_docs, size=(n_boot, n_docs))
    weights = np.zeros((n_boot, n_docs))
    np.add.at(weights, (np.arange(n_boot)[:, None], idx), 1.0)
    return weights


def resampled(gold: np.ndarray, pred: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Per-feature metrics in each bootstrap sample (a row of weights): n_boot x features."""
    y, p = gold.astype(float), pred.astype(float)
    return count_metrics(
        weights @ (y * p), weights @ ((1 - y) * (1 - p)), weights @ ((1 - y) * p), weights @ (y * (1 - p))
    )


def medians(gold: np.ndarray, pred: np.ndarray, missing: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Per bootstrap sample: the median over features of each headline metric,
    and the missing-answer rate."""
    per_feature = resampled(gold, pred, weights)
    out = {m: np.median(per_feature[m], axis=1) for m in HEADLINE}
    out["missing_rate"] = (weights @ missing.astype(float)).sum(axis=1) / (weights.sum(axis=1) * gold.shape[1])
    return out


def interval(samples: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval."""
    lo, hi = np.percentile(samples, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


def two_sided_p(diffs: np.ndarray) -> float:
    """Bootstrap p-value of "no difference": twice the share of resampled
    differences on the far side of zero, counted as (k + 1) / (n + 1) so
    that a finite resample never claims p = 0; at most 1."""
    far = min(int(np.sum(diffs <= 0)), int(np.sum(diffs >= 0)))
    return float(min(1.0, 2 * (far + 1) / (len(diffs) + 1)))


def mcnemar(gold: Sequence[bool], pred_a: Sequence[bool], pred_b: Sequence[bool]) -> tuple[int, int, float]:
    """Exact McNemar test on one feature: (A right where B is wrong, B right
    where A is wrong, two-sided p-value)."""
    right_a = np.asarray(pred_a, dtype=bool) == np.asarray(gold, dtype=bool)
    right_b = np.asarray(pred_b, dtype=bool) == np.asarray(gold, dtype=bool)
    a_only, b_only = int((right_a & ~right_b).sum()), int((right_b & ~right_a).sum())
    if a_only + b_only == 0:
        return a_only, b_only, 1.0
    return a_only, b_only, float(binomtest(min(a_only, b_only), a_only + b_only, 0.5).pvalue)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (family-wise error), in input order;
    a missing (NaN) p-value stays missing and counts in no family."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full_like(p, np.nan)
    tested = np.flatnonzero(np.isfinite(p))
    running = 0.0
    for rank, i in enumerate(tested[np.argsort(p[tested], kind="stable")]):
        running = max(running, min(1.0, (len(tested) - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()


def over_draws(samples: np.ndarray, seed: int) -> np.ndarray:
    """Bootstrap replicates that resample example draws as well as documents:
    `samples` is draws x replicates, each draw's statistic under the same
    document resamples; replicate b averages b's values over draws picked
    with replacement. One draw: its samples unchanged."""
    n_draws, n_boot = samples.shape
    picks = np.random.default_rng(seed + 1).integers(0, n_draws, size=(n_boot, n_draws))
    return samples[picks, np.arange(n_boot)[:, None]].mean(axis=1)
