"""Perplexity-based dynamic sampling with label rebalancing (thesis: Table 4's "with sampling").

Thesis step: every training query's perplexity under GPT-2-large; difficulty levels by perplexity
quartile; harder and rarer queries up-weighted; labels rebalanced as in anyscale's llm-router
(In[5]); the sampled set is larger than the original data and smaller than original + augmented.

Here: GPT-2 weights are not obtainable offline, so perplexity comes from SmolLM2-135M (the
largest causal LM the CPU budget allows), on the first ``max_len`` tokens, cached per text.
Levels: rank-based perplexity quartiles (ties share a level), within each source by default
(pooled quartiles mostly sort sources by their typical perplexity). The thesis takes high
perplexity as hard; here the sign is measured on the training rows (``difficulty_check``:
within-source Spearman rho of perplexity vs "strong needed") and, by default
(``orient="measured"``), the levels follow it, so "up-weight hard rows" follows measured
difficulty (deviations, to be written in notebook 04).
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

from ..core import text
from ..core.seeding import step_seed
from ..features import encoders

LEVEL_WEIGHTS = (1.0, 1.25, 1.5, 2.0)  # difficulty level 0 (easiest) .. 3 (hardest)


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


def difficulty_levels(ppl, direction: int = 1, groups=None) -> np.ndarray:
    """Rank-based perplexity quartile 0..3 (3 = hardest). Ties share the level of their average
    rank, so the four levels have equal sizes up to ties (``np.quantile`` + ``searchsorted`` put a
    whole block of tied perplexities, e.g. rows whose first tokens are one shared preamble, into the
    next level). ``direction=-1``: low perplexity is the hard end (see ``difficulty_direction``).

    ``groups`` (e.g. the rows' sources): quartiles within each group, so that the level says how
    hard a row is for its source rather than which source it comes from.

    >>> difficulty_levels([5, 1, 1, 1, 2, 3, 4, 6]).tolist()
    [3, 0, 0, 0, 1, 2, 2, 3]
    >>> difficulty_levels([1, 2, 3, 4, 10, 20, 30, 40], groups=list("aaaabbbb")).tolist()
    [0, 1, 2, 3, 0, 1, 2, 3]
    """
    from scipy.stats import rankdata  # heavy optional package: imported only when this runs
    ppl = np.asarray(ppl, float) * (1 if direction >= 0 else -1)
    if groups is not None:
        groups = np.asarray(groups)
        out = np.zeros(len(ppl), int)
        for g in np.unique(groups):
            m = groups == g
            out[m] = difficulty_levels(ppl[m])
        return out
    if not len(ppl):
        return np.zeros(0, int)
    r = rankdata(ppl, method="average")
    return np.minimum((4 * (r - 0.5) / len(ppl)).astype(int), 3)


def difficulty_direction(ppl, strong_needed, source) -> int:
    """+1 when higher perplexity goes with "strong model needed" within sources (row-weighted mean
    of per-source Spearman rho), else -1: the thesis assumes +1; the pool's sign is measured, on
    training rows only."""
    rho = difficulty_check(ppl, strong_needed, source).attrs["within_source_rho"]
    return 1 if not np.isfinite(rho) or rho >= 0 else -1


def difficulty_check(ppl, strong_needed, source, direction: int = 1) -> pd.DataFrame:
    """Per level: rows, median perplexity, strong-needed rate; ``attrs``: pooled and within-source
    (row-weighted) Spearman rho of perplexity vs strong-needed, and the tied-perplexity share."""
    from scipy.stats import spearmanr  # heavy optional package: imported only when this runs
    ppl, y = np.asarray(ppl, float), np.asarray(strong_needed, float)
    df = pd.DataFrame({"ppl": ppl, "y": y, "source": np.asarray(source), "level": difficulty_levels(ppl, direction)})
    out = df.groupby("level").agg(rows=("ppl", "size"), median_ppl=("ppl", "median"),
                                  strong_needed=("y", "mean")).reset_index()
    rhos, ns = [], []
    for _, g in df.groupby("source"):
        if len(g) > 2 and g.ppl.nunique() > 1 and g.y.nunique() > 1:
            rhos.append(spearmanr(g.ppl, g.y)[0])
            ns.append(len(g))
    pooled = spearmanr(df.ppl, df.y)[0] if df.ppl.nunique() > 1 and df.y.nunique() > 1 else np.nan
    out.attrs = {"pooled_rho": float(pooled), "within_source_rho": float(np.average(rhos, weights=ns)) if ns else np.nan,
                 "tied_share": float(1 - df.ppl.nunique() / max(len(df), 1))}
    return out


def weights(df: pd.DataFrame, levels, level_weights=LEVEL_WEIGHTS) -> np.ndarray:
    share = df.source.map(df.source.value_counts(normalize=True)).to_numpy(float)
    return np.asarray(level_weights)[np.asarray(levels)] * share ** -0.5


def rebalance_sample(df: pd.DataFrame, w, size: int, label: str = "strong_needed", seed: int = 0):
    """``size`` rows, half per label value, drawn proportionally to ``w`` (see module docstring)."""
    rng = np.random.default_rng(step_seed(seed, "rebalance-sample"))
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
    return out.iloc[rng.permutation(len(out))]  # shuffled


def dynamic_sample(original: pd.DataFrame, augmented: pd.DataFrame, ppl, size_frac: float = 0.5,
                   seed: int = 0, orient: str = "measured", within_source: bool = True) -> pd.DataFrame:
    """Sample from original + augmented rows: size = len(original) + size_frac * len(augmented),
    strictly between the two bounds; ``ppl`` aligned with the concatenated rows. ``orient``:
    "measured" (default) orders the levels by the within-source sign of perplexity vs
    strong-needed on these training rows (``difficulty_direction``); "thesis": high perplexity = hard.
    ``within_source``: levels are quartiles within each source (default; pooled quartiles mostly sort
    sources by their typical perplexity, which is not difficulty: measured in notebook 04)."""
    both = pd.concat([original, augmented], ignore_index=True)
    size = len(original) + int(round(size_frac * len(augmented)))
    if augmented is not None and len(augmented) and not len(original) < size < len(both):
        raise ValueError(f"sample size {size} not within ({len(original)}, {len(both)})")
    levels = sampling_levels(both, ppl, orient, within_source)
    return rebalance_sample(both, weights(both, levels), size, seed=seed)


def sampling_levels(both: pd.DataFrame, ppl, orient: str = "measured", within_source: bool = True) -> np.ndarray:
    """The difficulty levels ``dynamic_sample`` weights by (show these in the log, not pooled ones)."""
    direction = difficulty_direction(ppl, both.strong_needed, both.source) if orient == "measured" else 1
    return difficulty_levels(ppl, direction, both.source.to_numpy() if within_source else None)
