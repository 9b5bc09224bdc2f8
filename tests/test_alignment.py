"""Label alignment (ragrouter_lib/labels/alignment.py) on synthetic pools where sources differ in base rate.

The feature that ranks prompts within each source points the other way between sources (like token
length in the real pool): a pooled fit learns the wrong sign; per-source rebalancing and source
fixed effects must recover the within-source ranking.
"""
import numpy as np
import pandas as pd
import pytest

from ragrouter_lib.labels import alignment
from ragrouter_lib.routers import get_router, selection
from ragrouter_lib.routers.extra import _SklearnRouter  # noqa: F401  (embed is patched on the base)
from ragrouter_lib.routers.training import TrainableRouter


def confounded_pool(n_per=400, seed=0):
    """Sources A/B/C: feature z = mu_s + e; P(strong) = sigmoid(b_s + 2e); mu_s and b_s opposed."""
    rng = np.random.default_rng(seed)
    rows, feats = [], {}
    for s, mu, b in (("A", 3.0, -2.5), ("B", 0.0, 0.0), ("C", -3.0, 2.5)):
        e = rng.normal(size=n_per)
        y = rng.random(n_per) < 1 / (1 + np.exp(-(b + 2 * e)))
        for i in range(n_per):
            p = f"{s}-{i}"
            feats[p] = np.array([mu + e[i], rng.normal()], np.float32)
            rows.append({"prompt": p, "source": s, "strong_needed": bool(y[i]), "score": 2 if y[i] else 5})
    return pd.DataFrame(rows), feats


@pytest.fixture
def patched(monkeypatch):
    pool, feats = confounded_pool()
    monkeypatch.setattr(TrainableRouter, "embed", lambda self, prompts: np.stack([feats[p] for p in prompts]))
    return pool


def test_rebalance_weights_balance_each_source():
    pool, _ = confounded_pool(200)
    w = alignment.sample_weights(pool, "rebalance")
    for s, g in pool.assign(w=w).groupby("source"):
        pos, neg = g.w[g.strong_needed].sum(), g.w[~g.strong_needed].sum()
        assert pos == pytest.approx(neg, rel=1e-9)
        assert g.w.sum() == pytest.approx(len(g), rel=1e-9)  # each source keeps its weight
    assert np.allclose(alignment.sample_weights(pool, "none"), 1.0)


def test_centred_labels_remove_base_rates():
    pool, _ = confounded_pool(200)
    yc = alignment.centred_labels(pool)
    means = pd.Series(yc).groupby(pool.source.values).mean()
    assert np.allclose(means, pool.strong_needed.mean())


@pytest.mark.parametrize("router", ["logreg", "svm", "knn", "kmeans"])
def test_alignment_recovers_within_source_ranking(patched, router):
    pool = patched
    hp = {"knn": {"k": 50}, "kmeans": {"n_clusters": 16}}.get(router, {})
    auc = {}
    for v in alignment.SUPPORTED[router]:
        r = get_router(router, alignment=v, **hp).fit(pool)
        auc[v] = selection.within_source_auc(r.score(list(pool.prompt)), pool)[0]
    if router == "logreg":  # the pooled linear fit ranks within sources the wrong way
        assert auc["none"] < 0.5
        assert auc["rebalance"] > 0.7 and auc["source_fe"] > 0.7
    for v in alignment.SUPPORTED[router][1:]:  # local models are hurt less, but still helped
        assert auc[v] > auc["none"] + 0.05, (v, auc)


def test_sw_ranking_refuses_source_fe():
    with pytest.raises(ValueError):
        alignment.check("bogus")
    assert "source_fe" not in alignment.SUPPORTED["sw_ranking"]


def test_resample_follows_weights():
    w = np.array([1.0, 3.0] * 500)
    idx = alignment.resample(w, seed=0)
    assert len(idx) == len(w)
    assert 0.7 < np.mean(idx % 2 == 1) < 0.8  # ~3/4 of the draws from the heavy rows
    assert np.array_equal(alignment.resample(np.ones(5), 0), np.arange(5))


def test_causal_llm_head_takes_the_alignment(monkeypatch):
    """The torch head (source offsets / resampling inside its fit) is helped like the linear fit."""
    from ragrouter_lib.routers import routellm_baselines as rb
    pool, feats = confounded_pool(300)
    monkeypatch.setattr(rb.encoders, "lm_states",
                        lambda prompts, *a, **k: np.stack([np.r_[feats[p], 0.0] for p in prompts]))
    auc = {}
    for v in alignment.SUPPORTED["causal_llm"]:
        r = get_router("causal_llm", alignment=v, hidden=0, epochs=100, lr=3e-3, seed=0).fit(pool)
        auc[v] = selection.within_source_auc(r.score(list(pool.prompt)), pool)[0]
    assert auc["none"] < 0.5
    assert auc["rebalance"] > 0.7 and auc["source_fe"] > 0.7, auc


def _text_pool(n_per=16, seed=0):
    """Three sources of real sentences whose base rates differ (alpha mostly strong-needed, gamma mostly not)."""
    rng = np.random.default_rng(seed)
    topics = ["apples", "trains", "planets", "proteins", "triangles", "rivers", "poems", "markets"]
    rows = []
    for s, rate in (("alpha", 0.8), ("beta", 0.5), ("gamma", 0.2)):
        for i in range(n_per):
            y = bool(rng.random() < rate)
            rows.append({"pool_id": f"{s}{i}", "prompt": f"Explain the {topics[i % 8]} of {s} case {i}, step {i % 5}.",
                         "source": s, "strong_needed": y, "score": 2 if y else 5})
    return pd.DataFrame(rows)


def test_bert_aligned_row_trains_every_variant(tmp_path, monkeypatch):
    """BERT's aligned row (left out of the smoke profile's ``aligned_routers`` to save its fold fits):
    the driver searches its alignment variants on the grouped folds, and each variant changes the fit."""
    import json
    from types import SimpleNamespace

    from ragrouter_lib.runs import experiments
    monkeypatch.setenv("RAGROUTER_CACHE", str(tmp_path / "cache"))
    pool = _text_pool()
    ev = pd.DataFrame({"prompt": list(pool.prompt[::4] + " Why?"), "weak_correct": [True, False] * 6,
                       "strong_correct": [True] * 12})

    def path(kind, name):
        (tmp_path / kind).mkdir(parents=True, exist_ok=True)
        return tmp_path / kind / name
    cfg = SimpleNamespace(path=path, grid_limit=1, router_seeds=[0], out=tmp_path, selection_folds=2)
    res = experiments.run_baselines(pool, {"mmlu": ev}, cfg, names=["bert"], aligned=["bert"], log=lambda *a: None)
    assert set(res.runs.router) == {"bert", "bert_aligned"}
    tried = res.tuning[res.tuning.router == "bert_aligned"].config.map(lambda c: json.loads(c)["alignment"])
    assert sorted(tried) == sorted(2 * list(alignment.SUPPORTED["bert"][1:]))  # 2 folds x each variant
    hp = {**json.loads(res.runs[res.runs.router == "bert"].hp.iloc[0]), "seed": 0}
    scores = {v: get_router("bert", **{**hp, "alignment": v}).fit(pool).score(list(ev.prompt))
              for v in alignment.SUPPORTED["bert"]}
    for v in alignment.SUPPORTED["bert"][1:]:
        assert not np.allclose(scores[v], scores["none"]), v  # the variant reaches BERT's training
