"""One model-selection protocol for every trainable router: source-grouped K-fold (our extension).

Thesis step: model selection for Tables 1-6 (the thesis and RouteLLM tune on a random validation
split of the training pool). Deviation (issue 14): the evaluation sets are one source each, so a
random split drawn from the same mixture of sources rewards learning which *source* a prompt looks
like. Here every router, RAGRouter included, gets the same budget and the same criterion:

1. **Folds**: the training sources are cut into K groups of whole sources (K=3 by default,
   deterministic from seed 0, balanced by rows; ``n_folds=None`` is leave-one-source-out). A row and its
   augmented variants share a source, so they never straddle a fold.
2. **Criterion**: for each fold fit, the strong-win scores of the held-out sources are compared
   with ``strong_needed`` *within each source* (ROC-AUC); the criterion is the mean over all
   (fold, source) pairs weighted by the source's rows; a source with one class in the fold is
   skipped.
3. **What is chosen** on seed 0's folds: the configuration (at most ``MAX_CONFIGS``, the same count
   for every router), then the alignment variant (``alignment.SUPPORTED``) with that configuration,
   and the epoch count: the best epoch of each fold fit's ``history`` (``val_within_auc`` when the
   training loop records it, else ``val_auc``), the final count the median over folds.
4. **Final models**: for each seed, the chosen settings are retrained on ALL training rows,
   ``fit(train, valid=None)`` with the chosen epochs, seed-specific randomness.

Memory: a fitted router's large model (the LLM final model's scorer) is freed (``release``) once a
fold fit is scored and once a final fit is done (the caller's ``fit`` has saved it; it is rebuilt
when scored), so a loop holds one such model at a time; fold fits are dropped after scoring.

The random 15 % split (``pool_labels.split``) may still be shown as a diagnostic; it chooses nothing.
Evaluation rows never enter here.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from ..core.seeding import step_seed
from ..labels import alignment

MAX_CONFIGS = 3
# Epoch hyper-parameters, per router: history ``stage`` tag (None: every record) -> hp key.
EPOCH_KEYS = {"ragrouter": {"extractor": "extractor_epochs", "final": "final_epochs"}}
EPOCH_KEYS["ragrouter_llm"] = EPOCH_KEYS["ragrouter"]
DEFAULT_EPOCH_KEYS = {None: "epochs"}


def source_folds(frame: pd.DataFrame, n_folds: int | None = 3, seed: int = 0) -> pd.Series:
    """Fold id (0..K-1) per row: whole sources, K = ``n_folds`` groups balanced by rows (largest source
    first into the currently smallest fold; ties broken by a seeded shuffle). ``n_folds=None``: one
    fold per source (leave-one-source-out)."""
    src = alignment.sources(frame)
    sizes = src.value_counts()
    names = list(sizes.index)
    if len(names) < 2:
        raise ValueError(f"source_folds: need at least 2 sources to hold one out (got {names})")
    if n_folds is None or n_folds >= len(names):
        order = sorted(names)
        return src.map({s: i for i, s in enumerate(order)}).rename("fold")
    if n_folds < 2:
        raise ValueError(f"source_folds: need n_folds >= 2 (got {n_folds})")
    rng = np.random.default_rng(step_seed(seed, "selection-folds"))
    shuffled = [names[i] for i in rng.permutation(len(names))]
    ordered = sorted(shuffled, key=lambda s: -sizes[s])  # stable: shuffle breaks size ties
    load, assign = np.zeros(n_folds), {}
    for s in ordered:
        f = int(np.argmin(load))
        assign[s] = f
        load[f] += sizes[s]
    return src.map(assign).rename("fold")


def within_source_auc(scores, frame: pd.DataFrame) -> tuple[float, pd.DataFrame]:
    """(row-weighted mean within-source ROC-AUC, per-source table with columns source, n, auc).
    Sources with a single class get auc NaN and no weight; NaN overall if none is usable."""
    from sklearn.metrics import roc_auc_score  # heavy optional package: imported only when this runs
    s = np.asarray(scores, float)
    y = frame["strong_needed"].to_numpy(bool)
    src = alignment.sources(frame).to_numpy()
    rows = []
    for name in sorted(np.unique(src)):
        m = src == name
        auc = float(roc_auc_score(y[m], s[m])) if 0 < y[m].sum() < m.sum() else float("nan")
        rows.append({"source": name, "n": int(m.sum()), "strong_rate": float(y[m].mean()), "auc": auc})
    tab = pd.DataFrame(rows, columns=["source", "n", "strong_rate", "auc"])
    ok = tab.auc.notna()
    mean = float(np.average(tab.auc[ok], weights=tab.n[ok])) if ok.any() else float("nan")
    return mean, tab


def criterion(per_source: pd.DataFrame) -> pd.Series:
    """Row-weighted mean within-source AUC per configuration (over every fold and source)."""
    ok = per_source[per_source.auc.notna()]
    g = ok.assign(wauc=ok.auc * ok.n).groupby("config", sort=False)[["wauc", "n"]].sum()
    return (g.wauc / g.n).astype(float)


def best_epochs(history: list[dict], router: str) -> dict:
    """{hp key: best epoch} read from a fold fit's history (per stage for RAGRouter)."""
    keys = EPOCH_KEYS.get(router, DEFAULT_EPOCH_KEYS)
    out = {}
    for stage, hp_key in keys.items():
        recs = [h for h in history if "epoch" in h and (stage is None or h.get("stage") == stage)]
        crit = "val_within_auc" if any("val_within_auc" in h for h in recs) else "val_auc"
        recs = [h for h in recs if crit in h and np.isfinite(h[crit])]
        if recs:
            out[hp_key] = int(max(recs, key=lambda h: (h[crit], -h["epoch"]))["epoch"])
    return out


