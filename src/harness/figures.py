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
    fig, ax = plt.subplots(figsize=(1.0 + 0.62 * grid.shape[1], 1.2 + 0.42 * grid.shape[0]))
    image = ax.imshow(grid.to_numpy(dtype=float), cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(grid.shape[1]), grid.columns, rotation=45, ha="right")
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
    for _, r in h.iterrows():
        ax.errorbar(
            r["specificity"],
            r["sensitivity"],
            fmt="o",
            capsize=2,
            label=r["label"],
            alpha=0.8,
            xerr=[[r["specificity"] - r["specificity_lo"]], [r["specificity_hi"] - r["specificity"]]],
            yerr=[[r["sensitivity"] - r["sensitivity_lo"]], [r["sensitivity_hi"] - r["sensitivity"]]],
        )
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)  # below: points often coincide
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("specificity (median over features)")
    ax.set_ylabel("sensitivity (median over features)")
    ax.set_title("Sensitivity and specificity")
    _save(fig, path)


def mcc_missing(tables: Tables, path: Path) -> None:
    """Median MCC with 95% intervals beside the share of missing answers, per run."""
    h = tables["headline"]
    y = np.arange(len(h))
    fig, (left, right) = plt.subplots(1, 2, sharey=True, figsize=(10, 1.5 + 0.4 * len(h)))
    left.barh(y, h["mcc"], xerr=[h["mcc"] - h["mcc_lo"], h["mcc_hi"] - h["mcc"]], capsize=2, color="tab:blue")
    left.set_yticks(y, h["label"])
    left.invert_yaxis()
    left.set_xlabel("MCC (median over features)")
    right.barh(y, 100 * h["missing_rate"], color="tab:red")
    right.set_xlabel("missing answers (%)")
    fig.suptitle("MCC and missing values")
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


def _table(frame: pd.DataFrame) -> str:
    """A table that scrolls sideways inside the page, never the page itself.
    Cells are escaped; only the interval markup of `_with_interval` is kept."""
    if frame.empty:
        return "<p><em>none in this experiment</em></p>"
    shown = frame.map(
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


def html(tables: Tables, files: Mapping[str, Path], *, experiment: str, n_boot: int) -> str:
    """The whole report as one page: tables inline, figures embedded as data URIs."""
    # The label says model, route, shots, selection and mode; headline.csv keeps them apart.
    h = tables["headline"].drop(columns=["model", "route", "shots", "selection", "mode", "run_id"], errors="ignore")
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
    wide = tables["per_feature"].query("metric == 'macro_f1'").pivot(index="label", columns="feature", values="value")
    wide = wide.reindex(index=tables["headline"]["label"]).reset_index()

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
figure {{ margin: 1em 0 2em; }} img {{ max-width: 100%; }} figcaption {{ color: #555; font-size: 13px; }}
</style></head><body>
<h1>{title}</h1>
<p>{len(h)} rows, generated {generated}. Point estimates are the runs' logged metrics (medians over the
features, as in the reference study); brackets hold 95% percentile bootstrap intervals over documents
({n_boot} resamples), and over example draws for a row of several (the mean of its draws). Comparisons pair
runs that differ only in route, or only in model, on the documents both scored (draw by draw); p-values
are Holm-corrected within each table (<code>p_holm</code>).</p>
<h2>Headline</h2>{_table(h)}
<h2>Macro-F1 per feature</h2>{_table(wide)}
{figure("heatmap", "Macro-F1 per run and feature.")}
<h2>Paired comparisons: median macro-F1, B minus A</h2>{_table(comparisons)}
<h2>Per feature: macro-F1 difference and McNemar's exact test</h2>
<details><summary>{len(features)} rows (McNemar counts: A right where B is wrong, and the reverse)</summary>
{_table(features)}</details>
{figure("route_effects", "Translation and route effects: macro-F1 of route B minus route A, per feature.")}
{figure("sensitivity_specificity", "Median sensitivity and specificity per run.")}
{figure("mcc_missing", "Median MCC and the share of missing answers per run.")}
</body></html>
"""
