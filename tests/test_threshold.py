"""prompt.threshold=dev: per feature, the threshold on P(true) that does best
on the dev split, applied to the evaluated documents."""

from dataclasses import replace

import pytest

from harness import protocol
from harness.backends import load_backend
from harness.cell import prepare, protocol_settings, route_of
from harness.errors import HarnessError
from harness.metrics import best_threshold, feature_metrics
from harness.pipeline import run_cell

from .conftest import composed


def _conf(*overrides: str):
    return composed(*overrides)[0]


def test_best_threshold_separates_what_can_be_separated():
    gold = [False, False, True, True, False]
    prob = [0.01, 0.02, 0.04, 0.05, 0.03]  # every P(true) below 0.5, ranking perfect
    t = best_threshold(gold, prob)
    assert 0.03 < t < 0.04
    assert feature_metrics(gold, [p > t for p in prob])["macro_f1"] == 1.0


def test_best_threshold_keeps_the_default_where_nothing_beats_it():
    assert best_threshold([False, False], [0.2, 0.9]) == 0.5  # one class: nothing to calibrate on
    assert best_threshold([False, True], [0.2, 0.9]) == 0.5  # 0.5 separates already; the nearest of equals


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        (["prompt.threshold=dev"], "needs prompt.mode=score"),
        (["prompt.threshold=dev", "prompt.mode=score", "split.evaluate=dev"], "split.evaluate=test"),
        (["prompt.threshold=1.5"], "between 0 and 1"),
        (["prompt.threshold=half"], "between 0 and 1"),
    ],
)
def test_bad_threshold_settings(overrides, fragment):
    with pytest.raises(HarnessError, match=fragment):
        prepare(_conf(*overrides))


def test_a_calibrated_run_departs_from_the_protocol():
    conf = _conf("+experiment=reference_study", "prompt.mode=score", "prompt.threshold=dev", "split.evaluate=test")
    cell = prepare(conf)
    assert "threshold" in protocol.departures(protocol_settings(conf, cell.task, 3, True))
    assert len(cell.calibration) == len([d for d in cell.documents if cell.split_of[d.id] == "dev"])


@pytest.mark.model
def test_calibrated_thresholds_decide_the_fields():
    conf = _conf("route=reference", "prompt.shots=1", "prompt.mode=score", "prompt.threshold=dev", "dataset.limit=6")
    cell = prepare(conf)
    assert [d.id for d in cell.calibration] and {cell.split_of[d.id] for d in cell.calibration} == {"dev"}
    result = run_cell(cell, load_backend(conf.model.backend), route_of(conf))
    thresholds = {k: result.metrics[f"threshold/{k}"] for k in cell.task.keys}
    assert any(t != 0.5 for t in thresholds.values())  # this small model's P(true) sits below 0.5
    for p in result.predictions:
        assert p.pred == {k: p.prob[k] > thresholds[k] for k in cell.task.keys}
    uncalibrated = run_cell(replace(cell, calibration=[]), load_backend(conf.model.backend), route_of(conf))
    assert [p.prob for p in uncalibrated.predictions] == [p.prob for p in result.predictions]