@dataclass
class Selection:
    """What the protocol returns: the per-fold/config/source AUC table, the criterion per
    configuration, the chosen settings (hp incl. alignment and epochs) and the final routers."""
    router: str
    per_source: pd.DataFrame
    scores: pd.DataFrame
    chosen: dict
    epochs: dict
    finals: dict = field(default_factory=dict)
    fits: pd.DataFrame | None = None

    def table(self) -> pd.DataFrame:
        """Per-source AUC of every configuration (mean over folds; each source is held out once)."""
        return self.per_source.pivot_table(index="source", columns="config", values="auc", aggfunc="mean")


def per_source_table(selections: dict) -> pd.DataFrame:
    """Notebooks 03/05: within-source AUC of every router's chosen setting on each held-out source
    (each source is held out once), with the source's rows and strong-needed rate, and the
    row-weighted mean (the criterion) in the last row."""
    cols, meta = {}, None
    for key, sel in selections.items():
        tag = json.dumps(sel.chosen, sort_keys=True)
        sub = sel.per_source[sel.per_source.config == tag]
        g = sub.groupby("source").agg(n=("n", "sum"), strong_rate=("strong_rate", "mean"), auc=("auc", "mean"))
        cols[key] = g.auc
        meta = g[["n", "strong_rate"]] if meta is None else meta.combine_first(g[["n", "strong_rate"]])
    if meta is None:
        return pd.DataFrame()
    out = meta.join(pd.DataFrame(cols))
    ok = {k: out[k].notna() for k in cols}
    crit = {k: float(np.average(out[k][ok[k]], weights=out.n[ok[k]])) if ok[k].any() else np.nan for k in cols}
    return pd.concat([out, pd.DataFrame([{"n": out.n.sum(), **crit}], index=["criterion (row-weighted)"])])


def release(router) -> None:
    """Free what a fitted router holds beyond its saved files (``router.release()``: the LLM final
    model's scorer, rebuilt when it scores again); a router without ``release`` is left as it is."""
    fn = getattr(router, "release", None)
    if callable(fn):
        fn()


