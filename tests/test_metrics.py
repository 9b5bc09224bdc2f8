"""Metrics against hand-worked curves (values computed on paper, see comments), a non-monotonic
curve, many tied scores, and RouteLLM's published Random-router behaviour."""
import numpy as np
import pandas as pd
import pytest

from ragrouter_lib.data import loading
from ragrouter_lib.evaluation import metrics

# Ten prompts, prompt i has score i/10 (so rank i). Weak right on ranks 0-5, strong wrong on rank 0.
# w = 0.6, s = 0.9. Routing the top m ranks to the strong model gives accuracy
# m: 0->.6, 1->.7, 2->.8, 3->.9, 4..9->1.0, 10->.9   (percent strong = 10 m)
SCORES = np.arange(10) / 10
WEAK = np.array([1, 1, 1, 1, 1, 1, 0, 0, 0, 0], bool)
STRONG = np.array([0, 1, 1, 1, 1, 1, 1, 1, 1, 1], bool)
HAND_PCT = [100, 90, 80, 70, 60, 50, 40, 30, 20, 10, 0]
HAND_ACC = [0.9, 1, 1, 1, 1, 1, 1, 0.9, 0.8, 0.7, 0.6]


def test_hand_worked_curve_points():
    c = metrics.routing_curve(SCORES, WEAK, STRONG)
    assert c["pct_strong"].tolist() == pytest.approx(HAND_PCT)
    assert c["accuracy"].tolist() == pytest.approx(HAND_ACC)


def test_hand_worked_cpt_and_apgr():
    c = metrics.routing_curve(SCORES, WEAK, STRONG)
    # CPT(50%): target .75 between (10, .7) and (20, .8) -> 15; CPT(80%): target .84 -> 24
    assert metrics.cpt(c, 0.5, 0.6, 0.9) == pytest.approx(15.0)
    assert metrics.cpt(c, 0.8, 0.6, 0.9) == pytest.approx(24.0)
    # AUC = .065 + .075 + .085 + .095 + 5 * .1 + .095 = .915 ; APGR = (.915 - .6) / .3 = 1.05
    assert metrics.auc(c) == pytest.approx(0.915)
    assert metrics.apgr(c, 0.6, 0.9) == pytest.approx(1.05)


def test_edge_rule_ge_then_gt():
    """First edge routes everything (>= min), last edge nothing (> max): the curve spans 100..0."""
    c = metrics.routing_curve(SCORES, WEAK, STRONG)
    assert c["pct_strong"].iloc[0] == 100.0 and c["pct_strong"].iloc[-1] == 0.0
    assert c["accuracy"].iloc[0] == pytest.approx(STRONG.mean())
    assert c["accuracy"].iloc[-1] == pytest.approx(WEAK.mean())


def test_non_monotonic_curve_uses_first_crossing():
    c = pd.DataFrame({"pct_strong": [100, 0, 10, 20, 30], "accuracy": [0.9, 0.6, 0.8, 0.7, 0.9]})
    # sorted by pct: (0,.6) (10,.8) (20,.7) (30,.9) (100,.9); target .75 first reached at 10 -> 7.5
    assert metrics.cpt(c, 0.5, 0.6, 0.9) == pytest.approx(7.5)
    # target .84: the dip at 20 does not count, crossing between (20,.7) and (30,.9) -> 27
    assert metrics.cpt(c, 0.8, 0.6, 0.9) == pytest.approx(27.0)


def test_pgr():
    assert metrics.pgr([0.6, 0.75, 0.9], 0.6, 0.9) == pytest.approx([0, 0.5, 1])


def test_many_ties_are_broken_deterministically():
    rng = np.random.default_rng(0)
    weak, strong = rng.random(200) < 0.6, rng.random(200) < 0.8
    scores = np.round(rng.random(200) * 3) / 3  # only 4 distinct values
    a = metrics.routing_curve(scores, weak, strong, seed=7)
    b = metrics.routing_curve(scores, weak, strong, seed=7)
    pd.testing.assert_frame_equal(a, b)
    # tie-breaking still gives exact deciles of strong calls
    assert a["pct_strong"].tolist() == pytest.approx(HAND_PCT)
    # ...and the order between tied prompts depends on the seed
    others = [metrics.routing_curve(scores, weak, strong, seed=s)["accuracy"].tolist() for s in range(5)]
    assert len({tuple(o) for o in others}) > 1


def test_all_tied_scores_are_random_routing():
    weak, strong = np.arange(1000) % 3 == 0, np.ones(1000, bool)
    c = metrics.routing_curve(np.zeros(1000), weak, strong, seed=1)
    # every decile of strong calls recovers about that share of the gap
    assert metrics.apgr(c, weak.mean(), 1.0) == pytest.approx(0.5, abs=0.03)


def test_ranking_keeps_non_tied_order():
    r = metrics.tie_broken_ranks(np.array([0.3, 0.1, 0.2]))
    assert r.tolist() == [2, 0, 1]


def test_bad_inputs_raise():
    with pytest.raises(ValueError):
        metrics.routing_curve([0.1, np.nan], [1, 0], [1, 1])
    with pytest.raises(ValueError):
        metrics.routing_curve([0.1, 0.2], [1, 0, 1], [1, 1])


def test_perfect_and_inverted_router():
    weak = np.array([1] * 50 + [0] * 50, bool)
    strong = np.ones(100, bool)
    good = metrics.routing_curve((~weak).astype(float), weak, strong)
    bad = metrics.routing_curve(weak.astype(float), weak, strong)
    assert metrics.cpt(good, 0.5, 0.5, 1.0) == pytest.approx(25.0)
    # good: accuracy rises linearly 0.5 -> 1 over 0-50% then stays: AUC .375 + .5 = .875 -> .75
    assert metrics.apgr(good, 0.5, 1.0) == pytest.approx(0.75)
    # inverted: flat 0.5 until 50%, then linear to 1: AUC .25 + .375 = .625 -> .25
    assert metrics.apgr(bad, 0.5, 1.0) == pytest.approx(0.25)
    assert metrics.cpt(bad, 0.5, 0.5, 1.0) == pytest.approx(75.0)


@pytest.mark.parametrize("bench", ["mmlu", "gsm8k"])
def test_random_router_matches_routellm_published(bench):
    """RouteLLM reports Random at CPT(50%) ~ 50, CPT(80%) ~ 80, APGR ~ 0.50 on both benchmarks."""
    ev = loading.load_eval(bench)
    w, s = ev.weak_correct.mean(), ev.strong_correct.mean()
    c = metrics.random_curve(ev.weak_correct.values, ev.strong_correct.values, n_runs=10, seed=0)
    out = metrics.summarize(c, w, s)
    assert out["cpt50"] == pytest.approx(50, abs=2.5)
    assert out["cpt80"] == pytest.approx(80, abs=2.5)
    assert out["apgr"] == pytest.approx(0.50, abs=0.015)
