"""The ``paper`` profile's code paths on stand-ins (no GPU, no Hub, no network).

Covers: Hub refusals, Hub-shaped loaders on synthetic files, the dry-run stand-ins (tiny DeBERTa-v2,
Qwen2, BERT built from configs in code), LoRA through peft, the textual RAG prompt, RouteLLM's
released routers through a stand-in ``routellm``, and the small real-data row's function on a tiny
stand-in. The launched multi-process fits (accelerate / FSDP, 2 CPU processes) and the CUDA guard are
in ``test_launch.py``.
"""
from __future__ import annotations

import json
import os
import sys
import types
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

from ragrouter_lib.data import hub, loading
from ragrouter_lib.runs import paper  # noqa: E402
from ragrouter_lib.routers import llm_scorer as L  # noqa: E402
from ragrouter_lib.routers import released  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PAPER = SimpleNamespace(profile="paper", data_seed=0, pool_limit=None, eval_limit=40, out=Path("/nonexistent"))


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory):
    folder = hub.stand_ins(tmp_path_factory.mktemp("standins"), n_rows=60)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(hub.STANDINS_ENV, str(folder))
        yield folder


def tiny_eval(n=80, seed=0):
    rng = np.random.default_rng(seed)
    prompts = [f"eval question {i} " + " ".join(rng.choice(hub.WORDS, 5)) for i in range(n)]
    w = rng.random(n) < 0.6
    return pd.DataFrame({"prompt": prompts, "subject": "x", "weak_correct": w, "strong_correct": w | (rng.random(n) < 0.5)})


# ----------------------------------------------------------------------------- refusals
def test_hub_refusals_name_the_id_and_the_profile(monkeypatch):
    monkeypatch.delenv(hub.STANDINS_ENV, raising=False)
    with pytest.raises(hub.HubUnavailable, match=r"Qwen/Qwen2\.5-7B.*'offline'"):
        hub.model_path("llm", "offline")
    with pytest.raises(hub.HubUnavailable, match=r"lmsys/lmsys-arena-human-preference-55k.*'smoke'"):
        hub.load_arena_hub(SimpleNamespace(profile="smoke"))
    # paper profile, Hub unreachable (offline mode here): a clear one-line refusal, not a traceback
    with pytest.raises(hub.HubUnavailable, match=r"microsoft/deberta-v3-base.*could not be reached.*'paper'"):
        hub.model_path("encoder", "paper")
    with pytest.raises(hub.HubUnavailable, match=r"routellm/gpt4_dataset.*'paper'"):
        hub.load_gpt4_hub(PAPER, cache_dir="/tmp")


def test_row_counts_are_checked():
    hub.check_rows("arena", hub.HUB_DATASETS["arena"]["expected_rows"])
    with pytest.raises(loading.DataFormatError, match="57477"):
        hub.check_rows("arena", 55000)


# ----------------------------------------------------------------------------- stand-ins and loaders
def test_hub_loaders_map_to_the_offline_schemas(stand_ins):
    arena, gpt4 = hub.load_arena_hub(PAPER), hub.load_gpt4_hub(PAPER)
    ref_a, ref_g = loading.load_arena(REPO / "tests/fixtures/arena_train.csv"), loading.load_gpt4_dataset(
        REPO / "tests/fixtures/gpt4_dataset.jsonl")
    assert set(ref_a.columns) <= set(arena.columns) and set(ref_g.columns) <= set(gpt4.columns)
    assert len(arena) == 60 and set(arena.winner) <= {"a", "b", "tie"}
    assert gpt4.mixtral_score.between(1, 5).all()
    idx = json.loads((stand_ins / "index.json").read_text())
    assert set(idx) >= {hub.HUB_DATASETS[k]["id"] for k in hub.HUB_DATASETS} | \
        {hub.HUB_MODELS[k]["id"] for k in hub.HUB_MODELS} | \
        {c["checkpoint_path"] for c in released.RELEASED_CONFIG.values() if "checkpoint_path" in c} | \
        {hub.SW_PREFIX + d for d in released.RELEASED_CONFIG["sw_ranking"]["arena_battle_datasets"]}


def test_paper_pool_adds_the_hub_sources_to_the_offline_pool(stand_ins):
    offline = paper.notebook_pool(SimpleNamespace(profile="offline", data_seed=0, pool_limit=None))
    pool = paper.notebook_pool(PAPER)
    added = pool[~pool.pool_id.isin(offline.pool_id)]
    assert set(added.panel) == {"arena", "gpt4_dataset"} and len(offline) + len(added) == len(pool)
    assert (added[added.panel == "gpt4_dataset"].score.to_numpy() ==
            hub.load_gpt4_hub(PAPER).mixtral_score.to_numpy()).all()


def test_stand_in_models_have_the_thesis_architectures(stand_ins):
    from transformers import AutoConfig
    assert AutoConfig.from_pretrained(hub.model_path("encoder", PAPER)).model_type == "deberta-v2"
    assert AutoConfig.from_pretrained(hub.model_path("llm", PAPER)).model_type == "qwen2"


