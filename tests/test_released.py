"""RouteLLM's released routers in the ``paper`` profile (issue 27 items 3 and 5), and the Hub rows
that match an evaluation prompt (item 3).

Covers: each released class (BERT, Causal LLM, MF, SW Ranking) scoring prompts on its stand-in
checkpoint of the real format (``hub.released_stand_ins``); MF and SW Ranking with an injected
query embedding give what RouteLLM's own ``calculate_strong_win_rate`` gives with that embedding;
without a key (and no injected embedding) they say what they need; a router raising at scoring is
marked failed and the others go on; released rows enter Tables 1-2 beside RouteLLM's published
D_arena + D_judge numbers, and the offline tables stay byte-identical; Hub rows copying an
evaluation prompt (exactly or near) are removed and counted before the guard, which then passes.
"""
from __future__ import annotations

import json
import os
import types
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

from ragrouter_lib.data import hub, leakage, loading  # noqa: E402
from ragrouter_lib.report import results  # noqa: E402
from ragrouter_lib.routers import RELEASED_NAMES, THESIS_NAMES, released  # noqa: E402
from ragrouter_lib.runs import experiments, paper  # noqa: E402

PROMPTS = ["What is the integral of x squared?", "Write a poem about rivers.", "prove the theorem", "hi", ""]
QUIET = dict(log=lambda *_: None)


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory):
    folder = tmp_path_factory.mktemp("released-standins")
    (folder / "index.json").write_text(json.dumps(hub.released_stand_ins(folder)))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(hub.STANDINS_ENV, str(folder))
        mp.delenv("OPENAI_API_KEY", raising=False)
        yield folder


# ----------------------------------------------------------------------------- each class on its stand-in
@pytest.mark.parametrize("name,cls", [("bert", "BERTRouter"), ("mf", "MatrixFactorizationRouter"),
                                      ("sw_ranking", "SWRankingRouter"), ("causal_llm", "CausalLLMOnDevice")])
def test_each_released_class_scores_on_its_stand_in(stand_ins, name, cls):
    r = released.ReleasedRouter(name, "paper", embed=released.default_embed())
    assert type(r.impl).__name__ == cls
    s = r.score(PROMPTS)
    assert s.shape == (len(PROMPTS),) and np.isfinite(s).all() and ((s >= 0) & (s <= 1)).all()
    assert len(set(np.round(s, 6))) > 1  # the prompt reaches the score (not a constant)
    if name == "causal_llm":  # RouteLLM's classifier on the run's device; its rating-token path was taken
        assert type(r.impl.clf).__module__ == "routellm.routers.causal_llm.model" and r.impl.device == "cpu"
        assert (s < 1).any()
    if name == "mf":  # the checkpoint's weights were loaded, not a fresh initialisation
        from safetensors.torch import load_file
        w = load_file(str(Path(json.loads((stand_ins / "index.json").read_text())[
            hub.RELEASED_CONFIG["mf"]["checkpoint_path"]]) / "model.safetensors"))
        assert np.allclose(r.impl.model.P.weight.detach().cpu().numpy(), w["P.weight"].numpy())


class FakeOpenAI:
    """An OpenAI client answering ``embeddings.create`` with ``hub.standin_embedding`` (tests only)."""

    def __init__(self):
        self.embeddings = self

    def create(self, input, model):
        assert model == "text-embedding-3-small"
        return types.SimpleNamespace(data=[types.SimpleNamespace(embedding=[float(x) for x in
                                                                          hub.standin_embedding(input)[0]])])


@pytest.mark.parametrize("name", ["mf", "sw_ranking"])
def test_injected_embedding_equals_routellms_own_scoring(stand_ins, name, monkeypatch):
    """The injected path computes what the class's own ``calculate_strong_win_rate`` computes when
    OpenAI answers with the same embedding (the test alone swaps routellm's client)."""
    import importlib
    r = released.ReleasedRouter(name, "paper", embed=hub.standin_embedding)
    for mod in ("routellm.routers.matrix_factorization.model", "routellm.routers.routers"):
        monkeypatch.setattr(importlib.import_module(mod), "OPENAI_CLIENT", FakeOpenAI())
    own = [r.impl.calculate_strong_win_rate(p) for p in PROMPTS[:4]]
    assert np.allclose(r.score(PROMPTS[:4]), own, atol=1e-6)


def test_real_path_says_what_it_needs(stand_ins, monkeypatch):
    with pytest.raises(released.ReleasedUnavailable, match="needs OPENAI_API_KEY"):
        released.ReleasedRouter("mf", "paper")  # no key, no embedding function given
    monkeypatch.delenv(hub.STANDINS_ENV)
    import torch
    if not torch.cuda.is_available():
        assert "needs CUDA" in released.requirements_missing("causal_llm")
    assert released.default_embed() is None  # outside the dry run: OpenAI's embedding, never the stand-in


