"""The report's figures (PNG, matplotlib) and its one self-contained HTML page.
Each figure is drawn from the report's tables alone."""

from __future__ import annotations

import base64
import datetime
import html as html_escape
from pathlib import Path
from typing import Callable, Mapping

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .documents import breakable  # noqa: E402
from .stats import FEW_POSITIVES, VERDICT_RULE  # noqa: E402

Tables = Mapping[str, pd.DataFrame]


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _empty(path: Path, message: str) -> None:
    fig, ax = plt.subplots(figsize=(6, 1.5))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center")
    _save(fig, path)


def heatmap(tables: Tables, path: Path) -> None:
    """Runs x features, macro-F1, runs in headline order."""
    f1 = tables["per_feature"].query("metric == 'macro_f1'")
    grid = f1.pivot(index="label", columns="feature", values="value")
    grid = grid.reindex(index=tables["headline"]["label"], columns=list(dict.fromkeys(f1["feature"])))
    n_pos = f1.groupby("feature")["n_pos"].max()
    ticks = [f"{k} (n+ {n_pos[k]}){' *' if n_pos[k] < FEW_POSITIVES else ''}" for k in grid.columns]
    fig, ax = plt.subplots(figsize=(1.0 + 0.62 * grid.shape[1], 1.8 + 0.42 * grid.shape[0]))
    image = ax.imshow(grid.to_numpy(dtype=float), cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(grid.shape[1]), ticks, rotation=45, ha="right")
    ax.set_yticks(range(grid.shape[0]), grid.index)
    for (i, j), value in np.ndenumerate(grid.to_numpy(dtype=float)):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color="white" if value < 0.6 else "black")
    fig.colorbar(image, ax=ax, label="macro-F1")
    ax.set_title("Macro-F1 per feature")
    _save(fig, path)


def route_effects(tables: Tables, path: Path) -> None:
    """Per feature, macro-F1 of route B minus route A for the same model, with 95% intervals."""
    rows = tables["feature_comparisons"].query("compared == 'route'")
    if rows.empty:
        return _empty(path, "No two runs differ only in their route.")
    features = list(dict.fromkeys(rows["feature"]))
    pairs = list(dict.fromkeys(zip(rows["a"], rows["b"])))
    fig, ax = plt.subplots(figsize=(8, 1.5 + 0.35 * len(features)))
    for n, (a, b) in enumerate(pairs):
        part = rows[(rows["a"] == a) & (rows["b"] == b)].set_index("feature").reindex(features)
        y = np.arange(len(features)) + (n - (len(pairs) - 1) / 2) * 0.8 / max(len(pairs), 1)
        ax.errorbar(
            part["delta"],
            y,
            xerr=[part["delta"] - part["delta_lo"], part["delta_hi"] - part["delta"]],
            fmt="o",
            capsize=2,
            label=f"{b}  minus  {a}",
        )
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(range(len(features)), features)
    ax.invert_yaxis()
    ax.set_xlabel("macro-F1 difference (95% bootstrap interval)")
    ax.set_title("Route effects per feature")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=1)
    _save(fig, path)


def sensitivity_specificity(tables: Tables, path: Path) -> None:
    """Median sensitivity against median specificity per run, with 95% intervals."""
    h = tables["headline"]
    fig, ax = plt.subplots(figsize=(7, 7 + 0.15 * len(h)))
    markers = "os^vD<>pPX*h"
    for n, (_, r) in enumerate(h.iterrows()):
        ax.errorbar(  # a marker of its own: runs that coincide stay visible
            r["specificity"],
            r["sensitivity"],
            fmt=markers[n % len(markers)],
            markerfacecolor="none",
            capsize=2,
            label=r["label"],
            alpha=0.8,
            xerr=[[r["specificity"] - r["specificity_lo"]], [r["specificity_hi"] - r["specificity"]]],
            yerr=[[r["sensitivity"] - r["sensitivity_lo"]], [r["sensitivity_hi"] - r["sensitivity"]]],
        )
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)  # below: points often coincide
    # Zoomed to the runs' intervals: specificities of sparse features crowd near 1.
    for axis, m in ((ax.set_xlim, "specificity"), (ax.set_ylim, "sensitivity")):
        lows = h[f"{m}_lo"].where(np.isfinite(h[f"{m}_lo"]), h[m])
        low = float(np.nanmin(lows)) if len(h) else 0.0
        axis(max(-0.02, low - 0.05), 1.02)
    ax.set_xlabel("specificity (median over features)")
    ax.set_ylabel("sensitivity (median over features)")
    ax.set_title("Sensitivity and specificity")
    _save(fig, path)


