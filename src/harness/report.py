"""`harness-report`: an experiment's runs as the study's tables and figures,
with bootstrap confidence intervals and corrected paired tests.

    harness-report --experiment NAME [--tracking-uri URI] [--out DIR]

Point estimates are the runs' logged metrics; intervals resample the
documents of each run's predictions.jsonl. Writes report.html (self-contained),
CSV and PNG files to DIR and logs them as a run named `report` in the same
experiment."""

from __future__ import annotations

import argparse
import logging
import re
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from . import comparisons, documents, names, progress, stats
from .errors import HarnessError, exit_on_user_error

log = logging.getLogger("harness.report")
MLFLOW_UI = "http://127.0.0.1:5000"  # where `mlflow ui` serves by default

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


class Run:
    """One extraction run as the report needs it: its logged values and its
    predictions as documents x features arrays."""

    def __init__(self, raw: dict[str, Any]):
        self.run_id, self.name = raw["run_id"], raw["name"]
        self.experiment_id = raw.get("experiment_id")
        self.params, self.metrics, self.tags = raw["params"], raw["metrics"], raw.get("tags", {})
        self.label = self.name
        rows = raw["predictions"] or []
        self.keys = list(rows[0]["gold"]) if rows else []
        self.doc_ids = [r["id"] for r in rows]
        self.row_of = {d: i for i, d in enumerate(self.doc_ids)}
        self.probs = [r.get("prob") for r in rows]  # P(true) per feature, where the run has it
        self.texts = {r["id"]: r["text"] for r in rows if r.get("text")}  # what the model read, as logged
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

    def subset(self, doc_ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(gold, pred, missing) rows for these documents, in this order."""
        rows = [self.row_of[d] for d in doc_ids]
        return self.gold[rows], self.pred[rows], self.missing[rows]


def groups(runs: list[Run]) -> list[list[Run]]:
    """Runs that differ only in their example draw (equal comparison_key.draws),
    in the order first seen; a run logged without the key is a group of its own."""
    out: dict[str, list[Run]] = {}
    for r in runs:
        out.setdefault(r.params.get(names.COMPARISON_KEYS["draws"]) or r.run_id, []).append(r)
    return list(out.values())


def label_runs(runs: list[Run]) -> list[list[Run]]:
    """Groups the runs by draw and labels each group: the run name
    (model|route|kshot...) with the settings that tell apart groups of the
    same name appended, and "(N draws)" where there are several."""
    grouped = groups(runs)
    firsts = [g[0] for g in grouped]
    names_ = [r.name for r in firsts]
    clash = [r for r in firsts if names_.count(r.name) > 1]
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
    for g in grouped:  # several draws have several seeds: the count says it
        shown = [k for k in varying if k != "seed" or len(g) == 1] if g[0] in clash else []
        g[0].label = "|".join([g[0].name, *(f"{k}={g[0].params.get(k)}" for k in shown)])
        g[0].label += f" ({len(g)} draws)" if len(g) > 1 else ""
    labels = [r.label for r in firsts]
    for r in firsts:
        if labels.count(r.label) > 1:  # they differ elsewhere: the run id tells them apart
            r.label += f"|{r.run_id[:8]}"
    for g in grouped:
        for r in g[1:]:
            r.label = g[0].label
    return grouped


def _draws_note(g: list[Run]) -> list[str]:
    """What a reader must know of a row's example draws."""
    drawn = g[0].params.get(names.SELECTION) in ("random", "balanced") and g[0].params.get(names.BASELINE) != "true"
    return (
        ["one example draw: a draw difference reads as a setup difference (prompt.draws)"]
        if drawn and len(g) == 1
        else []
    )


def headline(grouped: list[list[Run]], n_boot: int, seed: int) -> pd.DataFrame:
    """One row per group of draws (a run, where it is the only draw): the
    logged medians over features, averaged over draws, with 95% bootstrap
    intervals that resample documents and draws; over several draws their
    min, max and standard deviation; the IQR of macro-F1 over features,
    missing rate and speed."""
    rows = []
    for g in progress.each(grouped, "bootstrap", unit="row"):
        first = g[0]
        row: dict[str, Any] = {
            "label": first.label,
            **{k: first.params.get(k) for k in DESCRIBE},
            "departures": first.params.get(names.PROTOCOL_DEPARTURES, ""),
            "weights": first.tags.get(names.WEIGHTS, ""),
            "n_docs": len(first.doc_ids),
            "draws": len(g),
        }
        samples = None
        if all(r.problem is None for r in g):
            shared, weights = _resampling(g, n_boot, seed)
            per_draw = [stats.medians(*r.subset(shared), weights) for r in g]
            samples = {m: stats.over_draws(np.stack([p[m] for p in per_draw]), seed) for m in per_draw[0]}
        f1s = [np.mean([r.feature(k, "macro_f1") for r in g]) for k in first.keys]
        for m in (*stats.HEADLINE, "missing_rate"):
            values = [r.metrics.get("missing/rate" if m == "missing_rate" else f"median/{m}", float("nan")) for r in g]
            row[m] = float(np.mean(values))
            row[f"{m}_lo"], row[f"{m}_hi"] = stats.interval(samples[m]) if samples else (float("nan"),) * 2
            if m in ("macro_f1", "mcc"):
                row[f"{m}_min"], row[f"{m}_max"] = min(values), max(values)
                row[f"{m}_sd"] = float(np.std(values, ddof=1)) if len(g) > 1 else float("nan")
            if m == "macro_f1":
                row["macro_f1_q1"], row["macro_f1_q3"] = np.percentile(f1s, [25, 75]) if f1s else (float("nan"),) * 2
        if first.params.get(names.BASELINE) == "true":  # reads no prompt: its prompt settings are not its own
            row[names.PROMPT] = ""
        row["docs_per_s"] = float(np.mean([r.metrics.get("throughput/docs_per_s", float("nan")) for r in g]))
        row["verdict"] = verdict(row)
        row["note"] = "; ".join([*{r.problem for r in g if r.problem}, *_draws_note(g)])
        row["run_id"] = " ".join(r.run_id for r in g)
        row["experiment_id"] = first.experiment_id
        rows.append(row)
    return pd.DataFrame(rows).sort_values("macro_f1", ascending=False, kind="stable").reset_index(drop=True)


def verdict(row: Mapping[str, Any]) -> str:
    """A headline row's verdict (stats.VERDICT_RULE)."""
    return stats.verdict(row.get("mcc_lo", np.nan), row.get("mcc_hi", np.nan))


def headline_text(h: pd.DataFrame) -> str:
    """The headline as a terminal table: each run's median macro-F1 and MCC
    with their 95% intervals, missing rate, speed and verdict (no better
    than chance where the MCC interval holds 0)."""

    def cell(row, m: str) -> str:
        return f"{row[m]:.3f} [{row[m + '_lo']:.3f}, {row[m + '_hi']:.3f}]"

    rows = [("run", "docs", "macro-F1 [95% CI]", "MCC [95% CI]", "missing", "docs/s", "")]
    for _, r in h.iterrows():
        rows.append(
            (
                r["label"],
                str(r["n_docs"]),
                cell(r, "macro_f1"),
                cell(r, "mcc"),
                f"{100 * r['missing_rate']:.1f}%",
                f"{r['docs_per_s']:.2f}",
                verdict(r),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in rows)


def _resampling(g: list[Run], n_boot: int, seed: int) -> tuple[list[str], np.ndarray]:
    """The documents every draw of a group scored, and their bootstrap weights."""
    others = [set(r.doc_ids) for r in g[1:]]
    shared = [d for d in g[0].doc_ids if all(d in ids for ids in others)]
    return shared, stats.resample_weights(len(shared), n_boot, seed)


INTERVALS = ("macro_f1", "mcc")  # per-feature metrics given bootstrap intervals


def headline_markdown(h: pd.DataFrame, experiment: str) -> str:
    """The report run's description: the headline as a markdown table, its
    rule, and where the page is."""

    def cell(r, m: str) -> str:
        return f"{r[m]:.3f} [{r[m + '_lo']:.3f}, {r[m + '_hi']:.3f}]"

    lines = [
        f"**harness report, experiment {experiment}**: {len(h)} rows. The whole report is "
        "`report/report.html` among this run's artifacts (the MLflow UI shows it there).",
        "",
        stats.VERDICT_RULE,
        "",
        "| run | docs | macro-F1 [95% CI] | MCC [95% CI] | verdict |",
        "|---|---|---|---|---|",
        *(
            f"| {r['label']} | {r['n_docs']} | {cell(r, 'macro_f1')} | {cell(r, 'mcc')} | {verdict(r)} |"
            for _, r in h.iterrows()
        ),
    ]
    return "\n".join(lines)


def per_feature(grouped: list[list[Run]], n_boot: int, seed: int) -> pd.DataFrame:
    """Long table of the logged per-feature metrics, averaged over a group's
    draws: label, feature, metric, value; the feature's gold positives among
    the evaluated documents (n_pos); for macro-F1 and MCC a 95% bootstrap
    interval (documents, and draws for a group of several, resampled)."""
    rows = []
    for g in grouped:
        bounds: dict[str, np.ndarray] = {}
        if all(r.problem is None for r in g):
            shared, weights = _resampling(g, n_boot, seed)
            per_draw = [stats.resampled(*r.subset(shared)[:2], weights) for r in g]
            bounds = {m: np.stack([p[m] for p in per_draw]) for m in INTERVALS}  # draws x n_boot x features
        n_pos = g[0].gold.sum(axis=0)
        for j, k in enumerate(g[0].keys):
            for m in (*stats.HEADLINE, "accuracy", "missing"):
                lo, hi = stats.interval(stats.over_draws(bounds[m][:, :, j], seed)) if m in bounds else (np.nan,) * 2
                rows.append(
                    {
                        "label": g[0].label,
                        "feature": k,
                        "n_pos": int(n_pos[j]),
                        "metric": m,
                        "value": float(np.mean([r.feature(k, m) for r in g])),
                        "lo": lo,
                        "hi": hi,
                        "run_id": " ".join(r.run_id for r in g),
                    }
                )
    return pd.DataFrame(rows, columns=["label", "feature", "n_pos", "metric", "value", "lo", "hi", "run_id"])


def build(
    raw_runs: list[dict[str, Any]], out: Path, *, experiment: str, n_boot: int, seed: int, ui: str = MLFLOW_UI
) -> tuple[dict[str, Path], dict[str, pd.DataFrame]]:
    """Write the report's files to `out`; returns name -> path, and the tables.
    `ui`: the MLflow UI's address, for the page's links to each run."""
    from . import figures

    if not raw_runs:
        raise HarnessError(f"experiment {experiment!r} has no finished harness runs to report on")
    runs = [Run(r) for r in raw_runs]
    grouped = label_runs(runs)
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
    tables = {"headline": headline(grouped, n_boot, seed), "per_feature": per_feature(grouped, n_boot, seed)}
    tables["comparisons"], tables["feature_comparisons"] = comparisons.compare(runs, n_boot, seed)
    tables["route_effects"] = comparisons.route_effects(runs)
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, frame in tables.items():
        files[f"{name}.csv"] = out / f"{name}.csv"
        frame.to_csv(files[f"{name}.csv"], index=False)
    for name, draw in figures.FIGURES.items():
        files[f"{name}.png"] = out / f"{name}.png"
        draw(tables, files[f"{name}.png"])
    files["report.html"] = out / "report.html"
    experiment_id = runs[0].experiment_id
    link = runs_url(ui, experiment_id) if experiment_id else ""
    side_by_side = documents.section([r for g in grouped for r in g[:1]])  # a group's first draw
    page = figures.html(
        tables, files, experiment=experiment, n_boot=n_boot, ui=ui, runs_table=link, documents=side_by_side
    )
    files["report.html"].write_text(page, encoding="utf-8")
    return files, tables


# The runs table as a reviewer wants it first: the report run left out, best
# median macro-F1 first, the headline metrics as columns. Saved as the MLflow
# UI's own shared view (MLflow 3.17's format; a UI that does not know it
# opens the plain runs table).
VIEW_KEY = "harness-headline"
VIEW = {
    "searchFilter": "attributes.run_name != 'report'",
    "orderByKey": "metrics.`median/macro_f1`",
    "orderByAsc": False,
    "selectedColumns": [
        *(f"metrics.`{m}`" for m in ("median/macro_f1", "median/mcc", "median/sensitivity", "median/specificity")),
        *(f"metrics.`{m}`" for m in ("missing/rate", "throughput/docs_per_s")),
        *(f"params.`{p}`" for p in (names.MODEL, names.ROUTE, names.PROTOCOL)),
    ],
}


def runs_url(ui: str, experiment_id: str) -> str:
    """The experiment's runs table in the MLflow UI, opened on VIEW."""
    return f"{ui}/#/experiments/{experiment_id}/runs?viewStateShareKey={VIEW_KEY}"


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
    parser.add_argument("--ui", default=MLFLOW_UI, help=f"the MLflow UI's address, for links (default {MLFLOW_UI})")
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
            ui = args.ui.rstrip("/")
            files, tables = build(runs, out, experiment=args.experiment, n_boot=args.bootstrap, seed=args.seed, ui=ui)
            print(headline_text(tables["headline"]))
            print(f"wrote {len(files)} files to {out}/ (open {files['report.html']})")
            if not args.no_log:
                run_id = tracking.log_report(
                    args.tracking_uri,
                    args.experiment,
                    str(out),
                    {"bootstrap": args.bootstrap, "seed": args.seed},
                    note=headline_markdown(tables["headline"], args.experiment),
                )
                print(f"logged as run {run_id} (report/) in experiment {args.experiment!r}")
                experiment_id = runs[0]["experiment_id"]
                tracking.share_view(args.tracking_uri, experiment_id, VIEW_KEY, VIEW)
                print(f"MLflow runs table, best first (with `mlflow ui` running): {runs_url(ui, experiment_id)}")

    exit_on_user_error("harness-report", body)


if __name__ == "__main__":
    main()
