"""The training pool: score mapping, battle conversion, Bradley-Terry, split, leakage check."""
import numpy as np
import pandas as pd
import pytest

from ragrouter_lib.core.config import setup
from ragrouter_lib.data import leakage, loading
from ragrouter_lib.runs import experiments
from ragrouter_lib.labels import pairwise, pool_labels

S, W = pool_labels.STRONG, pool_labels.WEAK


def test_pool_size_and_labels():
    pool = pool_labels.build_pool()
    assert len(pool) == 6754  # MISSION.md: the labelled offline pool once missing scores are dropped
    assert set(pool.score) <= {1, 2, 3, 4, 5}
    assert (pool.strong_needed == (pool.score <= 3)).all()
    rb = pool[pool.panel == "routerbench"]
    # on RouterBench rows the score agrees with the pair's own answers
    assert (rb[rb.weak_correct == 1].score >= 4).all() and (rb[rb.weak_correct == 0].score <= 3).all()
    assert (rb[(rb.weak_correct == 0) & (rb.strong_correct == 1)].score == 1).all()


def test_panel_battles_on_hand_made_rows():
    pool = pd.DataFrame({"panel": ["routerbench"] * 2, "prompt": ["p", "q"]})
    for m in loading.ROUTERBENCH_MODELS:
        pool[m] = 0.0
    pool.loc[0, S] = 1.0           # row 0: only the strong model right
    pool.loc[1, [S, W]] = 1.0      # row 1: both right
    pool.loc[1, "claude-v2"] = np.nan  # missing answers never make a battle
    b = pairwise.panel_battles(pool)
    n = len(loading.ROUTERBENCH_MODELS)
    assert len(b) == n * (n - 1) // 2 + (n - 1) * (n - 2) // 2
    sw = b[(b.row == 0) & (((b.model_a == S) & (b.model_b == W)) | ((b.model_a == W) & (b.model_b == S)))]
    assert len(sw) == 1 and sw.winner.iloc[0] == ("a" if sw.model_a.iloc[0] == S else "b")
    both = b[(b.row == 1) & b.model_a.isin([S, W]) & b.model_b.isin([S, W])]
    assert both.winner.tolist() == ["tie"]
    assert not ((b.row == 1) & ((b.model_a == "claude-v2") | (b.model_b == "claude-v2"))).any()


def test_pair_battles_from_scores():
    pool = pd.DataFrame({"score": [1, 3, 4, 5]})
    b = pairwise.pair_battles(pool)
    assert b.winner.tolist() == ["a", "a", "tie", "b"]
    assert (b.model_a == S).all() and (b.model_b == W).all()


def test_arena_rows_scored_against_strong_model():
    arena = pd.DataFrame({"id": [1, 2, 3, 4], "model_a": [S, "x", S, "x"], "model_b": ["y", S, "y", "z"],
                          "winner": ["a", "a", "tie", "b"], "prompt_text": ["p1", "p2", "p3", "p4"]})
    out = pool_labels.arena_scores(arena)
    assert out.score.tolist() == [2, 5, 4]  # strong won, strong lost, tie; row 4 has no strong model


def test_bradley_terry_orders_models():
    b = pd.DataFrame({"model_a": ["x", "x", "y", "x"], "model_b": ["y", "z", "z", "y"],
                      "winner": ["a", "a", "a", "tie"]})
    r = pairwise.bradley_terry(b)
    assert list(r.index) == ["x", "y", "z"]


def test_split_is_seeded_and_keeps_duplicates_together():
    pool = pd.DataFrame({"prompt": [f"q{i}" for i in range(400)] + ["Same  prompt!", "same prompt"]})
    a, b = pool_labels.split(pool, seed=1), pool_labels.split(pool, seed=1)
    assert a.equals(b) and not a.equals(pool_labels.split(pool, seed=2))
    assert a.iloc[-1] == a.iloc[-2]
    assert 0.08 < (a == "valid").mean() < 0.25


def test_leakage_report_finds_exact_and_near_duplicates():
    ev = {"mmlu": ["What is the capital of France?\nA. Paris", "Unrelated"]}
    train = ["what is the CAPITAL of france ? a paris", "other", "x"]
    rep = leakage.leakage_report(train, ev)
    assert rep[["eval_idx", "train_idx", "kind"]].values.tolist() == [[0, 0, "exact"]]
    emb_t = np.array([[1, 0], [0, 1], [0.999, 0.04]], float)
    emb_e = {"mmlu": np.array([[0, 1.0], [1, 0]], float)}
    rep = leakage.leakage_report(["a", "b", "c"], {"mmlu": ["d", "e"]}, emb_t, emb_e, threshold=0.95)
    assert sorted(rep.train_idx.tolist()) == [0, 1, 2] and set(rep.kind) == {"near-duplicate"}


def test_planted_evaluation_prompt_stops_the_run():
    cfg = setup("smoke", verbose=False)
    evals = {b: ev.head(30) for b, ev in experiments.load_evals(cfg).items()}
    pool = experiments.load_pool(cfg).head(40)
    experiments.check_leakage(pool, evals)  # clean: passes
    planted = pd.concat([pool, pool.head(1).assign(prompt=evals["gsm8k"].prompt.iloc[3] + " ")])
    with pytest.raises(leakage.LeakageError):
        experiments.check_leakage(planted, evals)


def test_tiers_keep_the_pair_apart_without_evidence():
    """A selection fold without any battle of the routed pair still puts the strong model's tier
    above the weak model's (RouteLLM's premise), instead of failing."""
    import pandas as pd

    from ragrouter_lib.labels import pairwise, pool_labels
    elo = pd.Series({pool_labels.STRONG: 1000.0, pool_labels.WEAK: 1000.0, "x": 1200.0, "y": 800.0})
    t = pairwise.tiers(elo, 3)
    assert t[pool_labels.STRONG] == 0 and t[pool_labels.WEAK] == 1 and t["x"] == 0 and t["y"] >= 1