def mcc_missing(tables: Tables, path: Path) -> None:
    """Median MCC with 95% intervals beside the share of missing answers, per run."""
    h = tables["headline"]
    y = np.arange(len(h))
    missing = h["missing_rate"].fillna(0).gt(0).any()
    fig, axes = plt.subplots(1, 2 if missing else 1, sharey=True, figsize=(10 if missing else 7, 1.5 + 0.4 * len(h)))
    left = axes[0] if missing else axes
    left.barh(y, h["mcc"], xerr=[h["mcc"] - h["mcc_lo"], h["mcc_hi"] - h["mcc"]], capsize=2, color="tab:blue")
    left.set_yticks(y, h["label"])
    left.invert_yaxis()
    left.set_xlabel("MCC (median over features)")
    if missing:  # a panel of empty bars says nothing
        axes[1].barh(y, 100 * h["missing_rate"], color="tab:red")
        axes[1].set_xlabel("missing answers (%)")
    fig.suptitle("MCC and missing values" if missing else "MCC (no run has missing answers)")
    _save(fig, path)


FIGURES: dict[str, Callable[[Tables, Path], None]] = {
    "heatmap": heatmap,
    "route_effects": route_effects,
    "sensitivity_specificity": sensitivity_specificity,
    "mcc_missing": mcc_missing,
}


def _with_interval(frame: pd.DataFrame, columns) -> pd.DataFrame:
    """value [lo, hi] for display, the interval on a line of its own (narrow columns)."""
    out = frame.copy()
    for c in columns:
        out[c] = [
            f"{v:.3f}<small>[{lo:.3f}, {hi:.3f}]</small>" if np.isfinite(lo) else f"{v:.3f}"
            for v, lo, hi in zip(frame[c], frame[f"{c}_lo"], frame[f"{c}_hi"])
        ]
        out = out.drop(columns=[f"{c}_lo", f"{c}_hi"])
    return out


def _table(frame: pd.DataFrame, raw: tuple[str, ...] = ()) -> str:
    """A table that scrolls sideways inside the page, never the page itself.
    Cells are escaped; only the interval markup of `_with_interval` is kept,
    and the columns in `raw`, built as HTML from escaped parts."""
    if frame.empty:
        return "<p><em>none in this experiment</em></p>"
    shown = frame.copy()
    for c in shown.columns:
        if c not in raw:
            shown[c] = shown[c].map(
                lambda v: (
                    html_escape.escape(v).replace("&lt;small&gt;", "<small>").replace("&lt;/small&gt;", "</small>")
                    if isinstance(v, str)
                    else v
                )
            )
    table = shown.to_html(
        index=False, float_format=lambda v: f"{v:.3g}", na_rep="", border=0, classes="t", escape=False
    )
    return f'<div class="scroll">{table}</div>'


# The reference study's published medians over the 13 features (arXiv
# 2602.21374; its private data, 1,221 calls, one L4 GPU): model, route,
# macro-F1, MCC, sensitivity, specificity.
STUDY_MEDIANS = (
    ("Qwen2.5-7B-Instruct", "translate", 0.899, 0.797, 0.818, 0.987),
    ("Llama-3.1-8B-Instruct", "translate", 0.870, 0.749, 0.909, 0.958),
    ("Llama-3.2-3B-Instruct", "translate", 0.866, 0.734, 0.842, 0.951),
    ("Aya-expanse-8B", "translate", 0.855, 0.724, 0.901, 0.955),
    ("Aya-expanse-8B", "native", 0.842, 0.686, 0.893, 0.960),
    ("Qwen2.5-1.5B-Instruct", "translate", 0.819, 0.654, 0.737, 0.982),
    ("Gemma-3-1B-it", "translate", 0.740, 0.502, 0.613, 0.986),
)


