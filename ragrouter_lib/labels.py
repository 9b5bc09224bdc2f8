"""The offline training pool and its labels: battles (Arena form) and weak-quality scores 1-5.

Thesis step: the routers' training data. The thesis (like RouteLLM) trains on Chatbot Arena
preference battles plus RouteLLM's GPT-4-judged ``gpt4_dataset`` (``mixtral_score`` 1-5). Neither
can be fetched here, so the pool is every labelled row available offline:

- RouterBench train rows (ARC-Challenge, Winogrande, MBPP): 0/1 correctness of 11 models including
  the routed pair itself (gpt-4-1106-preview = strong, mixtral-8x7b-chat = weak);
- RouterDC rows (GSM8K-train, MATH prealgebra, ARC-Easy, HumanEval, HumanEval-JS): scores of 7 open
  7-8B models, binarised at 0.5 (ARC-Easy scores are answer probabilities).
Rows with a missing score of the pair are dropped: 6,754 rows.

**Weak-quality score 1-5** (replaces the GPT-4 / DeepSeek judge; 1-3 = strong model needed):

=========================  =============================================================
RouterBench row            score
=========================  =============================================================
weak right, panel easy     5  (>= half of the other 9 models right)
weak right, panel hard     4
weak wrong, strong right   1  (the strong model fixes it)
weak wrong, strong wrong   2 if some other model is right, else 3 (nobody solves it)
RouterDC row (no pair)     1 + round(4 p), p = share of the 7 open models right
=========================  =============================================================

For RouterDC rows the weak model's answer is unknown; the panel's solve rate stands in for it:
Mixtral-8x7B is stronger than every 7-8B panel model, so a prompt that >= 5 of 7 solve (score >= 4)
is taken as one the weak model handles. ``gpt4_dataset`` rows keep their ``mixtral_score``.

**Battles** (Arena form: prompt, model_a, model_b, winner a/b/tie): (1) every pair of panel models
on a prompt, decided by their correctness (``panel_battles``); (2) one battle of the routed pair per
prompt from its score, as RouteLLM turned ``gpt4_dataset`` into battles (score <= 3 strong wins,
4 tie, 5 weak wins; ``pair_battles``). Model tiers come from a Bradley-Terry fit (``bradley_terry``).
"""
from __future__ import annotations

import hashlib
import re
import unicodedata

import numpy as np
import pandas as pd

from . import data

STRONG = "gpt-4-1106-preview"
WEAK = "mistralai/mixtral-8x7b-chat"


# ----------------------------------------------------------------------------- the pool
def _routerdc_models(dc: pd.DataFrame) -> list[str]:
    return [c for c in dc.columns if c not in ("sample_id", "prompt", "source")]


def build_pool(arena=None, gpt4=None) -> pd.DataFrame:
    """Every labelled offline row: pool_id, prompt, source, panel, score (1-5), strong_needed.

    ``arena``/``gpt4``: optional frames from ``data.load_arena``/``data.load_gpt4_dataset``.
    """
    rb = data.load_routerbench().dropna(subset=[STRONG, WEAK]).reset_index(drop=True)
    score = score_with_pair(rb)
    w, s = rb[WEAK] == 1, rb[STRONG] == 1
    rb_pool = pd.DataFrame({"pool_id": "rb:" + rb.sample_id, "prompt": rb.prompt,
                            "source": rb.source, "panel": "routerbench", "score": score,
                            "weak_correct": w.astype(float), "strong_correct": s.astype(float)})
    rb_pool = pd.concat([rb_pool, rb[data.ROUTERBENCH_MODELS]], axis=1)

    dc = data.load_routerdc()
    models = _routerdc_models(dc)
    binar = (dc[models] >= 0.5).astype(float)
    dc_pool = pd.DataFrame({"pool_id": "dc:" + dc.sample_id, "prompt": dc.prompt, "source": dc.source,
                            "panel": "routerdc", "score": score_from_panel(binar),
                            "weak_correct": np.nan, "strong_correct": np.nan})
    dc_pool = pd.concat([dc_pool, binar], axis=1)
    frames = [rb_pool, dc_pool]
    if gpt4 is not None:
        frames.append(pd.DataFrame({"pool_id": [f"gpt4:{i}" for i in range(len(gpt4))],
                                    "prompt": gpt4.prompt.values, "source": gpt4.source.values,
                                    "panel": "gpt4_dataset", "score": gpt4.mixtral_score.values}))
    if arena is not None:
        frames.append(arena_scores(arena))
    pool = pd.concat(frames, ignore_index=True)
    pool["strong_needed"] = (pool["score"] <= 3).astype(int)
    return pool


