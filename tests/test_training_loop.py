"""One training loop (issue 24, item 4): gradient accumulation in ``training.train_epochs``, and the
paper profile's LLM scorer trains through it.

- ``accum_steps=a`` with batch b gives the parameters of one step per batch of a*b rows (also for a
  short last group); ``accum_steps=1`` is bit-identical to the loop before accumulation existed;
- ``llm_scorer.train_scorer`` calls ``train_epochs`` (a tiny Qwen2 stand-in), and its
  ``grad_accum`` is that accumulation.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from torch import nn

from ragrouter_lib.core.seeding import seed_step
from ragrouter_lib.routers import training

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _data(n=10):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 3, generator=g), torch.randn(n, 1, generator=g)


def _train(batch_size, accum_steps, epochs=3, n=10, lengths=None):
    x, y = _data(n)
    seed_step(0, "toy/init")
    net = nn.Linear(3, 1)
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    rows = training.train_epochs(net, lambda idx: ((net(x[idx]) - y[idx]) ** 2).mean(), n, opt, epochs, batch_size,
                                 np.random.default_rng(7), accum_steps=accum_steps, lengths=lengths)
    return torch.cat([p.detach().flatten() for p in net.parameters()]), rows


def _old_loop(batch_size, epochs=3, n=10):
    """The loop as it was before ``accum_steps`` (zero_grad, backward, step per batch)."""
    x, y = _data(n)
    seed_step(0, "toy/init")
    net = nn.Linear(3, 1)
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    rng = np.random.default_rng(7)
    for _ in range(epochs):
        for idx in training._batches(n, batch_size, rng):
            loss = ((net(x[idx]) - y[idx]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return torch.cat([p.detach().flatten() for p in net.parameters()])


@pytest.mark.parametrize("b, a", [(3, 2), (2, 2), (2, 3), (1, 5)])
def test_accumulating_a_batches_of_b_equals_one_batch_of_a_times_b(b, a):
    """n = 10 rows: groups of a*b rows with a short last group in most cases (10 = 6 + 4, 6 + 4,
    6 + 4, 5 + 5)."""
    accumulated, rows = _train(b, a)
    whole, whole_rows = _train(a * b, 1)
    torch.testing.assert_close(accumulated, whole, rtol=1e-5, atol=1e-6)
    assert len(rows) == 3 and [r["epoch"] for r in rows] == [1, 2, 3]
    assert not torch.allclose(_train(b, 1)[0], whole, rtol=1e-5, atol=1e-6)  # accumulation is what made them equal


def test_accumulation_over_length_buckets_keeps_one_step_per_group():
    steps = []
    x, y = _data(12)
    net = nn.Linear(3, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    opt.register_step_post_hook(lambda *_: steps.append(1))
    training.train_epochs(net, lambda idx: ((net(x[idx]) - y[idx]) ** 2).mean(), 12, opt, 1, 2,
                          np.random.default_rng(0), accum_steps=4, lengths=np.arange(12))
    assert len(steps) == 2  # 6 batches of 2 rows -> groups of 4 + 2 batches


def test_accum_steps_1_is_the_loop_as_it_was():
    assert torch.equal(_train(3, 1)[0], _old_loop(3))


# ----------------------------------------------------------------------------- the LLM scorer
@pytest.fixture(scope="module")
def tiny_llm(tmp_path_factory):
    from ragrouter_lib.data import hub
    return hub.tiny_llm(tmp_path_factory.mktemp("tiny_llm"))


def _scorer(path):
    from ragrouter_lib.routers import llm_scorer as L
    seed_step(0, "test/llm_init")
    tok, bb = L.load_backbone(path, load_4bit=False, lora_r=0, dtype=torch.float32)  # no LoRA dropout
    return tok, L.LLMScorer(bb, L.hidden_size(bb))


TEXTS = ["what is two plus two", "prove the theorem", "write a poem about a river", "why", "list every prime number",
         "compute the integral of x", "explain the market", "translate this"]
Y = np.array([4, 0, 3, 4, 1, 0, 2, 3])


def test_llm_scorer_trains_through_train_epochs_with_its_accumulation(tiny_llm, monkeypatch):
    from ragrouter_lib.routers import llm_scorer as L
    calls = []
    real = L.train_epochs

    def spy(*args, **kw):
        calls.append(kw)
        return real(*args, **kw)
    monkeypatch.setattr(L, "train_epochs", spy)
    tok, scorer = _scorer(tiny_llm)
    logged = []
    hist = L.train_scorer(scorer, tok, TEXTS, Y, epochs=2, lr=1e-2, batch_size=2, grad_accum=2, max_len=32,
                          log=logged.append)
    assert len(calls) == 1 and calls[0]["accum_steps"] == 2
    assert [h["epoch"] for h in hist] == [1, 2] and logged == hist
    assert all(h["stage"] == "llm" and h["rows"] == len(TEXTS) and h["tokens_per_s"] > 0 for h in hist)
    accumulated = torch.cat([p.detach().flatten() for p in scorer.parameters()])
    tok, scorer = _scorer(tiny_llm)
    L.train_scorer(scorer, tok, TEXTS, Y, epochs=2, lr=1e-2, batch_size=4, grad_accum=1, max_len=32)
    torch.testing.assert_close(accumulated, torch.cat([p.detach().flatten() for p in scorer.parameters()]),
                               rtol=1e-4, atol=1e-5)
