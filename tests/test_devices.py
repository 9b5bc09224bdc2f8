"""One device per model (issue 27 item 1): every parameter and buffer of the LLM final model's scorer,
and its inputs, on the router's ``device``: after ``fit``, after ``set_state``, and after a reload by
``ragrouter-score`` in a fresh object. The non-default device is ``meta`` (the only other device a
CPU-only torch has): building and moving work there, computing does not, so the fit's training step
and the scoring forward are replaced by recorders in the meta checks; the CPU fit is real.

Bounded memory (issue 27 item 2): the selection loop (fold fits, final fits, scoring) and an
ablation loop with the LLM final model on a tiny Qwen2 stand-in keep no fitted LLM alive: every
scorer and backbone built is freed (weak references), at most one exists at a time, and a kept
router still scores, rebuilding its scorer from its saved weights, with the same scores."""
import gc
import json
import weakref
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from ragrouter_lib import cli, routers
from ragrouter_lib.data import hub
from ragrouter_lib.routers import llm_scorer as L
from ragrouter_lib.routers import ragrouter_llm
from ragrouter_lib.runs import ablations, router_runs

META, CPU = torch.device("meta"), torch.device("cpu")
TINY = {"extractor_epochs": 1, "final_epochs": 1, "augment": False, "sample": False, "k": 3, "n_folds": 2,
        "batch_size": 16, "features": "plain", "llm_max_len": 64, "llm_batch_size": 8, "llm_grad_accum": 1,
        "load_4bit": False}


def tiny_pool(n=30, seed=0):
    rng = np.random.default_rng(seed)
    topics = ["apples", "trains", "planets", "proteins", "rivers", "poems"]
    score = rng.integers(1, 6, n)
    return pd.DataFrame({"pool_id": [f"p{i}" for i in range(n)], "source": [["a", "b", "c"][i % 3] for i in range(n)],
                         "prompt": [f"Please explain the {topics[i % 6]} number {i} in the book." for i in range(n)],
                         "panel": "routerbench", "score": score, "strong_needed": (score <= 3).astype(int)})


def devices(module) -> set:
    return set(L.tensor_devices(module).values())


@pytest.fixture(scope="module")
def llm_path(tmp_path_factory):
    return str(hub.tiny_llm(tmp_path_factory.mktemp("llm")))


@pytest.fixture(scope="module")
def fitted(llm_path, tmp_path_factory):
    """A real CPU fit (device "cpu"), saved as the router cache saves it."""
    root = tmp_path_factory.mktemp("fit")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAGROUTER_CACHE", str(root / "cache"))
        r = routers.get_router("ragrouter_llm", seed=0, llm_path=llm_path, device="cpu", **TINY)
        r.fit(None, None, prepared=tiny_pool())
        yield r, r.save(root / "router")


def test_fit_builds_and_trains_the_scorer_on_its_device(llm_path, tmp_path, monkeypatch):
    monkeypatch.setenv("RAGROUTER_CACHE", str(tmp_path))
    seen = []

    def train(scorer, tok, texts, y, *a, **kw):  # records, computes nothing (meta); its Adam is built from these
        seen.append(devices(scorer))
        return []
    monkeypatch.setattr(ragrouter_llm, "train_scorer", train)  # the name the router calls
    r = routers.get_router("ragrouter_llm", seed=0, llm_path=llm_path, device=META, **TINY)
    r.fit(None, None, prepared=tiny_pool())
    assert r.hp["device"] == "meta" and json.dumps(r.params())  # recorded as a name (router.json)
    assert seen == [{META}]  # the whole scorer, when training starts
    assert devices(r.llm) == {META} and len(L.tensor_devices(r.llm)) > 10

    inputs = []

    def forward(self, ids, mask):
        inputs.append({ids.device, mask.device, *devices(self)})
        return torch.zeros(len(ids), 5)
    monkeypatch.setattr(L.LLMScorer, "forward", forward)
    assert r.score(["What is 2+2?", "Name a river."]).shape == (2,)
    assert inputs and all(d == {META} for d in inputs)  # the inputs go to the scorer's device


def test_set_state_and_a_cli_reload_build_the_scorer_on_the_asked_device(fitted, tmp_path):
    r, folder = fitted
    assert devices(r.llm) == {CPU}
    r2 = routers.get_router("ragrouter_llm", **{**r.hp, "device": "meta"})
    r2.set_state(r.state())
    assert devices(r2.llm) == {META}
    r3 = cli.load(folder, device="meta")  # a fresh object from the saved folder, as ragrouter-score loads it
    assert r3 is not r and r3.hp["device"] == "meta" and devices(r3._llm) == {META}  # built at load
    r4 = cli.load(folder)  # the saved setting ("cpu")
    assert devices(r4._llm) == {CPU}
    # the command itself, end to end on the CPU: the reloaded scorer gives the fitted one's scores
    prompts = ["What is 2+2?", "Name a river in Europe.", "Prove that 7 is prime."]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"prompt": p}) + "\n" for p in prompts))
    assert cli.main(["--router", str(folder), "--input", str(tmp_path / "in.jsonl"), "--output",
                     str(tmp_path / "out.jsonl"), "--threshold", "0.5", "--device", "cpu"]) == 0
    got = pd.read_json(tmp_path / "out.jsonl", lines=True).strong_win.to_numpy()
    np.testing.assert_allclose(got, r.score(prompts), atol=1e-5)


def test_a_mixed_scorer_is_refused(llm_path):
    tok, bb = L.load_backbone(llm_path, load_4bit=False, lora_r=4)
    scorer = L.LLMScorer(bb, L.hidden_size(bb))
    bb.is_loaded_in_4bit = True  # as if bitsandbytes had loaded it: place does not move it
    with pytest.raises(RuntimeError, match="not on meta"):
        L.place(scorer, "meta")
    del bb.is_loaded_in_4bit
    assert devices(L.place(scorer, "meta")) == {META}
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA"):
            L.run_device("cuda")


def test_device_for_a_cpu_only_router_is_one_line_and_exit_2(tmp_path, capsys):
    folder = routers.get_router("random", seed=0).save(tmp_path / "random")
    (tmp_path / "in.jsonl").write_text(json.dumps({"prompt": "What is 2+2?"}) + "\n")
    args = ["--router", str(folder), "--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "o.jsonl"),
            "--threshold", "0.5"]
    assert cli.main([*args, "--device", "cpu"]) == 2
    assert "router random has no device setting" in capsys.readouterr().err
    assert cli.main(args) == 0


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
