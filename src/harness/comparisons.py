"""The report's comparisons: which runs pair (equal comparison keys,
harness.identity), and the paired differences between them - bootstrap
intervals, McNemar's test, Holm's correction, the study's route effects.
Two groups of example draws pair draw by draw and are averaged over draws."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from . import metrics, names, stats

if TYPE_CHECKING:
    from .report import Run

ROUTE_ORDER = {"native": 0, "translate": 1, "reference": 2}  # A is the earlier route in a comparison


def pairs(runs: list[Run]) -> list[tuple[str, Run, Run]]:
    """(what differs, A, B) for every two runs that differ only in the route,
    only in the model, or only in the example pool (real against synthetic):
    equal comparison keys (harness.identity), different values. Two models
    pair only where they read the same prompt; a baseline reads none, so it
    pairs with a model whatever the model's prompt settings."""
    out = []
    for kind in (names.ROUTE, names.MODEL, names.POOL):
        key = names.COMPARISON_KEYS[kind]
        order = _route_order if kind == names.ROUTE else (lambda r, kind=kind: r.params.get(kind) or "")
        groups: dict[str, list[Run]] = {}
        for r in runs:
            if r.params.get(key):
                groups.setdefault(r.params[key], []).append(r)
        for group in groups.values():
            out += [
                (kind, a, b)
                for a, b in itertools.combinations(sorted(group, key=order), 2)
                if a.params.get(kind) != b.params.get(kind) and (kind != names.MODEL or _same_prompt(a, b))
            ]
    return out


def _route_order(r: Run) -> tuple[int, str]:
    """A is the earlier route of a pair (native, translate, reference); models
    and pools pair in name order (real before synthetic)."""
    return ROUTE_ORDER.get(r.params[names.ROUTE], 9), r.params[names.ROUTE]


def _same_prompt(a: Run, b: Run) -> bool:
    prompt = names.COMPARISON_KEYS["prompt"]
    return any(r.params.get(names.BASELINE) == "true" for r in (a, b)) or a.params.get(prompt) == b.params.get(prompt)


def draw_pairs(runs: list[Run]) -> list[tuple[str, list[tuple[Run, Run]]]]:
    """`pairs`, with the pairs of two groups of draws together: (what
    differs, [(A, B) for each draw both groups ran])."""
    out: dict[tuple[str, str, str], list[tuple[Run, Run]]] = {}
    for kind, a, b in pairs(runs):
        out.setdefault((kind, a.label, b.label), []).append((a, b))
    return [(kind, ab) for (kind, _, _), ab in out.items()]


def route_effects(runs: list[Run]) -> pd.DataFrame:
    """The study's "translation effects": for every two setups that differ
    only in the route, per feature and metric, both sides' logged values
    (averaged over draws) and B - A."""
    rows = []
    for kind, ab in draw_pairs(runs):
        if kind != names.ROUTE:
            continue
        a, b = ab[0]
        effects = [
            metrics.route_effects(
                *({k: {m: r.feature(k, m) for m in metrics.ROUTE_EFFECT_METRICS} for k in r.keys} for r in (y, x))
            )
            for x, y in ab
        ]
        for i, e in enumerate(effects[0]):
            mean = {v: float(np.mean([draw[i][v] for draw in effects])) for v in ("other", "this", "delta")}
            rows.append(
                {
                    "a": a.label,
                    "b": b.label,
                    "route_a": a.params[names.ROUTE],
                    "route_b": b.params[names.ROUTE],
                    "feature": e["feature"],
                    "metric": e["metric"],
                    "value_a": mean["other"],
                    "value_b": mean["this"],
                    "delta": mean["delta"],
                }
            )
    return pd.DataFrame(
        rows, columns=["a", "b", "route_a", "route_b", "feature", "metric", "value_a", "value_b", "delta"]
    )


def compare(runs: list[Run], n_boot: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Paired comparisons on the documents both sides scored: the median
    macro-F1 difference (B - A) with its bootstrap interval and p-value, and
    per feature the macro-F1 difference and McNemar's exact test. Two groups
    of draws pair draw by draw: the differences are averaged over draws and
    their intervals resample documents and draws (McNemar's test is for one
    pair of runs: over several draws its counts are summed and no p-value is
    given). p-values are Holm-corrected within each table."""
    summary, features = [], []
    for kind, ab in draw_pairs(runs):
        if any(a.problem or b.problem for a, b in ab):
            continue
        shared = sorted(set.intersection(*(set(a.doc_ids) & set(b.doc_ids) for a, b in ab)))
        if not shared:
            continue
        weights = stats.resample_weights(len(shared), n_boot, seed)
        once = np.ones((1, len(shared)))
        f1s, points, sides = [], [], []
        for a, b in ab:
            (gold, pred_a, _), (_, pred_b, _) = a.subset(shared), b.subset(shared)
            f1s.append([stats.resampled(gold, p, weights)["macro_f1"] for p in (pred_a, pred_b)])
            points.append([stats.resampled(gold, p, once)["macro_f1"][0] for p in (pred_a, pred_b)])
            sides.append((gold, pred_a, pred_b))
        diffs = stats.over_draws(np.stack([np.median(fb, axis=1) - np.median(fa, axis=1) for fa, fb in f1s]), seed)
        lo, hi = stats.interval(diffs)
        point_a, point_b = (np.mean([p[side] for p in points], axis=0) for side in (0, 1))
        median_a, median_b = (float(np.mean([np.median(p[side]) for p in points])) for side in (0, 1))
        a, b = ab[0]
        summary.append(
            {
                "compared": kind,
                "a": a.label,
                "b": b.label,
                "n_docs": len(shared),
                "draws": len(ab),
                "macro_f1_a": median_a,
                "macro_f1_b": median_b,
                "delta": median_b - median_a,
                "delta_lo": lo,
                "delta_hi": hi,
                "p": stats.two_sided_p(diffs),
            }
        )
        for j, key in enumerate(a.keys):
            tests = [stats.mcnemar(gold[:, j], pred_a[:, j], pred_b[:, j]) for gold, pred_a, pred_b in sides]
            lo, hi = stats.interval(stats.over_draws(np.stack([fb[:, j] - fa[:, j] for fa, fb in f1s]), seed))
            features.append(
                {
                    "compared": kind,
                    "a": a.label,
                    "b": b.label,
                    "feature": key,
                    "macro_f1_a": point_a[j],
                    "macro_f1_b": point_b[j],
                    "delta": point_b[j] - point_a[j],
                    "delta_lo": lo,
                    "delta_hi": hi,
                    "a_right_b_wrong": sum(t[0] for t in tests),
                    "b_right_a_wrong": sum(t[1] for t in tests),
                    "p_mcnemar": tests[0][2] if len(tests) == 1 else float("nan"),
                }
            )
    summary_frame = pd.DataFrame(
        summary,
        columns=[
            "compared",
            "a",
            "b",
            "n_docs",
            "draws",
            "macro_f1_a",
            "macro_f1_b",
            "delta",
            "delta_lo",
            "delta_hi",
            "p",
        ],
    )
    summary_frame["p_holm"] = stats.holm(summary_frame["p"])
    feature_frame = pd.DataFrame(
        features,
        columns=[
            "compared",
            "a",
            "b",
            "feature",
            "macro_f1_a",
            "macro_f1_b",
            "delta",
            "delta_lo",
            "delta_hi",
            "a_right_b_wrong",
            "b_right_a_wrong",
            "p_mcnemar",
        ],
    )
    feature_frame["p_holm"] = stats.holm(feature_frame["p_mcnemar"])
    return summary_frame, feature_frame
