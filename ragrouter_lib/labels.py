"""The offline training pool and its labels: battles (Arena form) and weak-quality scores 1-5.

Thesis step: the routers' training data. The thesis (like RouteLLM) trains on Chatbot Arena
preference battles plus RouteLLM's GPT-4-judged ``gpt4_dataset`` (``mixtral_score`` 1-5). Neither
can be fetched here, so the pool is every labelled row available offline:

- RouterBench train rows (ARC-Challenge, Winogrande, MBPP): 0/1 correctness of 11 models including
  the routed pair itself (gpt-4-1106-preview = strong, mixtral-8x7b-chat = weak);
- RouterDC rows (GSM8K-train, MATH prealgebra, ARC-Easy, HumanEval, HumanEval-JS): scores of 7 open
  7-8B models, binarised at 0.5 (ARC-Easy scores are answer probabilities).
Rows with a missing score of the pair are dropped: 6,754 rows. Pool v2 (issue 13) adds two
switchable exact-pair sources, off by default (``SOURCES``, ``DEFAULT_SOURCES``, profile parameter
``pool_sources``): AlpacaEval 2 (803 instructions, gpt-4-1106-preview vs Mixtral judged by
gpt-4-1106-preview; CC BY-NC 4.0) and MMLU-Pro STEM (5,222 questions, Mixtral vs GPT-4o 0/1).
Every row's ``prompt`` is its question without the source's shared few-shot preamble
(``text.strip_preambles``; the raw text stays in ``prompt_raw``). One "strong needed" meaning for
every exact-pair source: ``PAIR_SEMANTICS``; rows where weak and strong model both fail
(``both_fail``) follow a policy (``apply_both_fail``: strong-needed [default, the previous
behaviour] / weak-fine / dropped / down-weighted via the ``weight`` column), chosen by the
leave-one-source-out criterion of ``sources.choose_options``, never by evaluation rows.

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

from . import data, text

STRONG = "gpt-4-1106-preview"
WEAK = "mistralai/mixtral-8x7b-chat"


# ----------------------------------------------------------------------------- the pool
# Every source the pool can hold, by panel (the label recipe). Switch sources on/off with
# ``build_pool(sources=...)`` / the profile parameter ``pool_sources``; ``DEFAULT_SOURCES`` is the
# list used when a profile names none (the one place the default lives).
SOURCES: dict[str, str] = {
    "arc-challenge": "routerbench", "winogrande": "routerbench", "mbpp": "routerbench",
    "arc_easy_train": "routerdc", "arc_easy_test": "routerdc", "gsm8k-train": "routerdc",
    "MATH_prealgebra": "routerdc", "humaneval_train": "routerdc", "humaneval_test": "routerdc",
    "javascript": "routerdc",
    "alpaca_eval": "alpaca_eval", "mmlu_pro": "mmlu_pro",
}
NEW_SOURCES = ("alpaca_eval", "mmlu_pro")  # pool v2 additions
DEFAULT_SOURCES: tuple[str, ...] = tuple(s for s in SOURCES if s not in NEW_SOURCES)
BOTH_FAIL_POLICIES = ("strong-needed", "weak-fine", "dropped", "down-weighted")
DEFAULT_BOTH_FAIL = "strong-needed"  # today's behaviour (RouterBench both wrong -> 2/3)
BOTH_FAIL_WEIGHT = 0.25  # the ``weight`` of a both-fail row under "down-weighted"


def resolve_sources(sources=None) -> list[str]:
    """Source names (a panel name stands for all its sources); None = ``DEFAULT_SOURCES``."""
    if sources is None:
        return list(DEFAULT_SOURCES)
    out = []
    for name in ([sources] if isinstance(sources, str) else sources):
        if name in SOURCES:
            out.append(name)
        elif name in SOURCES.values():
            out += [s for s, p in SOURCES.items() if p == name]
        else:
            raise ValueError(f"unknown pool source {name!r}; choose from {sorted(SOURCES)} "
                             f"or a panel {sorted(set(SOURCES.values()))}")
    return list(dict.fromkeys(out))


def _routerdc_models(dc: pd.DataFrame) -> list[str]:
    return [c for c in dc.columns if c not in ("sample_id", "prompt", "source")]


def build_pool(arena=None, gpt4=None, sources=None, both_fail: str = DEFAULT_BOTH_FAIL,
               strip: bool = True) -> pd.DataFrame:
    """Every labelled offline row of the chosen ``sources``.

    Columns: pool_id, origin_id (= pool_id for original rows), prompt (the question: the shared
    few-shot preamble of its source removed, see ``text.strip_preambles``; ``strip=False`` keeps the
    raw text), prompt_raw, question (= prompt), source, panel, score (1-5), strong_needed,
    both_fail (exact-pair row where weak and strong model are both wrong), weight, and the pair's /
    panel's 0/1 answers. ``both_fail``: one of ``BOTH_FAIL_POLICIES`` (``apply_both_fail``).
    ``arena``/``gpt4``: optional frames from ``data.load_arena``/``data.load_gpt4_dataset`` (always on).
    Detected preambles: ``pool.attrs["preambles"]`` {source: preamble}.
    """
    chosen = resolve_sources(sources)
    frames = []
    if any(SOURCES[s] == "routerbench" for s in chosen):
        rb = data.load_routerbench().dropna(subset=[STRONG, WEAK]).reset_index(drop=True)
        score = score_with_pair(rb)
        w, s = rb[WEAK] == 1, rb[STRONG] == 1
        rb_pool = pd.DataFrame({"pool_id": "rb:" + rb.sample_id, "prompt": rb.prompt,
                                "source": rb.source, "panel": "routerbench", "score": score,
                                "weak_correct": w.astype(float), "strong_correct": s.astype(float)})
        frames.append(pd.concat([rb_pool, rb[data.ROUTERBENCH_MODELS]], axis=1))
    if any(SOURCES[s] == "routerdc" for s in chosen):
        dc = data.load_routerdc()
        models = _routerdc_models(dc)
        binar = (dc[models] >= 0.5).astype(float)
        dc_pool = pd.DataFrame({"pool_id": "dc:" + dc.sample_id, "prompt": dc.prompt, "source": dc.source,
                                "panel": "routerdc", "score": score_from_panel(binar),
                                "weak_correct": np.nan, "strong_correct": np.nan})
        frames.append(pd.concat([dc_pool, binar], axis=1))
    if "alpaca_eval" in chosen:
        frames.append(alpaca_scores(data.load_alpaca_eval()))
    if "mmlu_pro" in chosen:
        frames.append(mmlu_pro_scores(data.load_mmlu_pro()))
    pool = pd.concat(frames, ignore_index=True)
    pool = pool[pool.source.isin(chosen)]
    extra = []
    if gpt4 is not None:
        extra.append(pd.DataFrame({"pool_id": [f"gpt4:{i}" for i in range(len(gpt4))],
                                   "prompt": gpt4.prompt.values, "source": gpt4.source.values,
                                   "panel": "gpt4_dataset", "score": gpt4.mixtral_score.values}))
    if arena is not None:
        extra.append(arena_scores(arena))
    pool = pd.concat([pool, *extra], ignore_index=True)
    pool["both_fail"] = (pool["weak_correct"] == 0) & (pool["strong_correct"] == 0)
    pool["prompt_raw"] = pool["prompt"]
    if strip:
        questions, preambles = text.strip_preambles(pool.prompt_raw, pool.source)
        pool["prompt"] = questions
    else:
        preambles = {}
    pool["question"] = pool["prompt"]
    pool["origin_id"] = pool["pool_id"]
    pool["strong_needed"] = (pool["score"] <= 3).astype(int)
    pool["weight"] = 1.0
    pool = apply_both_fail(pool, both_fail)
    pool.attrs.update(preambles=preambles, sources=chosen, both_fail=both_fail)
    return pool


def apply_both_fail(pool: pd.DataFrame, policy: str = DEFAULT_BOTH_FAIL,
                    weight: float = BOTH_FAIL_WEIGHT) -> pd.DataFrame:
    """Relabel the ``both_fail`` rows (weak and strong model both wrong) by ``policy``:

    ==============  ==============================================================================
    strong-needed   keep the score of the semantics table (RouterBench 2/3, MMLU-Pro 3): label 1
    weak-fine       score 4, label 0: the strong model gains nothing on them, so the weak is enough
    dropped         rows removed
    down-weighted   labels as strong-needed, ``weight`` column = ``weight`` (others 1)
    ==============  ==============================================================================
    """
    if policy not in BOTH_FAIL_POLICIES:
        raise ValueError(f"unknown both_fail policy {policy!r}; choose from {BOTH_FAIL_POLICIES}")
    pool = pool.copy()
    bf = pool["both_fail"].to_numpy(bool)
    if "weight" not in pool:
        pool["weight"] = 1.0
    if policy == "weak-fine":
        pool.loc[bf, "score"] = 4
    elif policy == "dropped":
        pool = pool[~bf].reset_index(drop=True)
    elif policy == "down-weighted":
        pool.loc[bf, "weight"] = weight
    pool["strong_needed"] = (pool["score"] <= 3).astype(int)
    return pool


# One "strong needed" meaning for every exact-pair source (weak = Mixtral-8x7B, strong =
# gpt-4-1106-preview; MMLU-Pro: GPT-4o stands in). Score 1-3 = strong needed, 4-5 = weak fine.
PAIR_SEMANTICS = pd.DataFrame([
    ("RouterBench", "weak right, >= half of the other 9 models right", 5, "weak fine", "b (weak wins)"),
    ("RouterBench", "weak right, fewer", 4, "weak fine", "tie"),
    ("RouterBench", "weak wrong, strong right", 1, "strong needed", "a (strong wins)"),
    ("RouterBench", "both wrong, another model right", 2, "both_fail policy", "a (strong-needed)"),
    ("RouterBench", "both wrong, nobody right", 3, "both_fail policy", "a (strong-needed)"),
    ("MMLU-Pro", "weak right, strong right", 5, "weak fine", "b (weak wins)"),
    ("MMLU-Pro", "weak right, strong wrong", 4, "weak fine", "tie"),
    ("MMLU-Pro", "weak wrong, strong right", 1, "strong needed", "a (strong wins)"),
    ("MMLU-Pro", "both wrong", 3, "both_fail policy", "a (strong-needed)"),
    ("AlpacaEval", "preference 1.0: strong answer preferred", 2, "strong needed", "a (strong wins)"),
    ("AlpacaEval", "preference 1.5: tie", 4, "weak fine", "tie"),
    ("AlpacaEval", "preference 2.0: weak answer preferred", 5, "weak fine", "b (weak wins)"),
    ("any", "both_fail = weak-fine", 4, "weak fine", "tie"),
], columns=["source", "row", "score", "label", "pair battle"])


def mmlu_pro_scores(mp: pd.DataFrame) -> pd.DataFrame:
    """MMLU-Pro correctness pair -> pool rows (``PAIR_SEMANTICS``; no panel, so both wrong -> 3).

    >>> mmlu_pro_scores(pd.DataFrame({"sample_id": list("abcd"), "prompt": list("pqrs"),
    ...     "weak_correct": [1, 1, 0, 0], "strong_correct": [1, 0, 1, 0]})).score.tolist()
    [5, 4, 1, 3]
    """
    w, s = mp.weak_correct.to_numpy() == 1, mp.strong_correct.to_numpy() == 1
    score = np.select([w & s, w, s], [5, 4, 1], default=3)
    return pd.DataFrame({"pool_id": "mp:" + mp.sample_id.astype(str), "prompt": mp.prompt.values,
                         "source": "mmlu_pro", "panel": "mmlu_pro", "score": score,
                         "weak_correct": w.astype(float), "strong_correct": s.astype(float)})


def alpaca_scores(ae: pd.DataFrame) -> pd.DataFrame:
    """AlpacaEval preference -> pool rows (``PAIR_SEMANTICS``: 1.0 -> 2, 1.5 -> 4, 2.0 -> 5, as
    ``arena_scores`` maps strong wins / tie / strong loses). No correctness: never both_fail.

    >>> alpaca_scores(pd.DataFrame({"sample_id": list("abc"), "prompt": list("pqr"),
    ...     "preference": [1.0, 1.5, 2.0]})).score.tolist()
    [2, 4, 5]
    """
    pref = ae.preference.to_numpy(float)
    if not np.isin(pref, (1.0, 1.5, 2.0)).all():
        raise ValueError(f"AlpacaEval preference must be 1, 1.5 or 2; got {sorted(set(pref))}")
    score = np.select([pref == 1.0, pref == 1.5], [2, 4], default=5)
    return pd.DataFrame({"pool_id": "ae:" + ae.sample_id.astype(str), "prompt": ae.prompt.values,
                         "source": "alpaca_eval", "panel": "alpaca_eval", "score": score,
                         "weak_correct": np.nan, "strong_correct": np.nan})


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


def pool_twins(prompts, sources, emb=None, threshold: float = 0.95) -> pd.DataFrame:
    """Pairs of pool rows (i < j) that are exact (normalised) or near-duplicate (cosine >=
    ``threshold``) copies of each other, e.g. Winogrande's sentence pairs; ``leakage_report`` run
    with the pool as its own reference set. Columns i, j, kind, similarity, same_source."""
    prompts, sources = list(prompts), np.asarray(list(sources))
    rep = leakage_report(prompts, {"pool": prompts}, emb, None if emb is None else {"pool": emb},
                         threshold=threshold)
    rep = rep.rename(columns={"eval_idx": "i", "train_idx": "j"})
    rep = rep[rep.i < rep.j]
    rep = rep.assign(same_source=sources[rep.i.to_numpy(int)] == sources[rep.j.to_numpy(int)])
    return rep[["i", "j", "kind", "similarity", "same_source"]].reset_index(drop=True)


def leakage_counts(pool: pd.DataFrame, eval_prompts: dict, emb=None, eval_emb: dict | None = None,
                   threshold: float = 0.95) -> pd.DataFrame:
    """Per pool source: rows, matches with evaluation prompts (exact / near-duplicate, via
    ``leakage_report``; must be 0) and duplicate twins inside the pool (``pool_twins``): rows with a
    twin in the same source, and rows with a twin in another source (exact or near). Near-duplicate
    columns are NaN when the embeddings they need are not given. The "all" row sums the sources
    (a cross-source pair counts once on each side)."""
    src = pool.source.to_numpy()
    ev = leakage_report(pool.prompt, eval_prompts, emb, eval_emb, threshold)
    tw = pool_twins(pool.prompt, src, emb, threshold)
    out = []
    for s in sorted(set(src)):
        rows = np.flatnonzero(src == s)
        e = ev[ev.train_idx.isin(rows)]
        t = tw[tw.i.isin(rows) | tw.j.isin(rows)]

        def n_rows(df):  # rows of source s that take part in a pair of df
            return len(set(df.i[df.i.isin(rows)]) | set(df.j[df.j.isin(rows)]))
        out.append({"source": s, "rows": len(rows),
                    "eval exact": int(e.kind.eq("exact").sum()),
                    "eval near-duplicate": int(e.kind.eq("near-duplicate").sum()),
                    "twins in source, exact": n_rows(t[t.same_source & t.kind.eq("exact")]),
                    "twins in source, near": n_rows(t[t.same_source & t.kind.eq("near-duplicate")]),
                    "twins across sources": n_rows(t[~t.same_source])})
    df = pd.DataFrame(out)
    if emb is None:  # near-duplicates not checked: say so instead of printing 0
        df["twins in source, near"] = np.nan
    if emb is None or eval_emb is None:
        df["eval near-duplicate"] = np.nan
    total = df.drop(columns="source").sum(min_count=1).to_dict()
    return pd.concat([df, pd.DataFrame([{"source": "all", **total}])], ignore_index=True)


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
