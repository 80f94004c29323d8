"""`harness-report`: an experiment's runs as the study's tables and figures,
with bootstrap confidence intervals and corrected paired tests.

    harness-report --experiment NAME [--tracking-uri URI] [--out DIR]

Point estimates are the runs' logged metrics; intervals resample the
documents of each run's predictions.jsonl. Writes report.html (self-contained),
CSV and PNG files to DIR and logs them as a run named `report` in the same
experiment."""

from __future__ import annotations

import argparse
import itertools
import logging
import re
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import pandas as pd

from . import metrics, names, progress, stats
from .errors import HarnessError, exit_on_user_error

log = logging.getLogger("harness.report")

DESCRIBE = (
    names.MODEL,
    names.ROUTE,
    names.SHOTS,
    names.SELECTION,
    names.MODE,
    names.PROMPT,
    names.DATASET,
    names.PROTOCOL,
)  # headline columns
ROUTE_ORDER = {"native": 0, "translate": 1, "reference": 2}  # A is the earlier route in a comparison


class Run:
    """One extraction run as the report needs it: its logged values and its
    predictions as documents x features arrays."""

    def __init__(self, raw: dict[str, Any]):
        self.run_id, self.name = raw["run_id"], raw["name"]
        self.params, self.metrics = raw["params"], raw["metrics"]
        self.label = self.name
        rows = raw["predictions"] or []
        self.keys = list(rows[0]["gold"]) if rows else []
        self.doc_ids = [r["id"] for r in rows]
        shape = (len(rows), len(self.keys))
        self.gold = np.array([[r["gold"][k] for k in self.keys] for r in rows], dtype=bool).reshape(shape)
        answers = [[r["pred"].get(k) for k in self.keys] for r in rows]
        self.pred = np.array([[v is True for v in a] for a in answers], dtype=bool).reshape(shape)
        self.missing = np.array([[v is None for v in a] for a in answers], dtype=bool).reshape(shape)
        self.problem = self._check(raw["predictions"])

    def _check(self, rows: Optional[list]) -> Optional[str]:
        """Why this run's intervals can't be trusted, if they can't."""
        if not rows:
            return "predictions.jsonl is missing or empty"
        recomputed = stats.medians(self.gold, self.pred, self.missing, np.ones((1, len(rows))))["macro_f1"][0]
        logged = self.metrics.get("median/macro_f1", float("nan"))
        if not np.isclose(recomputed, logged, atol=1e-9):
            return f"predictions.jsonl gives median macro-F1 {recomputed:.4f}, the run logged {logged:.4f}"
        return None

    def feature(self, key: str, metric: str) -> float:
        return self.metrics.get(f"feature/{key}/{metric}", float("nan"))

    def subset(self, doc_ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(gold, pred) rows for these documents, in this order."""
        where = {d: i for i, d in enumerate(self.doc_ids)}
        rows = [where[d] for d in doc_ids]
        return self.gold[rows], self.pred[rows]


def label_runs(runs: list[Run]) -> None:
    """Labels are the run names (model|route|kshot...), with the settings that
    tell apart runs of the same name appended."""
    names = [r.name for r in runs]
    clash = [r for r in runs if names.count(r.name) > 1]
    varying = [
        k
        for k in (
            "dataset",
            "prompt",
            "route.prompt_language",
            "translator.model.name",
            "seed",
            "dataset.limit",
            "split.seed",
        )
        if len({r.params.get(k) for r in clash}) > 1
    ]
    for r in clash:
        r.label = "|".join([r.name, *(f"{k}={r.params.get(k)}" for k in varying)])
    labels = [r.label for r in runs]
    for r in runs:
        if labels.count(r.label) > 1:  # they differ elsewhere: the run id tells them apart
            r.label += f"|{r.run_id[:8]}"


def headline(runs: list[Run], n_boot: int, seed: int) -> pd.DataFrame:
    """One row per run: the logged medians over features with 95% bootstrap
    intervals, the IQR of macro-F1 over features, missing rate and speed."""
    rows = []
    for r in progress.each(runs, "bootstrap", unit="run"):
        row: dict[str, Any] = {"label": r.label, **{k: r.params.get(k) for k in DESCRIBE}, "n_docs": len(r.doc_ids)}
        samples = None
        if r.problem is None:
            samples = stats.medians(r.gold, r.pred, r.missing, stats.resample_weights(len(r.doc_ids), n_boot, seed))
        f1s = [r.feature(k, "macro_f1") for k in r.keys]
        for m in (*stats.HEADLINE, "missing_rate"):
            row[m] = r.metrics.get("missing/rate" if m == "missing_rate" else f"median/{m}", float("nan"))
            row[f"{m}_lo"], row[f"{m}_hi"] = stats.interval(samples[m]) if samples else (float("nan"),) * 2
            if m == "macro_f1":
                row["macro_f1_q1"], row["macro_f1_q3"] = np.percentile(f1s, [25, 75]) if f1s else (float("nan"),) * 2
        row["docs_per_s"] = r.metrics.get("throughput/docs_per_s", float("nan"))
        row["note"], row["run_id"] = r.problem or "", r.run_id
        rows.append(row)
    return pd.DataFrame(rows).sort_values("macro_f1", ascending=False, kind="stable").reset_index(drop=True)


def headline_text(h: pd.DataFrame) -> str:
    """The headline as a terminal table: each run's median macro-F1 and MCC
    with their 95% intervals, missing rate and speed; a run whose MCC
    interval holds 0 is marked as no better than chance."""

    def cell(row, m: str) -> str:
        return f"{row[m]:.3f} [{row[m + '_lo']:.3f}, {row[m + '_hi']:.3f}]"

    rows = [("run", "docs", "macro-F1 [95% CI]", "MCC [95% CI]", "missing", "docs/s", "")]
    for _, r in h.iterrows():
        chance = "no better than chance (MCC interval holds 0)" if r["mcc_lo"] <= 0 <= r["mcc_hi"] else ""
        rows.append(
            (
                r["label"],
                str(r["n_docs"]),
                cell(r, "macro_f1"),
                cell(r, "mcc"),
                f"{100 * r['missing_rate']:.1f}%",
                f"{r['docs_per_s']:.2f}",
                chance,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in rows)


def per_feature(runs: list[Run]) -> pd.DataFrame:
    """Long table of the logged per-feature metrics: label, feature, metric, value."""
    rows = [
        {"label": r.label, "feature": k, "metric": m, "value": r.feature(k, m), "run_id": r.run_id}
        for r in runs
        for k in r.keys
        for m in (*stats.HEADLINE, "accuracy", "missing")
    ]
    return pd.DataFrame(rows, columns=["label", "feature", "metric", "value", "run_id"])


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


def route_effects(runs: list[Run]) -> pd.DataFrame:
    """The study's "translation effects": for every two runs that differ only
    in the route, per feature and metric, both runs' logged values and B - A."""
    rows = [
        {
            "a": a.label,
            "b": b.label,
            "route_a": a.params[names.ROUTE],
            "route_b": b.params[names.ROUTE],
            "feature": e["feature"],
            "metric": e["metric"],
            "value_a": e["other"],
            "value_b": e["this"],
            "delta": e["delta"],
        }
        for kind, a, b in pairs(runs)
        if kind == names.ROUTE
        for e in metrics.route_effects(
            *({k: {m: r.feature(k, m) for m in metrics.ROUTE_EFFECT_METRICS} for k in r.keys} for r in (b, a))
        )
    ]
    return pd.DataFrame(
        rows, columns=["a", "b", "route_a", "route_b", "feature", "metric", "value_a", "value_b", "delta"]
    )


def compare(runs: list[Run], n_boot: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Paired comparisons on the documents both runs scored: the median
    macro-F1 difference (B - A) with its bootstrap interval and p-value, and
    per feature the macro-F1 difference and McNemar's exact test. p-values are
    Holm-corrected within each table."""
    summary, features = [], []
    for kind, a, b in pairs(runs):
        if a.problem or b.problem:
            continue
        shared = sorted(set(a.doc_ids) & set(b.doc_ids))
        if not shared:
            continue
        gold, pred_a = a.subset(shared)
        _, pred_b = b.subset(shared)
        weights = stats.resample_weights(len(shared), n_boot, seed)
        once = np.ones((1, len(shared)))
        f1_a, f1_b = (stats.resampled(gold, p, weights)["macro_f1"] for p in (pred_a, pred_b))
        point_a, point_b = (stats.resampled(gold, p, once)["macro_f1"][0] for p in (pred_a, pred_b))
        diffs = np.median(f1_b, axis=1) - np.median(f1_a, axis=1)
        lo, hi = stats.interval(diffs)
        summary.append(
            {
                "compared": kind,
                "a": a.label,
                "b": b.label,
                "n_docs": len(shared),
                "macro_f1_a": float(np.median(point_a)),
                "macro_f1_b": float(np.median(point_b)),
                "delta": float(np.median(point_b) - np.median(point_a)),
                "delta_lo": lo,
                "delta_hi": hi,
                "p": stats.two_sided_p(diffs),
            }
        )
        for j, key in enumerate(a.keys):
            a_only, b_only, p = stats.mcnemar(gold[:, j], pred_a[:, j], pred_b[:, j])
            lo, hi = stats.interval(f1_b[:, j] - f1_a[:, j])
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
                    "a_right_b_wrong": a_only,
                    "b_right_a_wrong": b_only,
                    "p_mcnemar": p,
                }
            )
    summary_frame = pd.DataFrame(
        summary,
        columns=["compared", "a", "b", "n_docs", "macro_f1_a", "macro_f1_b", "delta", "delta_lo", "delta_hi", "p"],
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


def build(
    raw_runs: list[dict[str, Any]], out: Path, *, experiment: str, n_boot: int, seed: int
) -> tuple[dict[str, Path], dict[str, pd.DataFrame]]:
    """Write the report's files to `out`; returns name -> path, and the tables."""
    from . import figures

    if not raw_runs:
        raise HarnessError(f"experiment {experiment!r} has no finished harness runs to report on")
    runs = [Run(r) for r in raw_runs]
    label_runs(runs)
    unkeyed = [r.label for r in runs if names.COMPARISON_KEYS["model"] not in r.params]
    if unkeyed:
        log.warning(
            "%d run(s) carry no comparison keys (logged by an older harness): they are in the "
            "headline but in no comparison: %s",
            len(unkeyed),
            ", ".join(unkeyed[:5]),
        )
    for r in runs:
        if r.problem:
            log.warning("%s (run %s): %s; no intervals or tests for it", r.label, r.run_id, r.problem)
    tables = {"headline": headline(runs, n_boot, seed), "per_feature": per_feature(runs)}
    tables["comparisons"], tables["feature_comparisons"] = compare(runs, n_boot, seed)
    tables["route_effects"] = route_effects(runs)
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, frame in tables.items():
        files[f"{name}.csv"] = out / f"{name}.csv"
        frame.to_csv(files[f"{name}.csv"], index=False)
    for name, draw in figures.FIGURES.items():
        files[f"{name}.png"] = out / f"{name}.png"
        draw(tables, files[f"{name}.png"])
    files["report.html"] = out / "report.html"
    files["report.html"].write_text(figures.html(tables, files, experiment=experiment, n_boot=n_boot), encoding="utf-8")
    return files, tables


def folder_name(experiment: str) -> str:
    """An experiment's name as one folder under reports/: no separators, no `..`."""
    return re.sub(r"[^\w.-]+", "_", experiment).strip(".") or "_"


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(prog="harness-report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--experiment", required=True, help="MLflow experiment name")
    parser.add_argument("--tracking-uri", default="sqlite:///mlruns/mlflow.db", help="MLflow store or server")
    parser.add_argument("--out", help="output folder (default reports/<experiment>)")
    parser.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument("--no-log", action="store_true", help="write the files only; log no report run")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(name)s] %(message)s")
    if args.bootstrap < 1:
        parser.error("--bootstrap must be at least 1")

    def body() -> None:
        from . import tracking

        out = Path(args.out or Path("reports") / folder_name(args.experiment))
        if out.exists() and not out.is_dir():
            raise HarnessError(f"--out {out} is a file; name a folder for the report's files")
        with tracking.store_errors(args.tracking_uri):
            runs = tracking.result_runs(args.tracking_uri, args.experiment)
            files, tables = build(runs, out, experiment=args.experiment, n_boot=args.bootstrap, seed=args.seed)
            print(headline_text(tables["headline"]))
            print(f"wrote {len(files)} files to {out}/ (open {files['report.html']})")
            if not args.no_log:
                run_id = tracking.log_report(
                    args.tracking_uri, args.experiment, str(out), {"bootstrap": args.bootstrap, "seed": args.seed}
                )
                print(f"logged as run {run_id} (report/) in experiment {args.experiment!r}")

    exit_on_user_error("harness-report", body)


if __name__ == "__main__":
    main()
