"""Difficulty levels, sampling weights and the choice of the perplexity signal (thesis: Table 4's sampling).

Thesis step: every training query's perplexity under GPT-2-large; difficulty levels by perplexity
quartile, HIGH perplexity = hard; harder and rarer queries up-weighted; labels rebalanced as in
anyscale's llm-router (In[5]); the sampled set is larger than the original data and smaller than
original + augmented. The perplexities come from ``pipeline.sampling`` (SmolLM2-135M) or
``features.gemma_lm`` (Gemma-3-270M); this module turns them into levels and weights.

- Levels (``difficulty_levels``): rank-based perplexity quartiles WITHIN each source, in the
  thesis's direction only (level 3 = the source's highest-perplexity quarter). No sign is learned
  from the labels. Pooled quartiles would mostly sort sources by their typical perplexity.
- Weights (``weights``): ``LEVEL_WEIGHTS[level] * rarity``, rarity = (share of the row's source)^-1/2;
  with the signal "off" (``levels=None``) rarity alone.
- Rebalancing (``rebalance_sample``): the target size is split equally between the two routing
  labels; within a label rows are drawn proportionally to their weight, without replacement while
  rows last, then with replacement (duplicates are how the sampled set grows beyond the original).
- The signal (``choose_signal``): SmolLM2, Gemma or "off", by a source-grouped criterion on training
  rows only. Nothing is fitted (the direction is the thesis's, the quartiles are taken inside each
  source), so leave-one-source-out reduces to scoring every held-out source on its own: the Spearman
  rho of level vs "strong needed" within the source, pooled over sources (row-weighted), with a 95 %
  bootstrap interval (rows resampled within each source). A signal is eligible only when the
  interval's lower end is above 0 and the majority of held-out sources agree in sign; the eligible
  signal with the highest pooled rho wins, "off" when none is eligible.

Deviation: Gemma-3-270M costs about 1 text/s on this CPU (a full pool pass ~2 h), so Gemma is scored
on a seeded, source-stratified subsample of the pool (``stratified_subsample``) and SmolLM2 on all
rows; SmolLM2 on Gemma's rows is shown beside them as the same-rows comparison.

>>> difficulty_levels([1, 2, 3, 4, 10, 20, 30, 40], groups=list("aaaabbbb")).tolist()
[0, 1, 2, 3, 0, 1, 2, 3]
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from ..core.seeding import seed_step, step_seed
from ..features import gemma_lm
from . import sampling

LEVEL_WEIGHTS = (1.0, 1.25, 1.5, 2.0)  # difficulty level 0 (lowest perplexity) .. 3 (highest = hardest)
SIGNALS = ("smollm2", "gemma")  # the LMs a perplexity signal may come from; "off" is the third choice


def difficulty_levels(ppl, groups=None) -> np.ndarray:
    """Rank-based perplexity quartile 0..3, 3 = highest perplexity = hardest (the thesis's direction).
    Ties share the level of their average rank. ``groups`` (the rows' sources): quartiles within each.

    >>> difficulty_levels([5, 1, 1, 1, 2, 3, 4, 6]).tolist()
    [3, 0, 0, 0, 1, 2, 2, 3]
    """
    from scipy.stats import rankdata  # heavy optional package: imported only when this runs
    ppl = np.asarray(ppl, float)
    if groups is not None:
        groups = np.asarray(groups)
        out = np.zeros(len(ppl), int)
        for g in np.unique(groups):
            out[groups == g] = difficulty_levels(ppl[groups == g])
        return out
    if not len(ppl):
        return np.zeros(0, int)
    r = rankdata(ppl, method="average")
    return np.minimum((4 * (r - 0.5) / len(ppl)).astype(int), 3)


def weights(df: pd.DataFrame, levels=None, level_weights=LEVEL_WEIGHTS) -> np.ndarray:
    """Sampling weight per row: level weight x rarity; ``levels=None`` (signal off): rarity only."""
    share = df.source.map(df.source.value_counts(normalize=True)).to_numpy(float)
    lw = 1.0 if levels is None else np.asarray(level_weights)[np.asarray(levels)]
    return lw * share ** -0.5


def level_table(ppl, strong_needed, source, w=None) -> pd.DataFrame:
    """One row per difficulty level (within-source perplexity quartile, thesis direction): rows,
    median perplexity, strong-needed rate and mean sampling weight (``w``; default ``weights``)."""
    source = np.asarray(source)
    lv = difficulty_levels(ppl, source)
    w = weights(pd.DataFrame({"source": source}), lv) if w is None else np.asarray(w, float)
    df = pd.DataFrame({"level": lv, "ppl": np.asarray(ppl, float), "y": np.asarray(strong_needed, float), "w": w})
    out = df.groupby("level").agg(rows=("y", "size"), median_perplexity=("ppl", "median"),
                                  strong_needed_rate=("y", "mean"), mean_sampling_weight=("w", "mean"))
    out.index = [f"{k} ({'lowest' if k == 0 else 'highest' if k == 3 else 'mid'} perplexity in source)"
                 for k in out.index]
    out.index.name = "difficulty level (3 = hardest)"
    return out


def _spearman_by_source(x, y, codes, n_src):
    """Per-source Spearman rho of x vs y (NaN where undefined) and the sources' row counts."""
    from scipy.stats import rankdata  # heavy optional package: imported only when this runs
    rho, n = np.full(n_src, np.nan), np.bincount(codes, minlength=n_src).astype(float)
    for s in range(n_src):
        m = codes == s
        if m.sum() > 2 and np.ptp(x[m]) > 0 and np.ptp(y[m]) > 0:
            rho[s] = np.corrcoef(rankdata(x[m]), rankdata(y[m]))[0, 1]
    return rho, n


def _pooled(rho, n) -> float:
    ok = np.isfinite(rho)
    return float(np.average(rho[ok], weights=n[ok])) if ok.any() else np.nan


def within_source_rho(x, strong_needed, source, n_boot: int = 1000, seed: int = 0) -> dict:
    """Row-weighted mean over sources of the within-source Spearman rho of ``x`` (perplexity or
    level) vs strong-needed, with a 95 % percentile bootstrap interval (rows resampled within each
    source), the number of sources and how many have a positive rho."""
    x, y = np.asarray(x, float), np.asarray(strong_needed, float)
    codes, names = pd.factorize(np.asarray(source))
    rho, n = _spearman_by_source(x, y, codes, len(names))
    rng = seed_step(seed, "difficulty-rho-bootstrap")
    members = [np.flatnonzero(codes == s) for s in range(len(names))]
    boots = []
    for _ in range(n_boot):
        idx = np.concatenate([rng.choice(m, len(m)) for m in members])
        boots.append(_pooled(*_spearman_by_source(x[idx], y[idx], codes[idx], len(names))))
    lo, hi = np.nanpercentile(boots, [2.5, 97.5]) if n_boot else (np.nan, np.nan)
    return {"rho": _pooled(rho, n), "lo": float(lo), "hi": float(hi), "sources": int(np.isfinite(rho).sum()),
            "sources_positive": int((rho > 0).sum()), "rows": len(x),
            "per_source": pd.Series(rho, index=names, name="rho")}


def stratified_subsample(source, n: int, seed: int = 0) -> np.ndarray:
    """Sorted row positions of a seeded subsample of about ``n`` rows, each source in its share
    (at least 10 rows, or all of a smaller source)."""
    source = pd.Series(np.asarray(source))
    rng = np.random.default_rng(step_seed(seed, "difficulty-subsample"))
    frac = min(1.0, n / max(len(source), 1))
    picks = []
    for _, idx in sorted(source.groupby(source).indices.items()):
        k = min(len(idx), max(10, int(round(frac * len(idx)))))
        picks.append(rng.choice(idx, k, replace=False))
    return np.sort(np.concatenate(picks)) if picks else np.zeros(0, int)


def choose_signal(ppls: dict, strong_needed=None, source=None, n_boot: int = 1000, seed: int = 0,
                  reference=()) -> pd.DataFrame:
    """The perplexity signal for sampling: one row per LM plus "off"; columns: within-source rho of
    level vs strong-needed with its interval, sources with a positive rho, eligible, chosen (module
    docstring's rule). ``ppls``: name -> perplexities of the rows (``strong_needed``, ``source``), or
    name -> (perplexities, strong_needed, source) for an LM scored on its own rows (a costly LM on a
    subsample). Names in ``reference`` are shown for comparison and never chosen."""
    rows = []
    for name, v in ppls.items():
        p, y, src = v if isinstance(v, tuple) else (v, strong_needed, source)
        r = within_source_rho(difficulty_levels(p, np.asarray(src)), y, src, n_boot, seed)
        eligible = bool(r["lo"] > 0 and r["sources_positive"] > r["sources"] / 2 and name not in reference)
        rows.append({"signal": name, "rows": r["rows"], "rho_level": r["rho"], "lo": r["lo"], "hi": r["hi"],
                     "sources_positive": f"{r['sources_positive']}/{r['sources']}", "eligible": eligible})
    rows.append({"signal": "off", "rows": max(r["rows"] for r in rows), "rho_level": 0.0, "lo": 0.0, "hi": 0.0,
                 "sources_positive": "", "eligible": True})
    out = pd.DataFrame(rows).set_index("signal")
    live = out[out.eligible & (out.index != "off")]
    out["chosen"] = out.index == (live.rho_level.idxmax() if len(live) else "off")
    out.attrs["choice"] = str(out.index[out.chosen][0])
    return out


REFERENCE = "smollm2 on Gemma's rows"  # signal_table's same-rows comparison row (never chosen)


def signal_table(rows: pd.DataFrame, n: int = 600, seed: int = 0, n_boot: int = 1000, max_len: int = 48):
    """``choose_signal`` between SmolLM2 (all ``rows``: its perplexities are cheap and committed),
    Gemma (a seeded source-stratified subsample of about ``n`` rows: ~1 text/s) and "off"; plus
    SmolLM2 on Gemma's rows as a same-rows reference. ``rows``: training rows (prompt, source,
    strong_needed). ``attrs``: choice, a one-line note (rows, Gemma seconds when computed here).
    ``n=0`` (the smoke profile: Gemma's one-time conversion costs minutes) leaves Gemma out, and says so."""
    smol = sampling.perplexities(rows.prompt.tolist(), max_len=max_len, progress=False)
    ppls = {"smollm2": (smol, rows.strong_needed, rows.source)}
    if n > 0:
        sub = rows.iloc[stratified_subsample(rows.source, n, seed)]
        t0 = time.time()
        ppls["gemma"] = gemma_lm.perplexities(sub.prompt.tolist(), max_len=max_len, progress=False), sub.strong_needed, sub.source
        secs = time.time() - t0
        smol_sub = pd.Series(smol, index=rows.index).loc[sub.index].to_numpy()
        ppls[REFERENCE] = smol_sub, sub.strong_needed, sub.source
        gemma = (f"Gemma on {len(sub)} (seeded, stratified by source, {sub.source.nunique()} sources), Gemma step "
                 f"{secs:.0f} s here (model load + texts not yet cached)")
    else:
        gemma = "Gemma not measured in this profile (gemma_rows=0)"
    out = choose_signal(ppls, n_boot=n_boot, seed=seed, reference=(REFERENCE,))
    out.attrs["note"] = f"SmolLM2 on all {len(rows)} training rows; {gemma}"
    return out


def signal_sentence(table: pd.DataFrame, default: str) -> str:
    """Plain statement of ``signal_table``'s result and whether the library default follows it."""
    c = table.attrs["choice"]
    parts = [f"**{name}** ({r.rows} rows): within-source rho(level, strong needed) = {r.rho_level:+.3f} "
             f"[{r.lo:+.3f}, {r.hi:+.3f}], positive in {r.sources_positive} sources"
             for name, r in table.drop(index="off").iterrows()]
    head = ("The perplexity signal is absent: no LM's interval lies above 0 with most sources agreeing, so "
            "sampling weights come from source rarity and label balance only." if c == "off"
            else f"The criterion chooses **{c}** (interval above 0, most sources agree).")
    agree = "follows" if default == c else "does NOT follow"
    return f"{head} " + "; ".join(parts) + f". The library default (`{default}`) {agree} this choice."


def rebalance_sample(df: pd.DataFrame, w, size: int, label: str = "strong_needed", seed: int = 0):
    """``size`` rows, half per label value, drawn proportionally to ``w`` (module docstring).

    >>> df = pd.DataFrame({"strong_needed": [0] * 8 + [1] * 2, "source": ["a"] * 10})
    >>> out = rebalance_sample(df, np.ones(10), 12, seed=0)
    >>> len(out), int(out.strong_needed.sum())
    (12, 6)
    """
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
                   seed: int = 0) -> pd.DataFrame:
    """Sample from original + augmented rows: size = len(original) + size_frac * len(augmented),
    strictly between the two bounds. ``ppl`` aligned with the concatenated rows (within-source
    levels, thesis direction), or None: the signal is off and weights are rarity only."""
    both = pd.concat([original, augmented], ignore_index=True)
    size = len(original) + int(round(size_frac * len(augmented)))
    if augmented is not None and len(augmented) and not len(original) < size < len(both):
        raise ValueError(f"sample size {size} not within ({len(original)}, {len(both)})")
    levels = None if ppl is None else difficulty_levels(ppl, both.source.to_numpy())
    return rebalance_sample(both, weights(both, levels), size, seed=seed)
