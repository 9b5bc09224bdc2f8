"""Battles (Arena form) from the pool's labels, and model tiers from a Bradley-Terry fit.

Thesis step: RouteLLM's routers learn from Chatbot Arena battles (prompt, model_a, model_b,
winner a/b/tie). Deviation (no Arena data offline): the battles are built from the pool
(``labels.pool_labels``): (1) every pair of panel models on a prompt, decided by their correctness
(``panel_battles``); (2) one battle of the routed pair per prompt from its score, as RouteLLM turned
``gpt4_dataset`` into battles (score <= 3 strong wins, 4 tie, 5 weak wins; ``pair_battles``).
Model tiers come from a Bradley-Terry fit (``bradley_terry``), as RouteLLM's Elo tiers do.

>>> b = pd.DataFrame({"model_a": ["x", "x", "y"], "model_b": ["y", "z", "z"], "winner": ["a", "a", "a"]})
>>> r = bradley_terry(b); bool(r["x"] > r["y"] > r["z"])
True
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .pool_labels import STRONG, WEAK, panel_models


def panel_battles(pool: pd.DataFrame) -> pd.DataFrame:
    """All model pairs of each panel on each prompt, decided by 0/1 correctness."""
    out = []
    for panel in ("routerbench", "routerdc"):
        sub = pool[pool.panel == panel]
        models = panel_models(pool, panel)
        vals = sub[models].to_numpy(float)
        for i in range(len(models)):
            for j in range(i + 1, len(models)):
                a, b = vals[:, i], vals[:, j]
                ok = ~(np.isnan(a) | np.isnan(b))
                winner = np.where(a > b, "a", np.where(b > a, "b", "tie"))[ok]
                out.append(pd.DataFrame({"row": sub.index[ok], "model_a": models[i],
                                         "model_b": models[j], "winner": winner}))
    return pd.concat(out, ignore_index=True)


def pair_battles(pool: pd.DataFrame) -> pd.DataFrame:
    """One strong-vs-weak battle per row from its score (<=3 strong wins, 4 tie, 5 weak wins)."""
    winner = np.select([pool.score <= 3, pool.score == 4], ["a", "tie"], default="b")
    return pd.DataFrame({"row": pool.index, "model_a": STRONG, "model_b": WEAK, "winner": winner})


def bradley_terry(battles: pd.DataFrame, weights=None, iters: int = 200, prior: float = 0.5) -> pd.Series:
    """Elo-scale Bradley-Terry ratings (ties count half a win to each side; MM algorithm).

    A ``prior`` of virtual ties between every pair keeps the fit finite and disconnected panels
    centred; ratings are on the Elo scale (400 log10), mean 1000.

    >>> b = pd.DataFrame({"model_a": ["x"] * 3, "model_b": ["y"] * 3, "winner": ["a", "a", "b"]})
    >>> r = bradley_terry(b, prior=0.0)
    >>> round(float(r["x"] - r["y"]))   # x wins 2 of 3: 400 log10(2)
    120
    """
    models = sorted(set(battles.model_a) | set(battles.model_b))
    idx = {m: i for i, m in enumerate(models)}
    w = np.ones(len(battles)) if weights is None else np.asarray(weights, float)
    C = np.zeros((len(models), len(models)))
    ia, ib = battles.model_a.map(idx).to_numpy(), battles.model_b.map(idx).to_numpy()
    win_a = battles.winner.map({"a": 1.0, "b": 0.0, "tie": 0.5}).to_numpy()
    np.add.at(C, (ia, ib), w * win_a)
    np.add.at(C, (ib, ia), w * (1 - win_a))
    elo = np.log10(bt_mm(C[None], iters=iters, prior=prior)[0]) * 400
    return pd.Series(elo - elo.mean() + 1000, index=models).sort_values(ascending=False)


def bt_mm(C: np.ndarray, iters: int = 100, prior: float = 0.5) -> np.ndarray:
    """Batched Bradley-Terry strengths from win matrices C[b, i, j] = wins of i over j."""
    C = C + prior * (1 - np.eye(C.shape[-1]))[None]
    wins = C.sum(-1)
    N = C + np.swapaxes(C, -1, -2)
    pi = np.ones(C.shape[:2])
    for _ in range(iters):
        denom = (N / (pi[:, :, None] + pi[:, None, :])).sum(-1)
        pi = wins / np.maximum(denom, 1e-12)
        pi /= np.exp(np.log(np.maximum(pi, 1e-300)).mean(-1, keepdims=True))
    return pi


def tiers(elo: pd.Series, n_tiers: int = 3, strong: str = STRONG, weak: str = WEAK) -> pd.Series:
    """Tier 0 = strongest. RouteLLM groups Arena models into Elo tiers and routes between the strong
    and the weak model's tiers; here the bands are centred on the routed pair so that the two always
    fall in different tiers: band width = Elo(strong) - Elo(weak), tier 0 above their midpoint.

    >>> tiers(pd.Series({"s": 1100.0, "w": 1000.0, "x": 1060.0, "y": 960.0, "z": 700.0}), 3, "s", "w").tolist()
    [0, 1, 0, 1, 2]
    """
    width = elo[strong] - elo[weak]
    if width > 0:
        mid = (elo[strong] + elo[weak]) / 2
        return pd.Series(np.clip(np.ceil((mid - elo) / width), 0, n_tiers - 1).astype(int), index=elo.index)
    # No evidence that the strong model beats the weak one in these rows (e.g. a selection fold that
    # holds out every source with the pair's own answers): keep RouteLLM's premise, the strong model's
    # tier above the weak model's, and band the others around them by the Elo spread.
    print(f"tiers: Elo of {strong} ({elo[strong]:.0f}) is not above {weak} ({elo[weak]:.0f}) in these rows; "
          "the pair is pinned to tiers 0 and 1")
    width = float(elo.std()) or 100.0
    t = pd.Series(np.clip(np.ceil((elo[strong] - width / 2 - elo) / width), 0, n_tiers - 1).astype(int), index=elo.index)
    t[strong], t[weak] = 0, min(1, n_tiers - 1)
    return t
