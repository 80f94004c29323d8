import numpy as np
import pytest
from scipy.stats import binomtest

from harness import metrics, stats


def _confusion(gold, pred):
    y, p = np.asarray(gold, bool), np.asarray(pred, bool)
    return (y & p).sum(), (~y & ~p).sum(), (~y & p).sum(), (y & ~p).sum()


@pytest.mark.parametrize("seed", range(40))
def test_count_metrics_equal_scikit_learn_per_feature(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 30))
    gold = rng.random(n) < rng.choice([0.0, 0.1, 0.5, 1.0])  # includes one-class features
    pred = rng.random(n) < rng.choice([0.0, 0.3, 0.7, 1.0])
    expected = metrics.feature_metrics(gold.tolist(), pred.tolist())
    got = stats.count_metrics(*_confusion(gold, pred))
    for m in got:
        assert float(got[m]) == pytest.approx(expected[m], abs=1e-12), m


def test_medians_with_unit_weights_are_the_logged_medians():
    rng = np.random.default_rng(1)
    gold, pred = rng.random((50, 13)) < 0.3, rng.random((50, 13)) < 0.3
    missing = rng.random((50, 13)) < 0.05
    pred &= ~missing  # a missing answer counts as False
    keys = [f"f{j}" for j in range(13)]
    per_feature = metrics.score(
        [dict(zip(keys, g)) for g in gold.tolist()],
        [{k: (None if m else v) for k, v, m in zip(keys, p, ms)} for p, ms in zip(pred.tolist(), missing.tolist())],
        keys,
    )
    logged = metrics.summarize(per_feature, n_docs=50)
    once = stats.medians(gold, pred, missing, np.ones((1, 50)))
    for m in stats.HEADLINE:
        assert once[m][0] == pytest.approx(logged[f"median/{m}"])
    assert once["missing_rate"][0] == pytest.approx(logged["missing/rate"])


def test_resample_weights_draw_n_documents_with_replacement():
    w = stats.resample_weights(n_docs=20, n_boot=500, seed=3)
    assert w.shape == (500, 20) and (w.sum(axis=1) == 20).all()
    assert (w == 0).any() and (w > 1).any()
    assert (stats.resample_weights(20, 500, seed=3) == w).all()


def test_interval_of_a_tight_statistic_contains_it():
    rng = np.random.default_rng(0)
    gold = rng.random((200, 13)) < 0.3
    pred = np.where(rng.random((200, 13)) < 0.85, gold, ~gold)
    point = stats.medians(gold, pred, np.zeros_like(gold), np.ones((1, 200)))
    samples = stats.medians(gold, pred, np.zeros_like(gold), stats.resample_weights(200, 1000, 0))
    for m in stats.HEADLINE:
        lo, hi = stats.interval(samples[m])
        assert lo <= point[m][0] <= hi and hi - lo < 0.2


def test_bootstrap_p_value():
    assert stats.two_sided_p(np.zeros(99)) == 1.0
    assert stats.two_sided_p(np.full(99, 0.1)) == pytest.approx(2 / 100)  # never 0 from a finite resample
    assert stats.two_sided_p(np.r_[np.full(90, 0.1), np.full(9, -0.1)]) == pytest.approx(2 * 10 / 100)


def test_mcnemar_counts_discordant_pairs_and_is_exact():
    gold = [True] * 10 + [False] * 10
    a = [True] * 10 + [False] * 10  # always right
    b = [False] * 7 + [True] * 3 + [False] * 9 + [True]  # wrong on 7 positives and 1 negative
    a_only, b_only, p = stats.mcnemar(gold, a, b)
    assert (a_only, b_only) == (8, 0)
    assert p == pytest.approx(binomtest(0, 8, 0.5).pvalue) and p == pytest.approx(2 / 2**8)
    assert stats.mcnemar(gold, a, a) == (0, 0, 1.0)


def test_holm_matches_the_textbook_example():
    # Holm (1979) step-down: sorted p * (m, m-1, ...), made monotone, capped at 1.
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert stats.holm([]) == []