def feature_table(per_feature: pd.DataFrame, labels, metric: str) -> pd.DataFrame:
    """Runs x features (in their definition order) of one metric with its
    interval where there is one; each feature's header gives its gold
    positives (n+), marked too few to judge under FEW_POSITIVES."""
    rows = per_feature[per_feature["metric"] == metric]
    support = rows.groupby("feature", sort=False)["n_pos"].agg(["min", "max"])
    headers = {}
    for k, (lo, hi) in support.iterrows():
        n = f"{lo}" if lo == hi else f"{lo}-{hi}"
        headers[k] = f"{k}<small>n+ {n}{': too few' if hi < FEW_POSITIVES else ''}</small>"
    table = {"run": [breakable(label) for label in labels]}
    for k, header in headers.items():  # two decimals: 13 features and a label within a laptop's width
        cells = rows[rows["feature"] == k].set_index("label").reindex(labels)
        table[header] = [
            f"{v:.2f}<small>[{lo:.2f}, {hi:.2f}]</small>" if np.isfinite(lo) else ("" if np.isnan(v) else f"{v:.2f}")
            for v, lo, hi in zip(cells["value"], cells["lo"], cells["hi"])
        ]
    return pd.DataFrame(table)


def _run_links(h: pd.DataFrame, ui: str) -> list[str]:
    """Each headline row's label, linked to its MLflow run (the first of its draws)."""
    out = []
    for label, exp, ids in zip(h["label"], h.get("experiment_id", [None] * len(h)), h["run_id"]):
        text = breakable(label)
        run = str(ids).split()[0] if isinstance(ids, str) and ids else None
        out.append(f'<a href="{ui}/#/experiments/{exp}/runs/{run}">{text}</a>' if exp and run else text)
    return out


# The per-feature comparison's headers, in words that wrap (feature_comparisons.csv keeps the names).
MCNEMAR_HEADERS = {
    "macro_f1_a": "macro-F1 A",
    "macro_f1_b": "macro-F1 B",
    "a_right_b_wrong": "A right, B wrong",
    "b_right_a_wrong": "B right, A wrong",
    "p_mcnemar": "p (McNemar)",
    "p_holm": "p (Holm)",
}


def _docs_per_s(v: float) -> str:
    return "" if not np.isfinite(v) else f"{v:,.0f}" if v >= 100 else f"{v:.2f}"


def html(
    tables: Tables,
    files: Mapping[str, Path],
    *,
    experiment: str,
    n_boot: int,
    ui: str = "",
    runs_table: str = "",
    documents: str = "",
) -> str:
    """The whole report as one page: tables inline, figures embedded as data
    URIs; `ui` the MLflow UI's address (links to runs), `runs_table` the link
    to the experiment's runs table, `documents` the documents-side-by-side section."""
    runs_link = f'; <a href="{runs_table}">the MLflow runs table, best first</a>' if runs_table else ""
    # The label says model, route, shots, selection and mode; headline.csv keeps them apart.
    h = tables["headline"].copy()
    h.insert(0, "run", _run_links(h, ui))
    # How each run was made, in a table of its own: the headline stays within a laptop's width.
    apart = [c for c in ("prompt", "dataset", "protocol", "departures", "weights") if c in h]
    made = h[["run", *apart]].copy()
    if "departures" in made:
        made["departures"] = made["departures"].fillna("").str.replace(",", ", ")
    if "verdict" in h:  # the rule beside the table says what the interval shows
        h["verdict"] = h["verdict"].str.replace(r" \(.*\)$", "", regex=True)
    in_label = ["label", "model", "route", "shots", "selection", "mode", "run_id", "experiment_id"]
    h = h.drop(columns=in_label + apart, errors="ignore")
    h["docs_per_s"] = [_docs_per_s(v) for v in h["docs_per_s"]]
    h["macro_f1_iqr"] = [f"{q1:.3f}-{q3:.3f}" for q1, q3 in zip(h.pop("macro_f1_q1"), h.pop("macro_f1_q3"))]
    spread = {s: h.pop(f"macro_f1_{s}") for s in ("min", "max", "sd")}
    h = h.drop(columns=["mcc_min", "mcc_max", "mcc_sd"])  # headline.csv has them; macro-F1's spread is shown
    several = (h["draws"] > 1).any()
    if several:  # over a row's example draws: the range of its median macro-F1, and their spread
        h["macro_f1_over_draws"] = [
            f"{lo:.3f}-{hi:.3f} (sd {sd:.3f})" if pd.notna(sd) else ""
            for lo, hi, sd in zip(spread["min"], spread["max"], spread["sd"])
        ]
    else:
        h = h.drop(columns="draws")
    h = _with_interval(h, ("macro_f1", "mcc", "sensitivity", "specificity", "precision", "missing_rate"))
    comparisons = _with_interval(tables["comparisons"], ("delta",))
    if not several:
        comparisons = comparisons.drop(columns="draws")
    features = _with_interval(tables["feature_comparisons"], ("delta",))
    for side in ("a", "b"):
        features[side] = features[side].map(breakable)
    features = features.rename(columns=MCNEMAR_HEADERS)
    labels = list(tables["headline"]["label"])
    f1_table = feature_table(tables["per_feature"], labels, "macro_f1")
    mcc_table = feature_table(tables["per_feature"], labels, "mcc")
    study = pd.DataFrame(STUDY_MEDIANS, columns=["model", "route", "macro_f1", "mcc", "sensitivity", "specificity"])

    def figure(name: str, caption: str) -> str:
        data = base64.b64encode(files[f"{name}.png"].read_bytes()).decode()
        return (
            f'<figure><img alt="{name}" src="data:image/png;base64,{data}"><figcaption>{caption}</figcaption></figure>'
        )

    title = html_escape.escape(f"harness report: {experiment}")
    generated = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1em; color: #222; }}