def test_paper_encoder_feeds_token_states(stand_ins, tmp_path, monkeypatch):
    from ragrouter_lib.features import encoders, syntax
    monkeypatch.setenv("RAGROUTER_CACHE", str(tmp_path))
    monkeypatch.setitem(encoders.ENCODERS, "placeholder", None)  # restored after the test
    name = paper.register_encoder(PAPER)
    try:
        texts = ["What is the integral of x?", "Write a poem about rivers."]
        st = encoders.token_states(texts, name, layer=-1, max_len=32, progress=False)
        wp = syntax.wordpiece_offsets(texts, name, 32)
        assert st["states"].shape[1] == 32 and len(st["offsets"]) == 3
        assert [len(w) for w in wp] == list(np.diff(st["offsets"]))  # one state per word piece
    finally:
        encoders.ENCODERS.pop(name, None)
        encoders.load_encoder.cache_clear()


# ----------------------------------------------------------------------------- LoRA, prompt, optimiser
def test_lora_via_peft_trains_adapters_only(stand_ins):
    torch.manual_seed(0)
    tok, bb = L.load_backbone(hub.model_path("llm", PAPER), load_4bit=False, lora_r=4)
    scorer = L.LLMScorer(bb, L.hidden_size(bb))
    trainable = {n for n, p in scorer.named_parameters() if p.requires_grad}
    assert trainable and all(".lora_A." in n or ".lora_B." in n or n.startswith("head.") for n in trainable)
    before = {n: p.detach().clone() for n, p in scorer.named_parameters()}
    g = hub.load_gpt4_hub(PAPER)
    hist = L.train_scorer(scorer, tok, list(g.prompt), g.mixtral_score - 1, epochs=1, batch_size=8, max_len=48, lr=1e-2)
    after = dict(scorer.named_parameters())
    moved = {n for n in before if not torch.equal(before[n], after[n].detach())}
    assert moved and moved <= trainable and any("lora_B" in n for n in moved)
    assert hist[0]["optimizer"] == "Adam" and hist[0]["rows"] == len(g)
    s = L.score_texts(scorer, tok, list(g.prompt[:7]), 48, batch_size=3)
    assert s.shape == (7,) and ((s > 0) & (s < 1)).all()
    # the batch order does not change a text's score (length-sorted batches are re-ordered back)
    assert np.allclose(s[::-1], L.score_texts(scorer, tok, list(g.prompt[:7])[::-1], 48, batch_size=2), atol=1e-5)


def test_4bit_needs_cuda_and_adam_is_8bit_only_when_asked():
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(RuntimeError, match="need CUDA"):
        L.load_backbone("unused", load_4bit=True)
    p = [torch.nn.Parameter(torch.zeros(2))]
    assert type(L.adam(p, 1e-3)).__name__ == "Adam"  # explicit choice (8-bit for 4-bit weights), no probe


def test_rag_prompt_lists_neighbours_and_skips_the_query_itself():
    from ragrouter_lib.routers import get_router
    from ragrouter_lib.routers.kb import KnowledgeBase
    texts = ["alpha question", "beta question", "gamma question", "delta question"]
    vec = np.eye(4, dtype=np.float32) + np.arange(4, dtype=np.float32)[:, None] * 0.01
    r = get_router("ragrouter_llm", k=2)
    r.kb, r.kb_texts = KnowledgeBase(vec, np.array([1, 2, 4, 5])), texts
    r.kb.nprobe = r.kb.nlist
    r.embed = lambda prompts: vec[[texts.index(p) if p in texts else 0 for p in prompts]]
    out = r.rag_prompts(["beta question"])[0]
    assert "Query: beta question" in out and out.endswith("Rating:")
    listed = [line for line in out.splitlines() if line.startswith("- (")]
    assert len(listed) == 2 and not any("beta question" in line for line in listed)
    label = dict(zip(texts, [1, 2, 4, 5]))
    assert all(label[line[6:]] == int(line[3]) for line in listed)  # "- (s) text": its own KB label


# ----------------------------------------------------------------------------- released routers
@pytest.fixture
def fake_routellm(monkeypatch):
    calls = []

    class StandIn:
        def __init__(self, **config):
            calls.append(config)

        def calculate_strong_win_rate(self, prompt):
            return float("question 1" in prompt)

    fake = types.ModuleType("routellm.routers.routers")
    fake.ROUTER_CLS = {k: StandIn for k in released.RELEASED_CONFIG}
    for name in ("routellm", "routellm.routers"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "routellm.routers.routers", fake)
    return calls


