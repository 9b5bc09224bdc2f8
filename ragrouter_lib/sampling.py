"""Perplexity-based dynamic sampling with label rebalancing (thesis: Table 4's "with sampling").

Thesis step: every training query's perplexity under GPT-2-large; difficulty levels by perplexity
quartile; harder and rarer queries up-weighted; labels rebalanced as in anyscale's llm-router
(In[5]); the sampled set is larger than the original data and smaller than original + augmented.

Here: GPT-2 weights are not obtainable offline, so perplexity comes from SmolLM2-135M (the
largest causal LM the CPU budget allows), on the first ``max_len`` tokens, cached per text.
Weights: ``level_weight[level] * rarity``, rarity = (share of the row's source)^-1/2, so a query
from a rare source or a high-perplexity quartile is drawn more often. Rebalancing: the target size
is split equally between the two routing labels ("strong needed" or not); within a label rows are
drawn with probability proportional to their weight, without replacement while rows last, then
with replacement (duplicates are how the thesis's sampled set grows beyond the original).

>>> df = pd.DataFrame({"strong_needed": [0] * 8 + [1] * 2, "source": ["a"] * 10})
>>> out = rebalance_sample(df, np.ones(10), 12, seed=0)
>>> len(out), int(out.strong_needed.sum())
(12, 6)
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from . import features

LEVEL_WEIGHTS = (1.0, 1.25, 1.5, 2.0)  # perplexity quartile 0 (easiest) .. 3 (hardest)


@torch.inference_mode()
def _ppl(texts, max_len, batch_size, progress, states_layers=None):
    """Perplexity per text; with ``states_layers`` = n also the SmolLM2 states after n layers
    (``features.lm_states``' values, from the same pass)."""
    tok, model, _ = features.load_lm(None)
    tok.padding_side = "right"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    ids = tok(list(texts), truncation=True, max_length=max_len)["input_ids"]
    lengths = np.array([len(x) for x in ids])
    out = np.full(len(texts), np.nan, np.float32)
    d = model.config.hidden_size
    last, mean = np.zeros((len(texts), d), np.float32), np.zeros((len(texts), d), np.float32)
    batches = features._batches(lengths, batch_size)
    for b in features._progress(batches, len(batches), "smollm2 perplexity", progress):
        batch = tok.pad({"input_ids": [ids[i] for i in b]}, return_tensors="pt")
        res = model(**batch, output_hidden_states=states_layers is not None)
        logits = res.logits[:, :-1]
        tgt = batch["input_ids"][:, 1:]
        mask = batch["attention_mask"][:, 1:].float()
        nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), tgt, reduction="none")
        out[b] = torch.exp((nll * mask).sum(1) / mask.sum(1).clamp(min=1)).numpy()
        if states_layers is not None:
            h = model.model.norm(res.hidden_states[states_layers])
            features.lm_pool(h, batch["attention_mask"], lengths[b], b, last, mean)
    return {"ppl": out} if states_layers is None else {"ppl": out, "last": last, "mean": mean}


def perplexities(texts, max_len: int = 48, batch_size: int = 32, progress: bool = True,
                 lm_states_layers: int | None = None) -> np.ndarray:
    """Perplexity of each text's first ``max_len`` tokens (cached per text). ``lm_states_layers``:
    also store ``features.lm_states(texts, lm_states_layers, max_len)`` from the same pass."""
    texts = list(texts)
    params = {"lm": "smollm2-135m", "model": features.load_lm(None)[2], "max_len": max_len}

    def compute(t):
        out = _ppl(t, max_len, batch_size, progress, lm_states_layers)
        if lm_states_layers is not None:
            features.store(features._store_dir("lm", features.lm_params(lm_states_layers, max_len)),
                           features.text_keys(t), {"last": out.pop("last"), "mean": out.pop("mean")})
        return out
    return features.cached("ppl", params, texts, compute, verbose=progress)["ppl"]


def difficulty_levels(ppl) -> np.ndarray:
    """Perplexity quartile 0..3 (3 = highest perplexity = hardest)."""
    ppl = np.asarray(ppl, float)
    q = np.quantile(ppl, [0.25, 0.5, 0.75])
    return np.searchsorted(q, ppl, side="right")


def weights(df: pd.DataFrame, levels, level_weights=LEVEL_WEIGHTS) -> np.ndarray:
    share = df.source.map(df.source.value_counts(normalize=True)).to_numpy(float)
    return np.asarray(level_weights)[np.asarray(levels)] * share ** -0.5


def rebalance_sample(df: pd.DataFrame, w, size: int, label: str = "strong_needed", seed: int = 0):
    """``size`` rows, half per label value, drawn proportionally to ``w`` (see module docstring)."""
    rng = np.random.default_rng(seed)
    w = np.asarray(w, float)
    classes = sorted(df[label].unique())
    per = [size // len(classes) + (1 if k < size % len(classes) else 0) for k in range(len(classes))]
    picks = []
    for c, n in zip(classes, per):
        idx = np.flatnonzero(df[label].to_numpy() == c)
        p = w[idx] / w[idx].sum()
        first = rng.choice(idx, size=min(n, len(idx)), replace=False, p=p)
        extra = rng.choice(idx, size=n - len(first), replace=True, p=p) if n > len(idx) else []
        picks.append(np.concatenate([first, extra]).astype(int))
    out = df.iloc[np.concatenate(picks)].copy()
    out["sample_weight"] = w[np.concatenate(picks)]
    return out.sample(frac=1.0, random_state=seed)


def dynamic_sample(original: pd.DataFrame, augmented: pd.DataFrame, ppl, size_frac: float = 0.5,
                   seed: int = 0) -> pd.DataFrame:
    """Sample from original + augmented rows: size = len(original) + size_frac * len(augmented),
    strictly between the two bounds; ``ppl`` aligned with the concatenated rows."""
    both = pd.concat([original, augmented], ignore_index=True)
    size = len(original) + int(round(size_frac * len(augmented)))
    if augmented is not None and len(augmented) and not len(original) < size < len(both):
        raise ValueError(f"sample size {size} not within ({len(original)}, {len(both)})")
    return rebalance_sample(both, weights(both, difficulty_levels(ppl)), size, seed=seed)
