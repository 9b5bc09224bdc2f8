"""Perplexity of every training query: the difficulty signal of perplexity-based sampling (Table 4).

Thesis step: every training query's perplexity under GPT-2-large, the input of the difficulty
levels of Table 4's "with sampling" (levels, weights, rebalancing and the choice of the signal live
in ``pipeline.difficulty``; this module only computes perplexities, so editing the level code never
retires the cached perplexities or ``data/derived``).

Here: GPT-2 weights are not obtainable offline, so perplexity comes from SmolLM2-135M (the
largest causal LM the CPU budget allows), on the ``max_len``-token window of ``core.text``
(head + tail), cached per text (``encoders.cached``, committed in ``data/derived``).
Gemma-3-270M's perplexity, the other candidate signal, is ``features.gemma_lm``.
"""
from __future__ import annotations

import numpy as np
import torch

from ..core import text
from ..features import encoders


@torch.inference_mode()
def perplexities_uncached(texts, max_len, batch_size, progress, states_layers=None):
    """Perplexity per text from one SmolLM2 pass, not cached (``perplexities`` caches it); with
    ``states_layers`` = n also the SmolLM2 states after n layers (``encoders.lm_states``' values,
    from the same pass)."""
    tok, model, _ = encoders.load_lm(None)
    tok.padding_side = "right"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    ids = text.encode_window(tok, texts, max_len)  # the same window as features.lm_states
    lengths = np.array([len(x) for x in ids])
    out = np.full(len(texts), np.nan, np.float32)
    d = model.config.hidden_size
    last, mean = np.zeros((len(texts), d), np.float16), np.zeros((len(texts), d), np.float16)  # as lm_states
    batches = encoders.length_batches(lengths, batch_size)
    for b in encoders.progress_bar(batches, len(batches), "smollm2 perplexity", progress):
        batch = tok.pad({"input_ids": [ids[i] for i in b]}, return_tensors="pt")
        res = model(**batch, output_hidden_states=states_layers is not None)
        logits = res.logits[:, :-1]
        tgt = batch["input_ids"][:, 1:]
        mask = batch["attention_mask"][:, 1:].float()
        nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), tgt, reduction="none")
        out[b] = torch.exp((nll * mask).sum(1) / mask.sum(1).clamp(min=1)).numpy()
        if states_layers is not None:
            h = model.model.norm(res.hidden_states[states_layers])
            encoders.lm_pool(h, batch["attention_mask"], lengths[b], b, last, mean)
    return {"ppl": out} if states_layers is None else {"ppl": out, "last": last, "mean": mean}


def perplexities(texts, max_len: int = 48, batch_size: int = 8, progress: bool = True,
                 lm_states_layers: int | None = None) -> np.ndarray:
    """Perplexity of each text's first ``max_len`` tokens (cached per text). ``lm_states_layers``:
    also store ``encoders.lm_states(texts, lm_states_layers, max_len)`` from the same pass."""
    texts = list(texts)

    def compute(t):
        out = perplexities_uncached(t, max_len, batch_size, progress, lm_states_layers)
        if lm_states_layers is not None:
            encoders.store(encoders.store_dir("lm", encoders.lm_params(lm_states_layers, max_len)),
                           encoders.text_keys(t), {"last": out.pop("last"), "mean": out.pop("mean")})
        return out
    return encoders.cached("ppl", ppl_params(max_len), texts, compute, verbose=progress, modules=[__name__])["ppl"]


def ppl_params(max_len: int = 48) -> dict:
    """What keys the perplexity store (model identity, window, truncation rule)."""
    return {"lm": "smollm2-135m", "model": encoders.load_lm(None)[2], "max_len": max_len,
            "truncation": text.TRUNCATION_RULE}


def ppl_store(max_len: int = 48):
    """The perplexity store's folder for the current code (``scripts/build_derived.py`` copies it)."""
    return encoders.store_dir("ppl", ppl_params(max_len), modules=[__name__])
