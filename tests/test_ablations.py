"""Tables 3-6 (issue 25 item 4): each "without" row removes what the thesis's part adds, on the full
model's five seeds, with verdicts that need the seeds and the prompts to agree; the parts' own checks
(Table 5's ``feature_check``; the component card: tests/test_components.py). Each test has a planted fault it catches."""
import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from ragrouter_lib import routers
from ragrouter_lib.core import config
from ragrouter_lib.evaluation import bootstrap, verdicts
from ragrouter_lib.features import encoders
from ragrouter_lib.routers import ragrouter
from ragrouter_lib.runs import ablations

FAST = {"extractor_epochs": 1, "final_epochs": 2, "augment": False, "sample": False, "k": 3, "n_folds": 2,
        "batch_size": 16}
PARTS = {t: a.part for t, a in ablations.ABLATIONS.items()}


def tiny_pool(n=36, seed=0):
    rng = np.random.default_rng(seed)
    topics = ["apples", "trains", "planets", "proteins", "rivers", "poems"]
    score = rng.integers(1, 6, n)
    return pd.DataFrame({"pool_id": [f"p{i}" for i in range(n)], "source": [["a", "b", "c"][i % 3] for i in range(n)],
                         "prompt": [f"Please explain the {topics[i % 6]} number {i} in the book." for i in range(n)],
                         "panel": "routerbench", "score": score, "strong_needed": (score <= 3).astype(int)})


def full_runs(seeds=(0, 1), **hp):
    """The full model's per-seed rows as notebook 05 saves them (what ``ablations.run`` reads)."""
    hp = {"alignment": "none", **FAST, **hp}
    return pd.DataFrame({"router": "ragrouter", "seed": list(seeds), "benchmark": "mmlu",
                         "hp": json.dumps(hp, sort_keys=True)})


@pytest.fixture
def no_extractor(monkeypatch):
    """Every piece of the thesis's feature extraction raises: CM-MHA/GraphSAGE, the parse, the
    structural features."""
    def boom(*a, **k):
        raise AssertionError("Table 5's variant used the semantic-syntactic feature extraction")
    monkeypatch.setattr(ragrouter, "FeatureExtractor", boom)
    monkeypatch.setattr(ragrouter, "structural_features", boom)
    monkeypatch.setattr(ragrouter.syntax, "parses", boom)
    monkeypatch.setattr(ragrouter.syntax, "build_graphs", boom)


def test_table5_variant_reads_the_plain_sentence_embedding(no_extractor, tmp_path, monkeypatch):
    monkeypatch.setenv("RAGROUTER_CACHE", str(tmp_path / "cache"))
    pool = tiny_pool()
    r = routers.get_router("ragrouter", seed=0, **{**FAST, **ablations.ABLATIONS[5].switch}).fit(pool)
    plain = encoders.sentence_embeddings(list(pool.prompt), progress=False)
    assert r.extractor is None and r.structure(pool.prompt[:3]) is None and r.final.sp is None
    np.testing.assert_allclose(r.embed(pool.prompt), plain * np.sqrt(plain.shape[1]), rtol=1e-6)
    # the KB holds those plain vectors (its rows' own), and the final model reads their width
    np.testing.assert_allclose(r.kb.vectors, plain[r.kb_rows] * np.sqrt(plain.shape[1]), rtol=1e-6)
    assert r.final.qp.in_features == plain.shape[1] and r.final.rag  # Table 5's variant keeps RAG
    s = r.score(list(pool.prompt[:5]))
    np.testing.assert_allclose(routers.load_router(r.save(tmp_path / "r")).score(list(pool.prompt[:5])), s, atol=1e-6)
    with pytest.raises(ValueError, match="choose one of"):  # the old half-way variant is gone
        routers.get_router("ragrouter", seed=0, features="semantic").embed(["x"])


def test_the_ablation_run_trains_table5_without_the_extractor(no_extractor, tmp_path, monkeypatch):
    monkeypatch.setenv("RAGROUTER_CACHE", str(tmp_path / "cache"))
    cfg = SimpleNamespace(path=lambda *p: tmp_path.joinpath(*p), router_seeds=[0, 1], ablation_seeds=[0, 1],
                          selection_folds=2)
    ev = tiny_pool(24, seed=5).assign(weak_correct=lambda d: d.score > 2, strong_correct=True)
    abl = ablations.run(tiny_pool(), {"mmlu": ev}, cfg, full_runs(), tables=(5,), log=lambda *_: None)
    fits = abl.fitted[ablations.ABLATIONS[5].without]
    assert set(fits) == {0, 1} and all(f.extractor is None and f.hp["features"] == "plain" for f in fits.values())