def test_released_routers_without_openai_key_are_marked_missing(fake_routellm, stand_ins, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    ev = tiny_eval()
    # embed=None: OpenAI's embedding (the dry run's default injects the local stand-in, tests/test_released.py)
    runs, status = paper.score_released({"mmlu": ev}, SimpleNamespace(profile="paper", data_seed=0),
                                        names=("sw_ranking", "mf", "bert"), embed=None, log=lambda *_: None)
    st = status.set_index("router")
    assert st.loc["released_bert", "status"] == "ran"
    for name in ("released_mf", "released_sw_ranking"):
        assert st.loc[name, "status"] == "missing" and "OPENAI_API_KEY" in st.loc[name, "reason"]
    if not torch.cuda.is_available():  # outside the dry run causal_llm needs CUDA
        with monkeypatch.context() as mp:
            mp.delenv(hub.STANDINS_ENV)
            assert "CUDA" in released.requirements_missing("causal_llm")
    # the dry run maps the released checkpoint id to its local stand-in
    assert fake_routellm[0]["checkpoint_path"] == json.loads((stand_ins / "index.json").read_text())[
        released.RELEASED_CONFIG["bert"]["checkpoint_path"]]
    # scored by our metrics: a perfect-on-subset router beats random's APGR bound of the same rows
    row = runs[runs.router == "released_bert"].iloc[0]
    from ragrouter_lib.runs import router_runs
    expect, _ = router_runs.evaluate_scores(np.array([float("question 1" in p) for p in ev.prompt]), ev, seed=0)
    assert row.apgr == pytest.approx(expect["apgr"])
    assert os.environ.get("OPENAI_API_KEY") in (None, released.PLACEHOLDER_KEY)


def test_released_mf_runs_with_a_key_and_refuses_outside_paper(fake_routellm, monkeypatch):
    monkeypatch.delenv(hub.STANDINS_ENV, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    r = released.ReleasedRouter("mf", "paper")
    assert r.score(["question 1 x", "question 2"]).tolist() == [1.0, 0.0]
    assert fake_routellm[-1] == {"checkpoint_path": "routellm/mf_gpt4_augmented"}
    with pytest.raises(hub.HubUnavailable, match="routellm/mf_gpt4_augmented.*'offline'"):
        released.ReleasedRouter("mf", "offline")


# ----------------------------------------------------------------------------- the small real-data row
def test_small_llm_row_runs_on_a_stand_in(stand_ins, tmp_path, monkeypatch):
    monkeypatch.setenv("RAGROUTER_CACHE", str(tmp_path))
    g = hub.load_gpt4_hub(PAPER)
    pool = pd.DataFrame({"prompt": g.prompt, "score": g.mixtral_score})
    evals = {"mmlu": tiny_eval(40), "gsm8k": tiny_eval(30, 1)}
    runs, info = paper.small_llm_row(pool, evals, SimpleNamespace(data_seed=0), log=lambda *_: None,
                                     llm_path=hub.model_path("llm", PAPER), n_train=60, eval_limit=25, max_len=64)
    assert list(runs.benchmark) == ["mmlu", "gsm8k"] and (runs.n_eval == 25).all()
    assert info["train_rows"] + info["kb_rows"] == 60 and info["train_tokens_per_s"] > 0
    assert runs.apgr.between(-1, 2).all() and "SmolLM2-135M" in info["label"]


def test_small_llm_row_is_cached_by_its_inputs_and_skipped_without_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGROUTER_CACHE", str(tmp_path))
    from ragrouter_lib.data import models
    monkeypatch.setattr(models, "smollm2_path", lambda: Path("smollm2-135m-instruct-abc"))
    calls = []

    def fake_row(pool, evals, cfg, log=print, **over):
        calls.append(over)
        return pd.DataFrame([{c: 0 for c in paper.RUN_COLUMNS}]), {"train_rows": len(pool)}
    monkeypatch.setattr(paper, "small_llm_row", fake_row)
    cfg = SimpleNamespace(data_seed=0, profile="offline", params={"small_llm": {"n_train": 10}})
    pool = pd.DataFrame({"prompt": ["a", "b"], "score": [1, 5], "source": ["x", "y"]})
    evals = {"mmlu": pd.DataFrame({"prompt": ["q"], "weak_correct": [1], "strong_correct": [0]})}
    quiet = dict(log=lambda *_: None)
    for _ in range(2):
        runs, info = paper.notebook_small_llm(pool, evals, cfg, **quiet)
    assert len(calls) == 1 and calls[0] == {"n_train": 10} and info == {"train_rows": 2}
    paper.notebook_small_llm(pool.assign(score=[5, 1]), evals, cfg, **quiet)  # other labels: a new entry
    cfg.params["small_llm"] = {"n_train": 11}
    paper.notebook_small_llm(pool, evals, cfg, **quiet)  # other settings: a new entry
    assert len(calls) == 3
    cfg.params["small_llm"] = None
    runs, info = paper.notebook_small_llm(pool, evals, cfg, **quiet)
    assert runs.empty and list(runs.columns) == paper.RUN_COLUMNS and info == {} and len(calls) == 3