# ----------------------------------------------------------------------------- a failing router
def test_a_router_raising_at_scoring_is_marked_failed_and_the_others_go_on(monkeypatch):
    monkeypatch.delenv(hub.STANDINS_ENV, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")

    class Fine:
        def __init__(self, **conf):
            pass

        def calculate_strong_win_rate(self, prompt):
            return float(len(prompt) % 3 == 0)

    class Breaks(Fine):
        def calculate_strong_win_rate(self, prompt):
            raise RuntimeError("CUDA out of memory\nsecond line")

    class BreaksAtLoad(Fine):
        def __init__(self, **conf):
            raise ValueError("bad checkpoint")

    monkeypatch.setattr(released, "router_factory", {"bert": Breaks, "mf": Fine, "sw_ranking": BreaksAtLoad}.get)
    rng = np.random.default_rng(0)
    ev = pd.DataFrame({"prompt": [f"question {i}" + "x" * int(rng.integers(0, 9)) for i in range(60)],
                       "weak_correct": rng.random(60) < 0.5, "strong_correct": rng.random(60) < 0.8})
    runs, status = paper.score_released({"mmlu": ev, "gsm8k": ev}, SimpleNamespace(profile="paper", data_seed=0),
                                        names=("bert", "sw_ranking", "mf"), embed=None, **QUIET)
    st = status.set_index("router")
    assert st.loc["released_bert", "status"] == "failed"
    assert st.loc["released_bert", "reason"] == "RuntimeError (scoring mmlu): CUDA out of memory"
    assert st.loc["released_sw_ranking", "status"] == "failed"
    assert st.loc["released_sw_ranking", "reason"] == "ValueError (loading): bad checkpoint"
    assert st.loc["released_mf", "status"] == "ran"
    assert set(runs.router) == {"released_mf"} and set(runs.benchmark) == {"mmlu", "gsm8k"}


# ----------------------------------------------------------------------------- Tables 1-2
def synthetic_runs(keys, seeds=(0, 1)) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame([{"router": k, "seed": s, "benchmark": b, "cpt50": rng.uniform(30, 60),
                          "cpt80": rng.uniform(60, 90), "apgr": rng.uniform(0.4, 0.7)}
                         for k in keys for s in seeds for b in ("mmlu", "gsm8k")])


def test_released_rows_enter_tables_1_2_beside_published_numbers(tmp_path):
    runs = synthetic_runs(["ragrouter", "bert", "causal_llm", "mf", "sw_ranking", "random", "knn"])
    rel = synthetic_runs(list(RELEASED_NAMES), seeds=(0,))
    (tmp_path / "results").mkdir()
    rel.to_csv(tmp_path / "results" / f"{experiments.RELEASED_RUNS}.csv", index=False)
    both = experiments.with_released(runs, tmp_path)
    for bench in ("mmlu", "gsm8k"):
        t, t0 = experiments.comparison_table(both, bench), experiments.comparison_table(runs, bench)
        main = list(t[~t.extra].model)
        assert set(RELEASED_NAMES.values()) <= set(main)  # thesis rows, not extra rows
        assert main.index("BERT (RouteLLM released checkpoint)") < main.index(THESIS_NAMES["bert"])
        assert {THESIS_NAMES[k] for k in ("bert", "causal_llm", "mf", "sw_ranking")} <= set(main)  # stand-ins stay
        # the other rows are the table built without released runs, unchanged
        pd.testing.assert_frame_equal(t[~t.model.isin(RELEASED_NAMES.values())].reset_index(drop=True), t0)
        side = experiments.released_beside_published(t, bench).set_index("model")
        assert set(side.index) == set(RELEASED_NAMES.values())
        pub = loading.load_reference("routellm_paper_tables").query(
            "benchmark == @bench and training_data == 'D_arena+D_judge'").set_index("router")
        if bench == "gsm8k":
            assert (side.published_training_data == "D_arena+D_judge").all()
            for key, name in RELEASED_NAMES.items():
                expect = pub.loc[{"bert": "BERT", "causal_llm": "Causal LLM", "mf": "Matrix Factorization",
                                  "sw_ranking": "SW Ranking"}[key.removeprefix("released_")], "apgr"]
                assert side.loc[name, "apgr_routellm"] == pytest.approx(expect)
                assert side.loc[name, "apgr_diff"] == pytest.approx(side.loc[name, "apgr"] - expect)
        else:  # RouteLLM published no D_arena + D_judge row for MMLU: said, not filled with another row
            assert pub.empty and side.apgr_routellm.isna().all()
            assert side.published_training_data.str.startswith("none published for mmlu").all()
    assert experiments.released_beside_published(experiments.comparison_table(runs, "mmlu"), "mmlu").empty


def test_offline_tables_are_unchanged_without_released_runs(tmp_path):
    runs = synthetic_runs(["ragrouter", "bert", "mf", "random"])
    assert experiments.with_released(runs, tmp_path) is runs  # no file
    (tmp_path / "results").mkdir()
    pd.DataFrame().to_csv(tmp_path / "results" / f"{experiments.RELEASED_RUNS}.csv", index=False)  # offline's empty table
    assert experiments.with_released(runs, tmp_path) is runs
    pd.DataFrame(columns=list(runs.columns)).to_csv(tmp_path / "results" / f"{experiments.RELEASED_RUNS}.csv", index=False)
    assert experiments.with_released(runs, tmp_path) is runs  # header only: no released router ran
    # the committed offline runs give the same Tables 1-2 with and without the released-rows step
    out = results.RESULTS.parent
    if not (out / "results" / "table1.csv").exists():
        pytest.skip("no committed offline results")
    plain = results.load_result(out, results.ALL_RUNS)
    for bench in ("mmlu", "gsm8k"):
        assert experiments.comparison_table(experiments.with_released(plain, out), bench).to_csv(index=False) == \
            experiments.comparison_table(plain, bench).to_csv(index=False)


# ----------------------------------------------------------------------------- Hub rows matching evaluation prompts
EVAL = {"mmlu": ["Which planet is the largest in the solar system?", "What is the boiling point of water at sea level?"],
        "gsm8k": ["Tom has 5 apples and buys 7 more. How many apples does he have now?"]}


def hub_frame():
    return pd.DataFrame({
        "prompt": ["which planet is the LARGEST in the solar system", "Write a haiku about autumn leaves.",
                   "Tom has 5 apples and buys 7 more. How many apples does he have now? Answer briefly.",
                   "Explain the rules of chess.", "What is the boiling point of water at sea level?",
                   "What is the boiling point of water at sea level?"],
        "panel": ["arena", "arena", "gpt4_dataset", "gpt4_dataset", "gpt4_dataset", "routerbench"],
        "source": ["chatbot_arena", "chatbot_arena", "synthetic", "synthetic", "synthetic", "arc-challenge"]})


def test_drop_eval_matches_removes_and_counts_planted_copies():
    pool = hub_frame()
    emb = np.eye(6, 8, dtype=np.float32)
    emb[2] = [0, 0, 1, 0, 0, 0, 0.2, 0]  # near-duplicate of gsm8k's prompt (cosine 0.98), not exact
    e = np.eye(8, dtype=np.float32)
    eval_emb = {"mmlu": e[[0, 4]], "gsm8k": e[[2]]}
    kept, counts = leakage.drop_eval_matches(pool, EVAL, emb, eval_emb)
    c = counts.set_index("panel")
    assert c.loc["arena"].to_dict() == {"rows": 2, "removed": 1, "exact": 1, "near-duplicate only": 0,
                                        "mmlu matches": 1, "gsm8k matches": 0}
    assert c.loc["gpt4_dataset"].to_dict() == {
        "rows": 3, "removed": 2, "exact": 1, "near-duplicate only": 1, "mmlu matches": 1, "gsm8k matches": 1}
    assert list(kept.index) == [1, 3, 5]  # the offline row (routerbench) is never removed here: the guard decides
    keep_emb = emb[kept.index]
    with pytest.raises(leakage.LeakageError):  # the guard still stops on the offline copy
        leakage.assert_no_leakage(leakage.leakage_report(kept.prompt, EVAL, keep_emb, eval_emb))
    hub_only = kept[kept.panel != "routerbench"]
    leakage.assert_no_leakage(leakage.leakage_report(hub_only.prompt, EVAL, emb[hub_only.index], eval_emb))
    # without embeddings only the exact copies go
    _, exact_only = leakage.drop_eval_matches(pool, EVAL)
    assert exact_only.removed.tolist() == [1, 1]


def test_paper_pool_step_removes_hub_copies_then_the_guard_passes(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGROUTER_CACHE", str(tmp_path / "cache"))
    pool = hub_frame().iloc[:5].assign(score=3)
    evals = {b: pd.DataFrame({"prompt": p}) for b, p in EVAL.items()}
    with pytest.raises(leakage.LeakageError):
        experiments.check_leakage(pool, evals)  # the planted copies stop the guard ...
    (tmp_path / "results").mkdir()
    cfg = SimpleNamespace(path=lambda kind, name: tmp_path / kind / name, out=tmp_path)
    kept = paper.drop_hub_eval_matches(pool, evals, cfg, **QUIET)
    experiments.check_leakage(kept, evals)  # ... and pass once they are removed
    saved = pd.read_csv(tmp_path / "results" / f"{paper.HUB_MATCHES}.csv").set_index("panel")
    assert saved.removed.to_dict() == {"arena": 1, "gpt4_dataset": 2}
    assert saved.loc["gpt4_dataset", "near-duplicate only"] == 1  # MiniLM cosine >= 0.95, the guard's rule
    assert kept.attrs["hub_eval_matches"] == saved.reset_index().to_dict("records")
