"""The source-grouped selection protocol (ragrouter_lib/routers/selection.py) on tiny synthetic pools."""
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from ragrouter_lib.labels import pool_labels
from ragrouter_lib.routers import selection


def _pool(sizes, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for s, n in sizes.items():
        for i in range(n):
            rows.append({"prompt": f"{s}-{i}", "source": s, "strong_needed": bool(rng.random() < 0.5)})
    return pd.DataFrame(rows)


def test_folds_keep_sources_whole_and_balanced():
    pool = _pool({"a": 500, "b": 400, "c": 300, "d": 300, "e": 200, "f": 100, "g": 100})
    folds = selection.source_folds(pool, 3, seed=0)
    assert folds.groupby(pool.source).nunique().max() == 1  # a source never straddles folds
    sizes = folds.value_counts()
    assert len(sizes) == 3 and sizes.max() - sizes.min() <= 100
    assert folds.equals(selection.source_folds(pool, 3, seed=0))  # deterministic
    loso = selection.source_folds(pool, None)
    assert loso.nunique() == pool.source.nunique()


def test_within_source_auc_ignores_base_rates_and_one_class_sources():
    df = pd.DataFrame({"source": ["a"] * 4 + ["b"] * 4 + ["c"] * 2,
                       "strong_needed": [0, 0, 1, 1, 0, 0, 1, 1, 1, 1]})
    # perfect ranking inside each source, but source b's scores are all below source a's
    s = np.array([0.6, 0.7, 0.8, 0.9, 0.1, 0.2, 0.3, 0.4, 0.0, 0.0])
    mean, tab = selection.within_source_auc(s, df)
    assert mean == pytest.approx(1.0)
    assert roc_auc_score(df.strong_needed, s) < 0.9  # the pooled AUC is hurt by base rates
    assert np.isnan(tab.set_index("source").auc["c"])


def test_best_epochs_per_stage():
    hist = [{"stage": "extractor", "epoch": 1, "val_auc": 0.6}, {"stage": "extractor", "epoch": 2, "val_auc": 0.7},
            {"stage": "final", "epoch": 1, "val_auc": 0.9}, {"stage": "final", "epoch": 2, "val_auc": 0.8}]
    assert selection.best_epochs(hist, "ragrouter") == {"extractor_epochs": 2, "final_epochs": 1}
    h2 = [{"stage": "mf", "epoch": 1, "val_auc": 0.9, "val_within_auc": 0.5},
          {"stage": "mf", "epoch": 2, "val_auc": 0.6, "val_within_auc": 0.7}]
    assert selection.best_epochs(h2, "bert") == {"epochs": 2}


# --------------------------------------------------------------------- a planted random-label source
class Toy:
    """'linear': score = the within-source signal; 'memo': 1-NN label lookup on the prompt's
    features (memorises duplicated prompts). Records a fake history to test epoch choice."""

    def __init__(self, kind, feats, epochs=None):
        self.kind, self.feats, self.history, self.fit_seconds = kind, feats, [], 0.0
        self.epochs = epochs

    def fit(self, train, valid):
        self.x = np.stack([self.feats[p] for p in train.prompt])
        self.y = train.strong_needed.to_numpy(float)
        if valid is not None:  # best epoch is 3 on every fold
            self.history = [{"epoch": e, "val_auc": 1.0 - abs(e - 3) / 10} for e in range(1, 6)]
        return self

    def score(self, prompts):
        q = np.stack([self.feats[p] for p in prompts])
        if self.kind == "linear":
            return q[:, 0]
        d = ((q[:, None, :] - self.x[None]) ** 2).sum(-1)
        return self.y[d.argmin(1)] + 1e-3 * q[:, 0]


def planted_pool(seed=0):
    """Four sources whose labels follow feature 0, and one big source of duplicated prompts with
    random labels (like the few-shot-preamble sources: many rows, one embedding per question)."""
    rng = np.random.default_rng(seed)
    rows, feats = [], {}
    for s in "abcd":
        for i in range(150):
            e = rng.normal()
            p = f"{s}-{i}"
            feats[p] = np.array([e, rng.normal(), rng.normal()])
            rows.append({"prompt": p, "source": s, "strong_needed": bool(rng.random() < 1 / (1 + np.exp(-2 * e)))})
    for q in range(100):  # 100 questions x 6 duplicates, label random per question
        x, y = rng.normal(size=3) * 5, bool(rng.random() < 0.5)
        for j in range(6):
            p = f"noise-{q}-{j}"
            feats[p] = x
            rows.append({"prompt": p, "source": "noise", "strong_needed": y})
    return pd.DataFrame(rows), feats


def test_selector_does_not_favour_fitting_a_random_label_source():
    pool, feats = planted_pool()
    fits = []

    def fit(name, hp, seed, train, valid):
        fits.append((json.dumps(hp), valid is None, len(train)))
        return Toy(hp["kind"], feats).fit(train, valid)

    grid = [{"kind": "memo"}, {"kind": "linear"}]
    # the trap works: a random 15 % split of the mixture favours memorising the noise source
    part = pool_labels.split(pool, seed=0)
    tr, va = pool[part == "train"], pool[part == "valid"]
    rand = {g["kind"]: roc_auc_score(va.strong_needed, Toy(g["kind"], feats).fit(tr, va).score(list(va.prompt)))
            for g in grid}
    assert rand["memo"] > rand["linear"]
    sel = selection.select("toy", pool, grid, fit, seeds=[0, 1], n_folds=3, log=lambda *a: None)
    assert sel.chosen == {"kind": "linear"}
    noise = sel.per_source[sel.per_source.source == "noise"]
    assert (noise.auc - 0.5).abs().max() < 0.15  # held out, the noise source favours nobody
    # final models: one per seed, on ALL rows, no validation rows, chosen epochs from the folds
    finals = [f for f in fits if f[1]]
    assert len(finals) == 2 and all(n == len(pool) for _, _, n in finals)
    assert sel.epochs == {"epochs": 3}
    assert json.loads(finals[0][0]) == {"kind": "linear", "epochs": 3}
    assert set(sel.table().columns) == {json.dumps(g) for g in grid}


def test_every_variant_is_really_tried_even_against_a_router_default():
    """A router whose own default is another variant (RAGRouter's: source FE) must be fitted with
    alignment 'none' when 'none' is searched; the thesis baselines (variant 'none' alone) keep
    their plain hp. This failed on the protocol of 99db6e4, which left 'none' implicit."""
    pool, feats = planted_pool()
    seen = []

    def fit(name, hp, seed, train, valid):
        seen.append(hp.get("alignment", "source_fe"))  # the router's default when hp is silent
        return Toy("linear", feats).fit(train, valid)

    quiet = dict(seeds=[0], n_folds=3, retrain=False, log=lambda *a: None)
    selection.select("toy", pool, [{"kind": "linear"}], fit, variants=("none", "source_fe", "rebalance"), **quiet)
    assert seen.count("none") == 3 and seen.count("source_fe") == 3 and seen.count("rebalance") == 3
    plain = []
    selection.select("toy", pool, [{"kind": "linear"}], lambda n, hp, *a: plain.append(hp) or Toy("linear", feats).fit(*a[1:]),
                     **quiet)
    assert plain == [{"kind": "linear"}] * 3


def test_budget_is_capped():
    with pytest.raises(ValueError):
        selection.select("toy", _pool({"a": 10, "b": 10}), [{}] * 4, lambda *a: None)


# --------------------------------------------------------------------- the notebook driver, end to end
def test_run_baselines_selects_aligns_and_saves_scores(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from ragrouter_lib.evaluation import verdicts

    from ragrouter_lib.runs import experiments
    from ragrouter_lib.routers.training import TrainableRouter
    monkeypatch.setenv("RAGROUTER_CACHE", str(tmp_path / "cache"))
    pool, feats = planted_pool()
    pool["score"] = np.where(pool.strong_needed, 2, 5)
    rng = np.random.default_rng(3)
    ev = pd.DataFrame({"prompt": [f"a-{i}" for i in range(60)], "weak_correct": rng.random(60) < 0.6,
                       "strong_correct": rng.random(60) < 0.8})
    monkeypatch.setattr(TrainableRouter, "embed", lambda self, prompts: np.stack([feats[p] for p in prompts]))

    def path(kind, name):
        (tmp_path / kind).mkdir(parents=True, exist_ok=True)
        return tmp_path / kind / name
    cfg = SimpleNamespace(path=path, grid_limit=None, router_seeds=[0, 1], out=tmp_path)
    res = experiments.run_baselines(pool, {"mmlu": ev}, cfg, names=["random", "logreg"], aligned=["logreg"],
                                    log=lambda *a: None)
    assert set(res.runs.router) == {"random", "logreg", "logreg_aligned"}
    assert set(res.selections) == {"logreg", "logreg_aligned"}
    assert json.loads(res.runs[res.runs.router == "logreg"].hp.iloc[0]).get("alignment", "none") == "none"
    assert json.loads(res.runs[res.runs.router == "logreg_aligned"].hp.iloc[0])["alignment"] in ("rebalance",
                                                                                                  "source_fe")
    for key in ("random", "logreg", "logreg_aligned"):
        got = verdicts.load_scores(tmp_path, "mmlu", key)
        assert got["scores"].shape == (2, len(ev)) and list(got["seeds"]) == [0, 1]
    # fold fits: 3 configs x 3 folds (plain) + 2 variants x 3 folds (aligned)
    assert len(res.tuning) == 9 + 6
    assert {"source", "auc", "config", "fold", "router"} <= set(res.per_source.columns)
    tab = selection.per_source_table(res.selections)
    assert set(pool.source) | {"criterion (row-weighted)"} == set(tab.index)
    sel = res.selections["logreg"]
    assert tab.loc["criterion (row-weighted)", "logreg"] == pytest.approx(
        sel.scores.set_index("config").criterion[json.dumps(sel.chosen, sort_keys=True)])
    cost = experiments.cost_table(res.runs, res.tuning)
    assert cost.loc[("logreg", "mmlu"), "fold_fits"] == 9
    # a second run is served from the router cache (fold fits included)
    res2 = experiments.run_baselines(pool, {"mmlu": ev}, cfg, names=["logreg"], aligned=[], log=lambda *a: None)
    assert res2.tuning.cached.all() and res2.runs.fit_cached.all()
