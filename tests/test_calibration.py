"""Score-mode calibration: the offsets and shifted probabilities against
hand-computed values, and a cell's run - which transcripts the extra passes
read, what is logged, batch calibration's independence from chunking."""

import math

import pytest

from harness import calibration as cal
from harness.backends.scripted import ScriptedBackend
from harness.cell import prepare, route_of
from harness.config import Calibration
from harness.errors import HarnessError
from harness.pipeline import run_cell

from .conftest import composed


def test_offsets_and_shifts_match_hand_computed_values():
    # Two content-free inputs give P(true) 0.1 and 0.3 (mean 0.2) on one field, 0.5 twice on another.
    offsets = cal.reference_offsets([[0.1, 0.5], [0.3, 0.5]])
    assert offsets == pytest.approx([math.log(0.2 / 0.8), 0.0])
    # Zhao et al.'s rule by hand: P(true) 0.6 against a content-free 0.3, divided and renormalised.
    by_hand = (0.6 / 0.3) / (0.6 / 0.3 + 0.4 / 0.7)
    assert cal.shifted([0.6], [cal.logit(0.3)]) == pytest.approx((by_hand,))
    assert cal.shifted([0.2, 0.7], offsets) == pytest.approx((0.5, 0.7))  # the content-free P(true) becomes 0.5
    # Batch: the mean log-odds; 0.2 and 0.8 cancel, 0.1 and 0.5 average to log(1/9) / 2.
    assert cal.batch_offsets([[0.2, 0.1], [0.8, 0.5]]) == pytest.approx([0.0, math.log(1 / 9) / 2])
    assert cal.shifted([1.0], [0.0]) == pytest.approx((1 - cal.EPS,))  # clipped, never infinite


def test_random_words_come_from_the_texts_at_their_mean_length():
    texts = ["fever and cough", "no pain at all today"]  # 3 and 5 words: 4 a transcript
    drawn = cal.random_words(texts, 5, seed=1)
    assert len(drawn) == 5 and all(len(t.split()) == 4 for t in drawn)
    assert {w for t in drawn for w in t.split()} <= set(" ".join(texts).split())
    assert drawn == cal.random_words(texts, 5, seed=1) != cal.random_words(texts, 5, seed=2)
    assert cal.reference_texts(Calibration.contextual, texts, 20, 0) == ["N/A", ""]
    assert cal.reference_texts(Calibration.batch, texts, 20, 0) == []


class Recording(ScriptedBackend):
    """The scripted backend, keeping the transcripts it was asked to score."""

    def score(self, requests, on_batch=None):
        self.read = [*getattr(self, "read", []), *(r.text for r in requests)]
        return super().score(requests, on_batch)


def _run(method: str, *overrides: str, chunk_size: int = 32):
    conf, _ = composed(
        "model=scripted", "prompt.mode=score", f"prompt.calibration={method}", "dataset.limit=6", *overrides
    )
    cell = prepare(conf)
    first = cell.evaluated[0].id
    backend = Recording(answers={first: [0.3] * len(cell.task.keys)}, default_prob=0.2, delay_s=0.001)
    return cell, backend, run_cell(cell, backend, route_of(conf), chunk_size=chunk_size)


def test_contextual_calibration_reads_content_free_transcripts_and_logs_its_offsets():
    cell, backend, result = _run("contextual")
    assert backend.read[:2] == ["N/A", ""]  # the extra passes, then the documents
    key = cell.task.keys[0]
    assert result.metrics[f"calibration/{key}"] == pytest.approx(cal.logit(0.2))
    first, rest = result.predictions[0], result.predictions[1:]
    assert first.prob[key] == pytest.approx(1.5 / (1.5 + 0.7 / 0.8)) and first.pred[key] is True
    assert all(p.prob[key] == pytest.approx(0.5) and p.pred[key] is False for p in rest)
    # The two extra passes count in the throughput: 6 documents in the time of 8.
    assert result.metrics["throughput/docs_per_s"] == pytest.approx(6 / 0.008)


def test_domain_calibration_reads_random_pool_words():
    cell, backend, result = _run("domain", "prompt.calibration_samples=4")
    references = backend.read[:4]
    pool_words = {w for d in cell.pool for w in d.text.split()}
    assert len(references) == 4 and all(t and set(t.split()) <= pool_words for t in references)
    assert len(backend.read) == 4 + 6


def test_batch_calibration_subtracts_the_mean_log_odds_whatever_the_chunks():
    cell, backend, result = _run("batch", chunk_size=2)
    assert backend.read == [d.text for d in cell.evaluated]  # no extra pass
    key = cell.task.keys[0]
    offset = (cal.logit(0.3) + 5 * cal.logit(0.2)) / 6
    assert result.metrics[f"calibration/{key}"] == pytest.approx(offset)
    assert result.predictions[0].prob[key] == pytest.approx(cal.sigmoid(cal.logit(0.3) - offset))
    whole = _run("batch", chunk_size=100)[2]
    assert [p.prob[key] for p in whole.predictions] == pytest.approx([p.prob[key] for p in result.predictions])


def test_calibration_composes_with_dev_thresholds():
    _, _, result = _run("contextual", "prompt.threshold=dev")
    assert any(k.startswith("threshold/") for k in result.metrics)
    assert any(k.startswith("calibration/") for k in result.metrics)


def test_calibration_needs_score_mode():
    conf, _ = composed("prompt.calibration=batch")
    with pytest.raises(HarnessError, match="prompt.calibration=batch moves P\\(true\\): it needs prompt.mode=score"):
        prepare(conf)


def test_no_calibration_is_no_setting_in_the_cells_identity():
    """Cells logged before prompt.calibration existed keep their identity
    (resume finds them); the sample count is part of a domain cell only."""
    from harness import identity

    def ident(**prompt):
        plain = {"model": {"name": "m", "backend": {}}, "prompt": {"shots": 3, **prompt}, "seed": 1}
        args = dict(dataset_digest="d", pool_digest=None, shot_ids=["a"])
        return identity.digest(
            identity.cell_identity(plain, reads_prompt=True, learns_from_pool=False, translates=False, **args)
        )

    assert ident(calibration="none", calibration_samples=20) == ident() == ident(calibration="none")
    assert ident(calibration="batch", calibration_samples=5) == ident(calibration="batch", calibration_samples=20)
    assert ident(calibration="domain", calibration_samples=5) != ident(calibration="domain", calibration_samples=20)
    assert ident(calibration="batch") != ident()


def test_calibration_departs_from_the_studys_decision_rule():
    from harness.plan import plan

    assert "threshold" not in plan(*composed("model=scripted", "prompt.mode=score")).departures
    assert "threshold" in plan(*composed("model=scripted", "prompt.mode=score", "prompt.calibration=batch")).departures
