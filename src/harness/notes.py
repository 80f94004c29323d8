"""A run's MLflow description (the markdown note the UI shows on the run's
page): its headline with 95% bootstrap intervals, what it scored, its
protocol in words, and the verdict the report gives. Pure: predictions in,
markdown out."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from . import stats
from .protocol import BASELINE, DEPARTURE_WORDS
from .records import Prediction

N_BOOT = 1000  # resamples for a run's own intervals (the report takes more)


def arrays(predictions: Sequence[Prediction]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(gold, pred, missing), documents x features, a missing value counted false."""
    keys = list(predictions[0].gold)
    gold = np.array([[p.gold[k] for k in keys] for p in predictions], dtype=bool)
    pred = np.array([[p.pred[k] is True for k in keys] for p in predictions], dtype=bool)
    missing = np.array([[p.pred[k] is None for k in keys] for p in predictions], dtype=bool)
    return gold, pred, missing


def run_note(
    predictions: Sequence[Prediction],
    *,
    name: str,
    scored: str,
    protocol: str,
    departures: Sequence[str],
    seed: int = 0,
) -> str:
    """The description of a run named `name` that scored `scored` (words:
    "40 test documents of demo_fa")."""
    gold, pred, missing = arrays(predictions)
    point = stats.medians(gold, pred, missing, np.ones((1, len(predictions))))
    samples = stats.medians(gold, pred, missing, stats.resample_weights(len(predictions), N_BOOT, seed))
    (f1_lo, f1_hi), (mcc_lo, mcc_hi) = stats.interval(samples["macro_f1"]), stats.interval(samples["mcc"])
    if protocol == BASELINE:
        how = "no language model (a baseline): of the reference study's protocol only the documents scored apply"
        ways = "".join(f"; it {DEPARTURE_WORDS.get(d, d)}" for d in departures)
        how += ways + "." if departures else ", as the study's."
    elif departures:
        how = f"protocol `{protocol}`, departing from the reference study's in {len(departures)} elements:\n" + (
            "\n".join(f"- `{d}`: it {DEPARTURE_WORDS.get(d, d)}" for d in departures)
        )
    else:
        how = f"protocol `{protocol}`: every element is the reference study's."
    return "\n".join(
        [
            f"**{name}**: median macro-F1 {point['macro_f1'][0]:.3f} [{f1_lo:.3f}, {f1_hi:.3f}], "
            f"MCC {point['mcc'][0]:.3f} [{mcc_lo:.3f}, {mcc_hi:.3f}] (medians over {gold.shape[1]} features; "
            f"95% bootstrap intervals over documents, {N_BOOT} resamples), missing answers "
            f"{100 * missing.mean():.1f}%.",
            "",
            f"Verdict: {stats.verdict(mcc_lo, mcc_hi)}.",
            "",
            f"Scored {scored}; {how}",
            "",
            "Artifacts: `predictions_table.json` (one row per document), `per_feature.csv`, `prompt.txt`. "
            "`harness-report` compares this run with the others of its experiment.",
        ]
    )
