"""The cost-saving machinery cannot change a result: bucketed batches and early stopping in the
shared trainer, the SmolLM2 pass shared by perplexity and hidden states, the score cache, the
runner's budget record."""
import json

import numpy as np
import pandas as pd
import torch

from ragrouter_lib import runner
from ragrouter_lib.runs import router_runs
from ragrouter_lib.features import encoders
from ragrouter_lib.pipeline import sampling
from ragrouter_lib.routers.base import Router
from ragrouter_lib.routers.training import HeadTrainer

TEXTS = ["Which gas do plants absorb from the air?", "Tom has 3 apples and eats one. How many are left?",
         "Name the largest planet of the solar system."]


def test_head_trainer_buckets_by_length_and_stops_after_patience():
    class R:
        name = "toy"
        history = []
    module, batches = torch.nn.Linear(1, 2), []

    def logits(idx):
        batches.append(np.asarray(idx).copy())
        return module(torch.zeros(len(idx), 1))
    valid = pd.DataFrame({"prompt": list("abcd"), "strong_needed": [0, 1, 0, 1]})
    HeadTrainer.run(R, module, logits, 100, np.zeros(100, int), valid, 10, 0.1, 0.0, 10, 0,
                    val_scores=lambda: np.array([0.1, 0.2, 0.3, 0.4]), lengths=np.arange(100), patience=1)
    assert len(R.history) == 2  # no improvement after epoch 1: one more epoch, then stop
    first_epoch = batches[:10]
    assert all(b.max() - b.min() == 9 for b in first_epoch)  # each batch = 10 neighbouring lengths
    assert sorted(np.concatenate(first_epoch)) == list(range(100))
    assert [b.min() for b in first_epoch] != sorted(b.min() for b in first_epoch)  # batch order shuffled


def test_perplexity_pass_gives_the_lm_states_exactly():
    out = sampling.perplexities_uncached(TEXTS, 48, 32, False, states_layers=16)
    ref = encoders.lm_encode(TEXTS, 16, 48, 32, False)
    np.testing.assert_array_equal(out["last"], ref["last"])
    np.testing.assert_array_equal(out["mean"], ref["mean"])
    np.testing.assert_array_equal(out["ppl"], sampling.perplexities_uncached(TEXTS, 48, 32, False)["ppl"])


def test_score_cache_is_keyed_by_the_prompts(tmp_path):
    class Counting(Router):
        calls = 0

        def score(self, prompts):
            Counting.calls += 1
            return np.arange(len(prompts), dtype=float)
    r = Counting()
    r.cache_path = tmp_path
    s1, _, hit1 = router_runs.score_cached(r, ["a", "b"])
    s2, _, hit2 = router_runs.score_cached(r, ["a", "b"])
    s3, _, hit3 = router_runs.score_cached(r, ["a", "c"])
    assert (hit1, hit2, hit3) == (False, True, False) and Counting.calls == 2
    np.testing.assert_array_equal(s1, s2)


def test_runner_records_cache_state_and_budget(tmp_path, monkeypatch):
    assert runner.cache_state(tmp_path) == "cold"
    d = tmp_path / "outputs" / "cache" / "features" / "tokens-x"
    d.mkdir(parents=True)
    np.savez(d / "a.npz", keys=np.array(["k"]))
    assert runner.cache_state(tmp_path) == "warm"
    monkeypatch.setattr(runner, "notebooks", lambda only=None: [])
    monkeypatch.setattr(runner, "cache_state", lambda: "warm")
    summary = runner.run("offline", out_dir=str(tmp_path / "out"))
    assert summary["budget_minutes"] == 15 and summary["within_budget"]
    saved = json.loads((tmp_path / "out" / "results" / "run_summary_warm.json").read_text())
    assert saved["cache_at_start"] == "warm"


def test_sentence_pass_fills_the_token_cache_with_the_same_states(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGROUTER_CACHE", str(tmp_path))  # empty cache
    encoders.sentence_embeddings(TEXTS, progress=False)
    calls = []
    monkeypatch.setattr(encoders, "encode", lambda *a, **k: calls.append(a))
    tok = encoders.token_states(TEXTS, "minilm", layer=5, max_len=128, progress=False)  # from the cache
    assert not calls
    monkeypatch.undo()
    fresh = encoders.encode(TEXTS, "minilm", 128, 8, 5, False)  # the default batch: part of the features
    np.testing.assert_array_equal(tok["states"], fresh["states"])
    np.testing.assert_array_equal(tok["offsets"], fresh["offsets"])
