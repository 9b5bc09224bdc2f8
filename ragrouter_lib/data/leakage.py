"""The leakage guard: no MMLU/GSM8K evaluation prompt may sit among training-side prompts.

Thesis step: the evaluation sets are held out (the thesis trains on Arena/GPT-4 data and tests on
MMLU and GSM8K). This project adds an automatic check that fails loudly (``assert_no_leakage``):
a training prompt matches an evaluation prompt when equal after ``normalize`` (case, accents,
punctuation, whitespace) or when the cosine similarity of their normalised embeddings is >= 0.95.
The same test finds duplicate twins inside the pool (``pool_twins``). Deviation: none from the
thesis, which names no check.

Hub training sources (``paper`` profile: Chatbot Arena 55k, ``gpt4_dataset``) hold prompts copied
from MMLU/GSM8K, as RouteLLM found (its ``contaminated_prompts.jsonl`` lists). Their matching rows
are removed and counted by the same rule before the guard runs (``drop_eval_matches``); the guard
still fails loudly on anything left. The offline pool is never filtered: the guard stops it.

>>> normalize("  Héllo,   World! ")
'hello world'
>>> len(leakage_report(["What is 2+2?"], {"gsm8k": ["what is 2 + 2"]}))
1
"""
from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd


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


def drop_eval_matches(pool: pd.DataFrame, eval_prompts: dict, emb=None, eval_emb: dict | None = None,
                      panels=("arena", "gpt4_dataset"), threshold: float = 0.95) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Remove the rows of ``panels`` (the Hub sources) whose prompt matches an evaluation prompt by
    ``leakage_report``'s rule (exact after ``normalize``; near-duplicate when ``emb``/``eval_emb``,
    the pool's and each benchmark's embeddings, are given). Rows of other panels are kept, whatever
    they match (the guard decides about them). Returns (kept rows, counts): one row per panel of
    ``panels`` with its rows before, rows removed, of which exact and near-duplicate only, and
    the matches per benchmark."""
    on = pool["panel"].isin(panels).to_numpy()
    rep = leakage_report(pool.prompt, eval_prompts, emb, eval_emb, threshold)
    rep = rep[on[rep.train_idx.to_numpy(int)]] if len(rep) else rep
    exact = set(rep.train_idx[rep.kind.eq("exact")])
    rows = []
    for panel in panels:
        idx = np.flatnonzero(pool["panel"].to_numpy() == panel)
        hit = set(rep.train_idx) & set(idx)
        row = {"panel": panel, "rows": len(idx), "removed": len(hit), "exact": len(hit & exact),
               "near-duplicate only": len(hit - exact)}
        for bench in eval_prompts:
            row[f"{bench} matches"] = len(hit & set(rep.train_idx[rep.benchmark.eq(bench)]))
        rows.append(row)
    drop = np.zeros(len(pool), bool)
    drop[list(set(rep.train_idx))] = True
    return pool[~drop], pd.DataFrame(rows)


def assert_no_leakage(report: pd.DataFrame) -> None:
    if len(report):
        raise LeakageError(f"{len(report)} training prompt(s) match evaluation prompts:\n"
                           f"{report.head(10).to_string()}")
    print("leakage check passed: no training prompt matches an MMLU/GSM8K evaluation prompt")


def _unit(x):
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
