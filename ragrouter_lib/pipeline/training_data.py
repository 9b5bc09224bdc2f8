"""RAGRouter's training data: split -> augmentation -> perplexity-based sampling (switchable).

Thesis step: the data half of RAGRouter and of the ablations of Tables 3 (augmentation) and 4
(sampling). ``prepare`` rebuilds the training set with any step switched off, everything else
equal: the pool split, the seeds and the validation rows never change, and validation rows are
never augmented or sampled (so validation numbers stay comparable across the ablations).

Augmented rows are cached in ``<cache>/augment-<key>.pkl`` (``cache.key``: the training rows, the
parameters and the code closure of ``pipeline/augmentation.py``; atomic, checksummed), each row's outcome
also in a per-row memo. Perplexities are cached per text (``encoders.cached``).

Deviation (CPU budget): augmentation is ONE draw (``AUGMENT_DRAW``) shared by every router seed, and
each row's variant depends on that row only (``augmentation.augment_pool``), so a selection fold
gets the variants of its rows that the whole pool gets. Seeds vary the sampling, the
initialisation and the batches, not which variants exist; the seed spread therefore leaves out
augmentation's own randomness.
"""
from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from ..core import cache
from ..features import gemma_lm
from ..labels import pool_labels
from . import aug_gate, augmentation, difficulty, sampling

# The data settings: their one home. RAGRouter's ``defaults`` read them from here; a run overrides
# them through ``rr.setup(..., augment=False)`` (config params), read back by ``settings(cfg)``, so
# notebook 04 shows the data that notebook 05's RAGRouter fits on.
DEFAULTS = dict(augment=True, sample=True, factor=0.3, size_frac=0.5)
# Perplexity window (tokens): fixed, not a setting; the SmolLM2 pass is shared with the causal_llm
# baseline's features when their lengths agree (``experiments.precompute_features``).
PPL_MAX_LEN = 48
# The perplexity signal the sampling levels come from: "smollm2", "gemma" or "off" (rarity and label
# balance only). Set to what ``difficulty.choose_signal`` picks on the pool's rows (source-grouped,
# training rows only; notebook 04 prints its table and whether this default agrees with it).
DIFFICULTY_SIGNAL = "smollm2"


def settings(cfg) -> dict:
    """The data settings of a run: ``DEFAULTS`` with the run's overrides (``cfg.params``) laid over."""
    params = getattr(cfg, "params", cfg)
    return {k: params.get(k, v) for k, v in DEFAULTS.items()}


AUGMENT_DRAW = 0  # one augmentation draw for every router seed (module docstring)


def _augment_cached(train, factor, cache_dir, log):
    """Augmented rows from ``<cache_dir>/augment-<cache.key>.pkl`` (checksummed, atomic); the key
    covers the training rows (every column), the parameters and augmentation's code closure. Rows
    computed once are kept in a per-row memo (``augment-rows-<key>.pkl``), so the selection folds and
    the final fits, which augment subsets of the same pool, compute each row once."""
    mods = [augmentation.__name__]
    key = cache.key("augment", {"factor": factor, "draw": AUGMENT_DRAW, "gate": aug_gate.GATE},
                    {"train": cache.digest_frame(train, sorted(map(str, train.columns)))}, modules=mods)
    path = Path(cache_dir) / f"augment-{key}.pkl"
    got = cache.load_pickle(path)
    if got is not None:
        aug, rej, secs = got
        log(f"augmentation: {len(aug)} rows from cache {path.name} (computed in {secs:.0f}s)")
        return aug, rej, secs, True
    memo_path = Path(cache_dir) / f"augment-rows-{cache.key('augment_rows', {'draw': AUGMENT_DRAW, 'gate': aug_gate.GATE}, modules=mods)}.pkl"
    memo = cache.load_pickle(memo_path) or {}
    n_memo = len(memo)
    t0 = time.time()
    aug, rej = augmentation.augment_pool(train, factor=factor, seed=AUGMENT_DRAW, memo=memo,
                                         progress=log is print)
    secs = time.time() - t0
    if len(memo) > n_memo:
        cache.save_pickle(memo_path, memo)
    cache.save_pickle(path, (aug, rej, secs))
    return aug, rej, secs, False


def prepare(pool: pd.DataFrame, data_seed: int, cache_dir, augment: bool = DEFAULTS["augment"],
            sample: bool = DEFAULTS["sample"], factor: float = DEFAULTS["factor"],
            size_frac: float = DEFAULTS["size_frac"], ppl_max_len: int = PPL_MAX_LEN, log=print,
            difficulty_signal: str = DIFFICULTY_SIGNAL):
    """The training set for one data seed: the pool split by ``pool_labels.split``, then ``prepare_split``."""
    part = pool_labels.split(pool, seed=data_seed)
    return prepare_split(pool[part == "train"], pool[part == "valid"], data_seed, cache_dir, augment=augment,
                         sample=sample, factor=factor, size_frac=size_frac, ppl_max_len=ppl_max_len, log=log,
                         difficulty_signal=difficulty_signal)