def test_ablation_seeds_are_the_full_models_five_router_seeds(tmp_path):
    for profile in ("offline", "paper"):
        p = config.PROFILES[profile]
        assert p["ablation_seeds"] == p["router_seeds"] and len(p["ablation_seeds"]) == 5, profile
    cfg = SimpleNamespace(router_seeds=[0, 1, 2, 3, 4], ablation_seeds=[0, 1, 2, 3, 4])
    assert ablations.paired_seeds(cfg, full_runs(range(5))) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="not paired"):  # a seed the full model never ran
        ablations.run(None, {}, cfg, full_runs((0, 1, 2)), tables=(6,), log=lambda *_: None)
    # the verdicts refuse an unpaired seed set too
    ev = _rows(300)
    rng = np.random.default_rng(1)
    verdicts.save_scores(tmp_path, "mmlu", "ragrouter", [0, 1, 2], rng.random((3, 300)))
    verdicts.save_scores(tmp_path, "mmlu", verdicts.ablation_key(5), [0, 1, 5], rng.random((3, 300)))
    with pytest.raises(ValueError, match="would not pair"):
        verdicts.ablation_verdicts(tmp_path, {"mmlu": ev}, tables=(5,), n_boot=20)


def _rows(n, seed=0):
    rng = np.random.default_rng(seed)
    weak = rng.random(n) < 0.6
    return pd.DataFrame({"prompt": [f"q{i}" for i in range(n)], "weak_correct": weak,
                         "strong_correct": weak | (rng.random(n) < 0.5)})


def test_five_seeds_one_strongly_reversed_seed_is_not_hurts(tmp_path):
    """Four seeds: the model without the part is clearly better (the part "hurts"); seed 4 reverses
    it strongly. A prompt-only interval says "hurts"; notebook 07's verdicts (two-level) may not."""
    ev = _rows(3000, seed=21)
    rng = np.random.default_rng(22)
    gain = (ev.strong_correct & ~ev.weak_correct).to_numpy(float)
    noise = rng.random((5, 3000))
    full = noise + 0.6 * gain
    abl = np.vstack([noise[:4] + 1.5 * gain, noise[4:] + 0.3 * gain])  # seed 4: far weaker without the part
    verdicts.save_scores(tmp_path, "mmlu", "ragrouter", range(5), full)
    verdicts.save_scores(tmp_path, "mmlu", verdicts.ablation_key(5), range(5), abl)
    v = verdicts.tables_3_6(tmp_path, {"mmlu": ev}, PARTS, n_boot=400, save=False,
                            log=lambda *_: None)["verdicts_tables_3_6"].set_index("metric").loc["apgr"]
    d = [float(x) for x in v.seed_diffs.split()]
    assert sum(x < 0 for x in d) == 4 and d[4] > 0 and v["diff"] < 0  # the mean says the part hurts
    assert v.verdict != "hurts" and v.ci_low < 0 < v.ci_high
    prompt_only = bootstrap.Bootstrap(ev.weak_correct, ev.strong_correct, n_boot=400, seed=0, resample_seeds=False)
    assert verdicts.ablation_verdicts(tmp_path, {"mmlu": ev}, tables=(5,), boot=prompt_only
                                      ).set_index("metric").verdict["apgr"] == "hurts"


def test_source_interval_covers_the_spread_over_sources():
    even = pd.DataFrame({"n": [100, 120, 80, 90], "diff": [0.03, 0.02, 0.04, 0.03]})
    d, lo, hi = ablations.source_interval(even, 500)
    assert 0 < lo <= d <= hi
    reversed_ = pd.DataFrame({"n": [100] * 4, "diff": [0.05, 0.05, 0.05, -0.1]})  # one source reverses strongly
    d, lo, hi = ablations.source_interval(reversed_, 500)
    assert d > 0 > lo  # the mean stays positive, the interval over sources does not


def test_feature_check_compares_fused_and_plain_on_held_out_sources(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGROUTER_CACHE", str(tmp_path / "cache"))
    cfg = SimpleNamespace(path=lambda *p: tmp_path.joinpath(*p), router_seeds=[0], ablation_seeds=[0],
                          selection_folds=2)
    res = ablations.feature_check(tiny_pool(60), cfg, full_runs((0,)), k=3, n_boot=200, log=lambda *_: None,
                                  save=False)
    assert list(res.probe) == ["logistic", "knn"] and res.met.dtype == bool
    assert np.allclose(res.value, res.fused - res.plain, atol=1e-9) and (res.ci_low <= res.ci_high).all()
    per = res.attrs["per_source"]
    assert set(per.features) == {"fused (CM-MHA)", "plain sentence embedding"} and set(per.source) == {"a", "b", "c"}
