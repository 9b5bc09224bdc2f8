"""The offline training pool and its labels: weak-quality scores 1-5 per source.

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

Battles and model tiers built from these labels: ``labels.pairwise``; the leakage guard:
``data.leakage``.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from ..core import text
from ..data import loading
from ..data.leakage import normalize

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
    ``arena``/``gpt4``: optional frames from ``loading.load_arena``/``loading.load_gpt4_dataset`` (always on).
    Detected preambles: ``pool.attrs["preambles"]`` {source: preamble}.
    """
    chosen = resolve_sources(sources)
    frames = []
    if any(SOURCES[s] == "routerbench" for s in chosen):
        rb = loading.load_routerbench().dropna(subset=[STRONG, WEAK]).reset_index(drop=True)
        score = score_with_pair(rb)
        w, s = rb[WEAK] == 1, rb[STRONG] == 1
        rb_pool = pd.DataFrame({"pool_id": "rb:" + rb.sample_id, "prompt": rb.prompt,
                                "source": rb.source, "panel": "routerbench", "score": score,
                                "weak_correct": w.astype(float), "strong_correct": s.astype(float)})
        frames.append(pd.concat([rb_pool, rb[loading.ROUTERBENCH_MODELS]], axis=1))
    if any(SOURCES[s] == "routerdc" for s in chosen):
        dc = loading.load_routerdc()
        models = _routerdc_models(dc)
        binar = (dc[models] >= 0.5).astype(float)
        dc_pool = pd.DataFrame({"pool_id": "dc:" + dc.sample_id, "prompt": dc.prompt, "source": dc.source,
                                "panel": "routerdc", "score": score_from_panel(binar),
                                "weak_correct": np.nan, "strong_correct": np.nan})
        frames.append(pd.concat([dc_pool, binar], axis=1))
    if "alpaca_eval" in chosen:
        frames.append(alpaca_scores(loading.load_alpaca_eval()))
    if "mmlu_pro" in chosen:
        frames.append(mmlu_pro_scores(loading.load_mmlu_pro()))
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
    models = models or loading.ROUTERBENCH_MODELS
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
        return list(loading.ROUTERBENCH_MODELS)
    if panel == "routerdc":
        return [c for c in pool.columns if "/" in c and c not in loading.ROUTERBENCH_MODELS]
    raise ValueError(panel)


def split(pool: pd.DataFrame, valid_frac: float = 0.15, seed: int = 0) -> pd.Series:
    """'train'/'valid' per row, by a seeded hash of the normalised prompt (duplicates stay together)."""
    keys = pool.prompt.map(normalize)
    u = keys.map(lambda t: int(hashlib.sha256(f"{seed}:{t}".encode()).hexdigest()[:8], 16) / 2**32)
    return pd.Series(np.where(u < valid_frac, "valid", "train"), index=pool.index)


def arena_mapping_table() -> pd.DataFrame:
    """The preference -> weak-quality mapping of ``arena_scores``, as a table for the notebook."""
    rows = [("strong model wins", 2, "the weak side lost to the strong model: route to strong"),
            ("tie", 4, "judged as good as the strong model's answer: weak is fine"),
            ("strong model loses", 5, "the other side beat the strong model: weak is fine"),
            ("strong model not in the battle", None, "row not used for the routed pair")]
    return pd.DataFrame(rows, columns=["Arena outcome", "weak-quality score", "reading"])
