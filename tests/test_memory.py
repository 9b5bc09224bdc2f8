"""Bounded memory (issue 27 item 2): the selection loop (fold fits, final fits, scoring) and an
ablation loop with the LLM final model on a tiny Qwen2 stand-in keep no fitted LLM alive: every
scorer and backbone built is freed (weak references), at most one exists at a time, and a kept
router still scores, rebuilding its scorer from its saved weights, with the same scores."""
import gc
import weakref
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from ragrouter_lib.data import hub
from ragrouter_lib.routers import llm_scorer as L
from ragrouter_lib.runs import ablations, router_runs

TINY = {"extractor_epochs": 1, "final_epochs": 1, "augment": False, "sample": False, "k": 3, "n_folds": 2,
        "batch_size": 16, "features": "semantic", "llm_max_len": 64, "llm_batch_size": 8, "llm_grad_accum": 1,
        "load_4bit": False}


def tiny_pool(n=30, seed=0):
    rng = np.random.default_rng(seed)
    topics = ["apples", "trains", "planets", "proteins", "rivers", "poems"]
    score = rng.integers(1, 6, n)
    return pd.DataFrame({"pool_id": [f"p{i}" for i in range(n)], "source": [["a", "b", "c"][i % 3] for i in range(n)],
                         "prompt": [f"Please explain the {topics[i % 6]} number {i} in the book." for i in range(n)],
                         "panel": "routerbench", "score": score, "strong_needed": (score <= 3).astype(int)})


def tiny_eval(n=24, seed=1):
    rng = np.random.default_rng(seed)
    w = rng.random(n) < 0.5
    return pd.DataFrame({"prompt": [f"Describe the planets number {i} in a poem." for i in range(n)],
                         "weak_correct": w, "strong_correct": w | (rng.random(n) < 0.6)})


@pytest.fixture
def built(monkeypatch):
    """Weak references to every LLM scorer and backbone built, and how many scorers were alive
    (this one included) whenever one was built."""
    out = SimpleNamespace(scorers=[], backbones=[], alive=[])
    init = L.LLMScorer.__init__

    def tracked(self, backbone, hidden):
        init(self, backbone, hidden)
        out.alive.append(1 + sum(w() is not None for w in out.scorers))
        out.scorers.append(weakref.ref(self))
        out.backbones.append(weakref.ref(backbone))
    monkeypatch.setattr(L.LLMScorer, "__init__", tracked)
    return out


def test_selection_and_ablation_loops_keep_no_fitted_llm(built, tmp_path, monkeypatch):
    monkeypatch.setenv("RAGROUTER_CACHE", str(tmp_path / "cache"))
    hp = {**TINY, "llm_path": str(hub.tiny_llm(tmp_path / "llm")), "device": "cpu"}
    pool, evals = tiny_pool(), {"mmlu": tiny_eval()}
    cfg = SimpleNamespace(path=lambda *p: tmp_path.joinpath(*p), router_seeds=[0, 1], ablation_seeds=[0],
                          selection_folds=2)
    quiet = {"log": lambda *_: None}
    runs, fitted, sel, first = router_runs.train_and_evaluate("ragrouter_llm", pool, evals, [0, 1],
                                                              cfg.path("cache", "routers"), grid=[hp], n_folds=2, **quiet)
    abl = ablations.run(pool, evals, cfg, runs, tables=(6,), **quiet)
    gc.collect()
    # 2 fold fits + 2 seeds' final fits, each scored (rebuilt once), then the ablation's 2 + 1
    assert len(built.scorers) >= 7
    assert [w for w in built.scorers + built.backbones if w() is not None] == []
    assert max(built.alive) == 1  # never two LLMs at once
    # what the loops return stays usable: a kept router rebuilds its scorer and gives the same scores
    r = fitted[0]
    assert r._llm is None and set(abl.fitted["without RAG vector knowledge base"]) == {0}
    np.testing.assert_allclose(r.score(list(evals["mmlu"].prompt)), first["mmlu"], atol=1e-5)
    r.release()
    gc.collect()
    assert built.scorers[-1]() is None