def score_with_pair(rows: pd.DataFrame, models=None) -> np.ndarray:
    """Score 1-5 of rows holding the pair's own 0/1 answers (and the rest of a panel's).

    >>> rows = pd.DataFrame({STRONG: [1, 1, 0, 0, 1], WEAK: [1, 1, 0, 0, 0], "m": [1, 0, 1, 0, 0]})
    >>> score_with_pair(rows, [STRONG, WEAK, "m"]).tolist()
    [5, 4, 2, 3, 1]
    """
    models = models or data.ROUTERBENCH_MODELS
    others = [m for m in models if m not in (STRONG, WEAK)]
    k = rows[others].mean(axis=1, skipna=True)
    w, s = rows[WEAK] == 1, rows[STRONG] == 1
    any_other = (rows[others] == 1).any(axis=1)
    return np.select([w & (k >= 0.5), w, s, any_other], [5, 4, 1, 2], default=3)


def score_from_panel(correct: pd.DataFrame) -> np.ndarray:
    """Score 1-5 from a panel's 0/1 answers when the pair's own are unknown: 1 + round(4 p).

    >>> score_from_panel(pd.DataFrame({"a": [1, 1, 0, 1], "b": [1, 0, 0, 1], "c": [1, 0, 0, 0]})).tolist()
    [5, 2, 1, 4]
    """
    return (1 + np.round(4 * correct.mean(axis=1))).astype(int).to_numpy()


def arena_scores(arena: pd.DataFrame) -> pd.DataFrame:
    """Arena preference rows -> pool rows, scored only where one side is the routed pair's tier.

    Mapping (label alignment of the thesis; see notebook 04 for the full treatment): the row is
    kept when exactly one side is the strong model; strong wins -> 2, tie -> 4, strong loses -> 5.
    """
    a_strong, b_strong = arena.model_a == STRONG, arena.model_b == STRONG
    keep = a_strong ^ b_strong
    sub = arena[keep]
    strong_won = np.where(a_strong[keep], sub.winner == "a", sub.winner == "b")
    score = np.where(sub.winner == "tie", 4, np.where(strong_won, 2, 5))
    return pd.DataFrame({"pool_id": "arena:" + sub["id"].astype(str), "prompt": sub.prompt_text.values,
                         "source": "chatbot_arena", "panel": "arena", "score": score})


def panel_models(pool: pd.DataFrame, panel: str) -> list[str]:
    if panel == "routerbench":
        return list(data.ROUTERBENCH_MODELS)
    if panel == "routerdc":
        return [c for c in pool.columns if "/" in c and c not in data.ROUTERBENCH_MODELS]
    raise ValueError(panel)


def split(pool: pd.DataFrame, valid_frac: float = 0.15, seed: int = 0) -> pd.Series:
    """'train'/'valid' per row, by a seeded hash of the normalised prompt (duplicates stay together)."""
    keys = pool.prompt.map(normalize)
    u = keys.map(lambda t: int(hashlib.sha256(f"{seed}:{t}".encode()).hexdigest()[:8], 16) / 2**32)
    return pd.Series(np.where(u < valid_frac, "valid", "train"), index=pool.index)


