"""Label alignment across sources: a named step of the training pipeline (our extension).

Thesis step: "label alignment and rebalancing" (llm-router In[5] rebalances labels globally). The
pool mixes sources whose strong-needed rates differ enormously (issue 14), so a router trained on
the pooled rows learns which *source* a prompt looks like, not which prompt *within* a source is
hard. Each evaluation set is one source, so only the within-source ranking transfers. Variants:

- ``none``: the pooled labels as they are (RouteLLM's recipe; the thesis baselines use it).
- ``rebalance``: per-source rebalancing. Sample weights make the strong-needed and weak-fine rows
  of every source carry equal weight inside that source, while each source keeps its total weight
  (its row count): between-source base rates no longer carry signal.
- ``source_fe``: source fixed effects. A per-source offset (one-hot source input, or a learned
  per-source logit offset) is part of the model at training time and set to zero at scoring, so
  base rates are absorbed by the offsets instead of by the prompt features (torch heads on fixed
  features also centre those features within each source at training: the within estimator).
  Routers without a
  natural input for it (nearest-neighbour votes, cluster rates) use the equivalent within-source
  centred labels ``y - rate(source) + rate(all)``.

Which variant a router supports is in ``SUPPORTED``; the choice among them is made by the
source-grouped criterion of ``selection`` (never by evaluation rows). A pool column ``weight``
(pool v2: e.g. down-weighted both-fail rows), when present, multiplies every variant's weights.
Deviation: routers whose training loop takes no sample weights (the torch heads trained by
``HeadTrainer``) realise the weights by a seeded weighted resampling of the training rows.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.seeding import step_seed

VARIANTS = ("none", "rebalance", "source_fe")

# Variants each learned router can take (the first is RouteLLM's recipe). sw_ranking's per-query
# Bradley-Terry counts have no label to centre and no input for an offset: weights only. The RBF
# SVM accepts one-hot sources, but zeroing them at scoring scales every kernel value by the same
# factor, so its ranking barely changes (measured in tests/test_alignment.py): weights only.
SUPPORTED = {
    "logreg": VARIANTS, "svm": ("none", "rebalance"), "bert": VARIANTS, "causal_llm": VARIANTS, "mf": VARIANTS,
    "knn": VARIANTS, "kmeans": VARIANTS, "sw_ranking": ("none", "rebalance"),
    "ragrouter": VARIANTS,
}


def check(variant: str) -> str:
    if variant not in VARIANTS:
        raise ValueError(f"unknown alignment {variant!r}; choose one of {VARIANTS}")
    return variant


def sources(frame: pd.DataFrame) -> pd.Series:
    """The grouping column: ``source`` (pool v2), else ``panel`` for older pools."""
    for col in ("source", "panel"):
        if col in frame.columns:
            return frame[col].astype(str)
    raise KeyError("the training frame has neither a 'source' nor a 'panel' column")


def source_codes(frame: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Integer code of each row's source and the sorted source names."""
    names = sorted(sources(frame).unique())
    return sources(frame).map({s: i for i, s in enumerate(names)}).to_numpy(np.int64), names


def sample_weights(frame: pd.DataFrame, variant: str) -> np.ndarray:
    """Per-row training weights, mean 1. ``rebalance``: within each source, the strong-needed and
    weak-fine rows each carry half of the source's weight (a one-class source keeps weight 1)."""
    check(variant)
    base = (frame["weight"].fillna(1.0).to_numpy(float) if "weight" in frame.columns else np.ones(len(frame)))  # augmented rows: 1
    w = base.copy()
    if variant == "rebalance":
        y = frame["strong_needed"].to_numpy(bool)
        src = sources(frame).to_numpy()
        for s in np.unique(src):
            m = src == s
            tot = base[m].sum()
            for cls in (True, False):
                mc = m & (y == cls)
                if mc.any() and (m & (y != cls)).any():
                    w[mc] = base[mc] * (tot / 2) / base[mc].sum()
    return w * len(w) / w.sum() if w.sum() > 0 else w


def centred_labels(frame: pd.DataFrame, y=None) -> np.ndarray:
    """Within-source centred labels ``y - mean_source(y) + mean(y)`` (the base-rate-free signal)."""
    y = np.asarray(frame["strong_needed"] if y is None else y, float)
    src = sources(frame).to_numpy()
    out = y.copy()
    for s in np.unique(src):
        m = src == s
        out[m] = y[m] - y[m].mean() + y.mean()
    return out


def one_hot(codes: np.ndarray, n: int, scale: float = 1.0) -> np.ndarray:
    """One-hot source block appended to the features at training (zeros at scoring)."""
    out = np.zeros((len(codes), n), np.float32)
    out[np.arange(len(codes)), codes] = scale
    return out


def resample(weights: np.ndarray, seed: int) -> np.ndarray:
    """Row indices drawn with replacement in proportion to ``weights`` (n draws; seeded): sample
    weights for training loops that take none. Equal weights give the identity (no draw)."""
    w = np.asarray(weights, float)
    if np.allclose(w, w[0]):
        return np.arange(len(w))
    rng = np.random.default_rng(step_seed(seed, "alignment-resample"))
    return np.sort(rng.choice(len(w), size=len(w), replace=True, p=w / w.sum()))


def class_log_ratios(codes, targets, n_sources: int, n_classes: int) -> np.ndarray:
    """(n_sources, n_classes) log P(class | source) - log P(class), add-one smoothed: the
    closed-form fixed effects of a multinomial head whose features carry no source information."""
    codes, targets = np.asarray(codes), np.asarray(targets)
    cnt = np.ones((n_sources, n_classes))
    np.add.at(cnt, (codes, targets), 1.0)
    pooled = cnt.sum(0) / cnt.sum()
    return np.log(cnt / cnt.sum(1, keepdims=True)) - np.log(pooled)


# Adam learning-rate multiplier of the per-source offsets in the torch heads (they must absorb the
# base rates faster than the feature weights can learn them).
OFFSET_LR_MULT = 10.0


def within_centre(x: np.ndarray, codes) -> np.ndarray:
    """Features with each source's mean replaced by the pooled mean (``x - mean_s(x) + mean(x)``):
    with per-source offsets this is the within (fixed-effects) estimator of a linear model, so the
    weights can only learn within-source differences. Training only; scoring uses raw features."""
    x = np.asarray(x)
    codes = np.asarray(codes)
    out = x.astype(np.float32, copy=True)
    mu = x.mean(0)
    for c in np.unique(codes):
        m = codes == c
        out[m] = x[m] - x[m].mean(0) + mu
    return out


def source_offsets(n_sources: int, n_out: int, init=None):
    """Per-source logit offsets (``nn.Embedding``, zeros or ``init``): added to the logits of a
    training row, left out at scoring (source fixed effects for torch heads). A zero start learns
    too slowly at the heads' learning rates (measured in tests), so heads start from
    ``class_log_ratios`` and keep training them."""
    import torch  # heavy optional package: imported only when this runs
    from torch import nn  # heavy optional package: imported only when this runs
    emb = nn.Embedding(max(n_sources, 1), n_out)
    with torch.no_grad():
        emb.weight.copy_(torch.zeros_like(emb.weight) if init is None
                         else torch.as_tensor(np.asarray(init), dtype=emb.weight.dtype))
    return emb