table.t {{ border-collapse: collapse; font-size: 13px; margin: 0.5em 0 1.5em; }}
div.scroll {{ overflow-x: auto; max-width: 100%; }}
table.t small {{ display: block; color: #666; font-size: 11px; white-space: nowrap; }}
table.t th, table.t td {{ padding: 3px 5px; border-bottom: 1px solid #ddd; text-align: left; }}
td.right {{ color: #276b2b; }} td.wrong {{ color: #a4262c; }} td.none {{ color: #999; }}
tr.doc {{ cursor: pointer; }} td.text {{ max-width: 24em; }} td.detail table {{ margin: 0.3em 0; }}
p.fulltext {{ white-space: pre-wrap; max-width: 60em; }} div.controls label {{ margin-right: 1.2em; }}
figure {{ margin: 1em 0 2em; }} img {{ max-width: 100%; }} figcaption {{ color: #555; font-size: 13px; }}
</style></head><body>
<h1>{title}</h1>
<p>{len(h)} rows, generated {generated}. Point estimates are the runs' logged metrics (medians over the
features, as in the reference study); brackets hold 95% percentile bootstrap intervals over documents
({n_boot} resamples), and over example draws for a row of several (the mean of its draws). Comparisons pair
runs that differ only in route, or only in model, on the documents both scored (draw by draw); p-values
are Holm-corrected within each table (<code>p_holm</code>).</p>
<p>{VERDICT_RULE} <code>protocol</code>: <code>reference</code> where every element of the run's
protocol is the reference study's, <code>harness</code> where some depart (listed under
<code>departures</code>; docs/protocol.md), <code>baseline</code> for a run with no language model (of the
protocol only the documents scored apply). Each run's name links to its MLflow run{runs_link}.</p>
<h2>Headline</h2>{_table(h, raw=("run",))}
<details><summary>How each run was made: prompt, dataset, protocol and its departures, weights</summary>
{_table(made, raw=("run",))}</details>
<h2>Macro-F1 per feature</h2>
<p>Each feature's header gives its gold positives among the evaluated documents (n+); with fewer than
{FEW_POSITIVES} a feature is marked too few to judge: one positive found can make a perfect score. The
headline's median over features still counts every feature, as the reference study's did.</p>
{_table(f1_table, raw=("run",))}
<details><summary>MCC per feature</summary>{_table(mcc_table, raw=("run",))}</details>
{figure("heatmap", "Macro-F1 per run and feature (n+: gold positives; * fewer than " + str(FEW_POSITIVES) + ").")}
<h2>Paired comparisons: median macro-F1, B minus A</h2>
<p>A median over 13 features moves in steps, so many resamples can give a difference of exactly 0. Such
resamples count on both sides of 0 in <code>p</code> (twice the share of resampled differences at or beyond
0), and where they are most of them an interval ending at 0.000 goes with <code>p</code> = 1: no evidence of a
difference, whatever the point estimate.</p>
{_table(comparisons)}
<h2>Per feature: macro-F1 difference and McNemar's exact test</h2>
<details><summary>{len(features)} rows (McNemar counts: A right where B is wrong, and the reverse)</summary>
{_table(features, raw=("a", "b"))}</details>
{figure("route_effects", "Translation and route effects: macro-F1 of route B minus route A, per feature.")}
{figure("sensitivity_specificity", "Median sensitivity and specificity per run.")}
{figure("mcc_missing", "Median MCC and the share of missing answers per run.")}
{documents}
<h2>For scale: the reference study's published medians</h2>
<p>Not comparable run for run: the study's private data (1,221 calls), its models at 1.5-8B parameters,
one L4 GPU (arXiv 2602.21374). Medians over the 13 features.</p>
{_table(study)}
</body></html>
"""
