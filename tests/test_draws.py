"""Example draws as an axis: prompt.draws=N runs the cell once per seed
(seed, seed+1, ...), which a sweep over seed= matches run for run; the
report folds a group of draws into one row and pairs two groups draw by
draw, against an independent computation of both."""

import numpy as np
import pytest
from omegaconf import OmegaConf
from sklearn.metrics import f1_score

from harness import cli, comparisons, identity, names, report, stats
from harness.config import typed
from harness.errors import HarnessError

from .conftest import compose_config, store_overrides, store_runs


def _typed(*overrides):
    cfg = compose_config(*overrides)
    return (*typed(cfg), OmegaConf.to_yaml(cfg))


def test_draws_are_one_run_per_seed_and_a_seed_sweep_is_the_same_cells(workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    common = (*store_overrides(workdir), "model=scripted", "dataset.limit=4")
    cli.run_typed(*_typed(*common, "prompt.draws=3"))
    runs = store_runs(workdir)
    assert sorted(runs["params.seed"]) == ["42", "43", "44"] and set(runs["params.prompt.draws"]) == {"3"}
    assert runs["params.config_hash"].nunique() == 3 and runs["params.comparison_key.draws"].nunique() == 1
    assert runs["params.shots"].tolist() == ["3"] * 3
    cli.run_typed(*_typed(*common, "seed=43"))  # the second draw's cell: already finished, so skipped
    assert len(store_runs(workdir)) == 3


def test_draws_need_a_selection_that_draws(workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    with pytest.raises(HarnessError, match="prompt.selection=knn draws nothing"):
        cli.run_typed(*_typed(*store_overrides(workdir), "model=scripted", "prompt.draws=2", "prompt.selection=knn"))
    assert store_runs(workdir).empty  # refused before any run


GOLD = np.array([[True, False], [False, True], [True, True], [False, False], [True, False], [False, True]])


def _draw(route: str, seed: int, pred: np.ndarray) -> report.Run:
    """A run of one draw, its comparison keys from harness.identity, its logged
    median macro-F1 that of its predictions (as `harness` logs it)."""
    plain = {
        "model": {"name": "m", "backend": {"_target_": "m"}},
        "route": {"name": route, "prompt_language": "source"},
        "seed": seed,
        "prompt": {"name": "json", "shots": 1, "pool": "real", "draws": 3},
        "dataset": {"name": "d", "path": "d.csv"},
    }
    ident = identity.cell_identity(
        plain,
        reads_prompt=True,
        learns_from_pool=False,
        translates=False,
        dataset_digest="x",
        pool_digest=None,
        shot_ids=[f"shot-{seed}"],
    )
    keys = ("fever", "pain")
    rows = [
        {"id": str(i), "gold": dict(zip(keys, map(bool, g))), "pred": dict(zip(keys, map(bool, p)))}
        for i, (g, p) in enumerate(zip(GOLD, pred))
    ]
    f1 = [f1_score(GOLD[:, j], pred[:, j], average="macro") for j in range(2)]
    params = {"model": "m", "route": route, "seed": str(seed), "selection": "random", "baseline": "false"}
    params.update({names.COMPARISON_KEYS[k]: v for k, v in identity.comparison_keys(ident).items()})
    return report.Run(
        {
            "run_id": f"{route}{seed}",
            "name": f"m|{route}|1shot",
            "params": params,
            "metrics": {
                "median/macro_f1": float(np.median(f1)),
                **{f"feature/{k}/macro_f1": v for k, v in zip(keys, f1)},
            },
            "predictions": rows,
        }
    )


def _preds(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random(GOLD.shape) < 0.5


def _by_hand(preds: list[np.ndarray], n_boot: int, seed: int) -> tuple[float, float]:
    """Resample documents, then draws, and average the draws' median macro-F1 (scikit-learn's)."""
    weights = stats.resample_weights(len(GOLD), n_boot, seed)
    picks = np.random.default_rng(seed + 1).integers(0, len(preds), size=(n_boot, len(preds)))
    replicates = []
    for b in range(n_boot):
        docs = np.repeat(np.arange(len(GOLD)), weights[b].astype(int))
        per_draw = [np.median([f1_score(GOLD[docs, j], p[docs, j], average="macro") for j in range(2)]) for p in preds]
        replicates.append(np.mean([per_draw[d] for d in picks[b]]))
    return stats.interval(np.array(replicates))


def test_the_report_folds_draws_into_one_row_and_pairs_groups_draw_by_draw():
    native = [_draw("native", s, _preds(s)) for s in (42, 43, 44)]
    reference = [_draw("reference", s, _preds(100 + s)) for s in (42, 43, 44)]
    runs = native + reference
    grouped = report.label_runs(runs)
    assert [len(g) for g in grouped] == [3, 3]
    headline = report.headline(grouped, n_boot=200, seed=0).set_index("label")
    row = headline.loc["m|native|1shot (3 draws)"]
    f1s = [r.metrics["median/macro_f1"] for r in native]
    assert row["draws"] == 3 and row["macro_f1"] == pytest.approx(np.mean(f1s))
    assert (row["macro_f1_min"], row["macro_f1_max"]) == (min(f1s), max(f1s))
    assert row["macro_f1_sd"] == pytest.approx(np.std(f1s, ddof=1))
    assert (row["macro_f1_lo"], row["macro_f1_hi"]) == pytest.approx(
        _by_hand([_preds(s) for s in (42, 43, 44)], 200, 0)
    )

    summary, features = comparisons.compare(runs, n_boot=200, seed=0)
    (pair,) = summary.itertuples()
    assert pair.draws == 3 and pair.a == "m|native|1shot (3 draws)"
    deltas = [b.metrics["median/macro_f1"] - a.metrics["median/macro_f1"] for a, b in zip(native, reference)]
    assert pair.delta == pytest.approx(np.mean(deltas))
    assert features["p_mcnemar"].isna().all()  # no McNemar test across draws
    assert features["a_right_b_wrong"].sum() > 0


def test_a_single_draw_says_so():
    (row,) = report.headline(report.label_runs([_draw("native", 42, _preds(42))]), n_boot=20, seed=0).itertuples()
    assert row.draws == 1 and row.note.startswith("one example draw")