def cross_validate(name: str, pool: pd.DataFrame, configs: list[dict], fit: Callable, folds: pd.Series,
                   seed: int = 0, log=print) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fit every configuration on every fold's training sources and score the held-out sources.

    ``fit(name, hp, seed, train, valid) -> router`` (cached by the caller). Returns the per
    (config, fold, source) AUC rows and one row per fold fit (best epochs, seconds, cached)."""
    per_source, fits = [], []
    for hp in configs:
        tag = json.dumps(hp, sort_keys=True)
        for f in sorted(folds.unique()):
            tr, va = pool[folds != f], pool[folds == f]
            r = fit(name, hp, seed, tr, va)
            mean, tab = within_source_auc(r.score(list(va.prompt)), va)
            per_source.append(tab.assign(router=name, config=tag, fold=int(f)))
            fits.append({"router": name, "config": tag, "fold": int(f), "n_train": len(tr),
                         "n_heldout": len(va), "within_auc": mean,
                         "fit_seconds": getattr(r, "fit_seconds", None) or 0.0,
                         "cached": bool(getattr(r, "cached", False)),
                         **{f"best_{k}": v for k, v in best_epochs(getattr(r, "history", []), name).items()},
                         "history": json.dumps(getattr(r, "history", []))})  # the fold fit's curves
            release(r)  # scored: nothing later needs this fold fit
            del r
            log(f"  {name} {tag} fold {f}: within-source AUC {mean:.3f}")
    return pd.concat(per_source, ignore_index=True), pd.DataFrame(fits)


def select(name: str, pool: pd.DataFrame, grid: list[dict], fit: Callable, seeds=(0,), *, n_folds: int | None = 3,
           variants=("none",), retrain: bool = True, log=print) -> Selection:
    """The protocol (module docstring). ``grid``: at most ``MAX_CONFIGS`` configurations, searched
    with ``variants[0]``; the remaining ``variants`` are then tried with the chosen configuration.
    ``fit(name, hp, seed, train, valid)`` trains one router (``valid=None``: final fit on all rows
    with the hp's epochs). Returns a ``Selection`` with ``finals = {seed: router}``, each ``release``d."""
    if len(grid) > MAX_CONFIGS:
        raise ValueError(f"{name}: {len(grid)} configurations > MAX_CONFIGS={MAX_CONFIGS} (equal budget)")
    variants = [alignment.check(v) for v in variants]
    seed0 = int(seeds[0])
    folds = source_folds(pool, n_folds, seed0)
    # The searched variant is written into the configuration whenever alignment is searched at all:
    # a router whose default is another variant (RAGRouter's is source FE) must really try "none".
    # A router searched with "none" alone keeps its plain hp (its own default, the RouteLLM recipe).
    explicit = len(variants) > 1 or variants[0] != "none"
    base = [{**hp, "alignment": variants[0]} if explicit else dict(hp) for hp in grid]
    per_source, fits = cross_validate(name, pool, base, fit, folds, seed0, log)
    crit = criterion(per_source)
    best = json.loads(crit.idxmax()) if len(crit) else dict(base[0])
    if len(variants) > 1:
        more = [{**best, "alignment": v} for v in variants[1:]]
        ps2, f2 = cross_validate(name, pool, more, fit, folds, seed0, log)
        per_source, fits = pd.concat([per_source, ps2], ignore_index=True), pd.concat([fits, f2], ignore_index=True)
        crit = criterion(per_source)
        cands = [json.dumps(c, sort_keys=True) for c in [best, *more]]
        best = json.loads(max((c for c in cands if c in crit.index), key=lambda c: crit[c],
                              default=json.dumps(best, sort_keys=True)))
    tag = json.dumps(best, sort_keys=True)
    mine = fits[fits.config == tag]
    epochs = {c[len("best_"):]: max(1, int(np.ceil(np.median(mine[c].dropna()))))
              for c in mine.columns if c.startswith("best_") and mine[c].notna().any()}
    scores = crit.rename("criterion").reset_index().rename(columns={"index": "config"})
    log(f"{name}: chosen {tag} (criterion {crit.get(tag, float('nan')):.3f}), epochs {epochs}")
    sel = Selection(name, per_source, scores, best, epochs, fits=fits)
    if retrain:
        for seed in seeds:
            sel.finals[int(seed)] = r = fit(name, {**best, **epochs}, int(seed), pool, None)
            release(r)  # one large model at a time: it is rebuilt when scored
    return sel