def prepare_split(original: pd.DataFrame, valid, data_seed: int, cache_dir, augment: bool = DEFAULTS["augment"],
                  sample: bool = DEFAULTS["sample"], factor: float = DEFAULTS["factor"],
                  size_frac: float = DEFAULTS["size_frac"], ppl_max_len: int = PPL_MAX_LEN, log=print,
                  difficulty_signal: str = DIFFICULTY_SIGNAL):
    """Augment and sample the training part of a split (``data_seed``: the sampling draw; RAGRouter
    passes its router seed). ``difficulty_signal``: the LM whose perplexity sets the sampling levels,
    or "off" (weights from source rarity only). Returns a namespace with train (final), valid,
    original, augmented, rejected, ppl (of original + augmented rows; None when off), levels, cost."""
    cost = []
    aug = pd.DataFrame(columns=["pool_id", "prompt", "source", "panel", "score", "strong_needed",
                                "source_id", "origin_id", "method", "op"])
    rej = pd.DataFrame()
    if augment:
        aug, rej, secs, hit = _augment_cached(original, factor, cache_dir, log)
        n_src = int(augmentation.source_quality(original).sum())
        cost.append({"step": "augmentation", "rows_in": len(original), "rows_out": len(aug),
                     "seconds": round(secs, 1), "rows_per_s": round(len(aug) / max(secs, 1e-9), 1),
                     "cached": hit, "note": f"{n_src} quality sources"})
    both = pd.concat([original, aug], ignore_index=True)
    both = both.astype({"score": int, "strong_needed": int})  # an empty frame would make them object
    ppl = levels = None
    final = both
    if sample:
        if difficulty_signal != "off":
            t0 = time.time()
            ppl = _perplexities(difficulty_signal, both.prompt, ppl_max_len, log is print)
            secs = time.time() - t0
            cost.append({"step": "perplexity", "rows_in": len(both), "rows_out": len(both),
                         "seconds": round(secs, 1), "rows_per_s": round(len(both) / max(secs, 1e-9), 1),
                         "cached": None, "note": f"{difficulty_signal}, {ppl_max_len} tokens"})
            levels = difficulty.difficulty_levels(ppl, both.source.to_numpy())  # what dynamic_sample weights by
        t0 = time.time()
        final = difficulty.dynamic_sample(original, aug.astype({"score": int, "strong_needed": int}), ppl,
                                          size_frac=size_frac, seed=data_seed)
        cost.append({"step": "sampling", "rows_in": len(both), "rows_out": len(final),
                     "seconds": round(time.time() - t0, 2), "rows_per_s": None, "cached": None,
                     "note": f"balanced labels; difficulty signal {difficulty_signal}"})
    return SimpleNamespace(train=final.reset_index(drop=True), valid=valid, original=original,
                           augmented=aug, rejected=rej, both=both, ppl=ppl, levels=levels,
                           cost=pd.DataFrame(cost), switches={"augment": augment, "sample": sample},
                           difficulty_signal=difficulty_signal if sample else None)


def _perplexities(signal, texts, max_len, progress):
    """Per-text perplexity under the signal's LM (both cached per text)."""
    if signal == "gemma":
        return gemma_lm.perplexities(texts, max_len=max_len, progress=progress)
    if signal == "smollm2":
        return sampling.perplexities(texts, max_len=max_len, progress=progress)
    raise ValueError(f"unknown difficulty signal {signal!r} (smollm2, gemma or off)")


def level_table(td) -> pd.DataFrame:
    """The one level table: per within-source perplexity quartile (3 = highest = hardest, the
    thesis's direction) its rows, strong-needed rate and the sampling weight ``dynamic_sample`` uses."""
    if td.ppl is None:
        return pd.DataFrame()
    return difficulty.level_table(td.ppl, td.both.strong_needed, td.both.source,
                                  difficulty.weights(td.both, td.levels))


def level_relation(td, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Within-source Spearman rho of the sampling level and of the raw perplexity with "strong needed",
    pooled over sources with a 95 % bootstrap interval (``difficulty.within_source_rho``), on the
    split's ORIGINAL training rows (augmented rows copy their source's label: counted twice otherwise)."""
    if td.ppl is None:
        return pd.DataFrame()
    n = len(td.original)
    rows = []
    for what, x in (("level (within-source quartile)", td.levels[:n]), ("perplexity", td.ppl[:n])):
        r = difficulty.within_source_rho(x, td.original.strong_needed, td.original.source, n_boot, seed)
        rows.append({"relation to strong needed": what, "rows": n, "rho": r["rho"], "lo_95": r["lo"], "hi_95": r["hi"],
                     "sources_positive": f"{r['sources_positive']}/{r['sources']}"})
    return pd.DataFrame(rows).set_index("relation to strong needed")


def stage_sizes(td) -> pd.DataFrame:
    """Rows and share needing the strong model at each stage."""
    stages = {"original (train split)": td.original, "augmented rows": td.augmented,
              "original + augmented": td.both, "final training set": td.train, "validation": td.valid}
    return pd.DataFrame([{"stage": k, "rows": len(v),
                          "strong_needed": round(float(v.strong_needed.mean()), 3) if len(v) else None}
                         for k, v in stages.items()])


def examples(td, n: int = 2) -> pd.DataFrame:
    """n accepted examples per augmentation op, source beside variant."""
    if not len(td.augmented):
        return pd.DataFrame()
    src = td.original.set_index("pool_id").prompt
    ex = td.augmented.groupby("op").head(n)
    return pd.DataFrame({"op": ex.op.values, "source": ex.source_id.map(src).str[:160].values,
                         "variant": ex.prompt.str[:180].values})


def switch_grid(pool, data_seed, cache_dir, **kw) -> pd.DataFrame:
    """Training-set size and label balance for every on/off combination of the two steps."""
    rows = []
    for augment in (False, True):
        for sample in (False, True):
            td = prepare(pool, data_seed, cache_dir, augment=augment, sample=sample, log=lambda *_: None, **kw)
            rows.append({"augment": augment, "sample": sample, "rows": len(td.train),
                         "augmented_rows_in_train": int((td.train.panel == "augmented").sum()),
                         "strong_needed": round(float(td.train.strong_needed.mean()), 3)})
    return pd.DataFrame(rows)