# ----------------------------------------------------------------------------- battles
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
    if width <= 0:
        raise ValueError(f"Elo of {strong} ({elo[strong]:.0f}) is not above {weak} ({elo[weak]:.0f})")
    mid = (elo[strong] + elo[weak]) / 2
    return pd.Series(np.clip(np.ceil((mid - elo) / width), 0, n_tiers - 1).astype(int), index=elo.index)


# ----------------------------------------------------------------------------- leakage check
def normalize(text: str) -> str:
    """Case-, accent-, punctuation- and whitespace-insensitive form of a prompt."""
    t = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode().lower()
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9 ]+", " ", t)).strip()


class LeakageError(RuntimeError):
    """An evaluation prompt (MMLU/GSM8K) was found among training-side prompts."""


def leakage_report(train_prompts, eval_prompts: dict, train_emb=None, eval_emb: dict | None = None,
                   threshold: float = 0.95) -> pd.DataFrame:
    """Training prompts that match an evaluation prompt: exact after ``normalize``, or near-duplicate
    (cosine similarity of normalised embeddings >= ``threshold``)."""
    train_prompts = list(train_prompts)
    norm_train = {}
    for i, p in enumerate(train_prompts):
        norm_train.setdefault(normalize(p), []).append(i)
    rows = []
    for bench, prompts in eval_prompts.items():
        for j, p in enumerate(prompts):
            for i in norm_train.get(normalize(p), []):
                rows.append(dict(benchmark=bench, eval_idx=j, train_idx=i, kind="exact", similarity=1.0))
        if train_emb is not None and eval_emb is not None:
            E = _unit(eval_emb[bench])
            T = _unit(train_emb)
            for start in range(0, len(E), 2048):
                sims = E[start:start + 2048] @ T.T
                jj, ii = np.nonzero(sims >= threshold)
                rows += [dict(benchmark=bench, eval_idx=start + a, train_idx=b, kind="near-duplicate",
                              similarity=float(sims[a, b])) for a, b in zip(jj, ii)]
    cols = ["benchmark", "eval_idx", "train_idx", "kind", "similarity"]
    rep = pd.DataFrame(rows, columns=cols).drop_duplicates(["benchmark", "eval_idx", "train_idx"])
    if len(rep):
        rep["train_prompt"] = [train_prompts[i][:80] for i in rep.train_idx]
    return rep


def closest_pairs(train_prompts, eval_prompts, train_emb, eval_emb, k: int = 3) -> pd.DataFrame:
    """The k most similar (evaluation, training) prompt pairs: what the near-duplicate check saw."""
    E, T = _unit(eval_emb), _unit(train_emb)
    best = []
    for start in range(0, len(E), 2048):
        sims = E[start:start + 2048] @ T.T
        j = sims.argmax(1)
        best += [(float(sims[a, j[a]]), start + a, int(j[a])) for a in range(len(j))]
    best.sort(reverse=True)
    return pd.DataFrame([{"similarity": s, "eval_prompt": eval_prompts[e][:70],
                          "train_prompt": train_prompts[t][:70]} for s, e, t in best[:k]])


def assert_no_leakage(report: pd.DataFrame) -> None:
    if len(report):
        raise LeakageError(f"{len(report)} training prompt(s) match evaluation prompts:\n"
                           f"{report.head(10).to_string()}")
    print("leakage check passed: no training prompt matches an MMLU/GSM8K evaluation prompt")


def _unit(x):
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def arena_mapping_table() -> pd.DataFrame:
    """The preference -> weak-quality mapping of ``arena_scores``, as a table for the notebook."""
    rows = [("strong model wins", 2, "the weak side lost to the strong model: route to strong"),
            ("tie", 4, "judged as good as the strong model's answer: weak is fine"),
            ("strong model loses", 5, "the other side beat the strong model: weak is fine"),
            ("strong model not in the battle", None, "row not used for the routed pair")]
    return pd.DataFrame(rows, columns=["Arena outcome", "weak-quality score", "reading"])
