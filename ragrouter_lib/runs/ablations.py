"""Tables 3-6: RAGRouter with one of its four parts switched off (the thesis's ablations, MMLU).

Thesis step: Tables 3 (multi-source data augmentation), 4 (data sampling), 5 (semantic-syntactic
feature extraction) and 6 (the RAG vector knowledge base). Each "without" row retrains RAGRouter
with one switch changed and everything else equal: the configuration and alignment variant chosen
for the full model in notebook 05 (not re-tuned per variant), the same selection folds
(``selection_folds``) and the same seeds. The seeds are the profile's ``ablation_seeds`` (offline
and paper: the 5 router seeds); the "with" row is the full model's runs of those seeds (Table 1's
runs), so every comparison is paired by seed (``run`` refuses a seed the full model lacks). Each
switch removes what the thesis's part adds (``routers/ragrouter.py``): ``augment=False`` (original
rows only: no augmented rows; sampling draws from the original rows), ``sample=False`` (original +
augmented rows as they are, no perplexity sampling), ``features="plain"`` (no CM-MHA, no GraphSAGE,
no parse, no structural features: the final model and the KB read the plain MiniLM sentence
embedding, as the baselines do), ``rag="off"`` (no retrieved neighbours: the final model sees the
query vector alone; the extractor is the full model's, loaded from its cache).

Each variant goes through the same source-grouped selection protocol (``selection``; grid = the
full model's chosen settings with the switch), which re-chooses only the epochs on the held-out
sources, then retrains on all rows per seed; so every row carries the grouped criterion
(row-weighted within-source AUC on held-out sources, training rows only) beside APGR: a part earns
its place when switching it off lowers both. Per-prompt scores are saved under
``verdicts.ablation_key(t)`` for the paired bootstrap verdicts (``verdicts``).

An ablation judges a part only once the part does its job on its own check: ``runs.components``
gathers each part's check beside its table (the run's CSVs; "not measured in this run" when
absent); Table 5's own is ``feature_check`` (the extractor's fused vector against the plain
sentence embedding as the input of a logistic / kNN probe on held-out sources).

Deviation: the thesis does not say whether its ablations were re-tuned; here the configuration is
not (only the epoch count, by the same rule as the full model's), so each difference is that of the
switch and of its own stopping point.

>>> ABLATIONS[6].switch, ABLATIONS[6].without
({'rag': 'off'}, 'without RAG vector knowledge base')
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .. import routers
from ..core.seeding import step_seed
from ..evaluation import verdicts
from ..evaluation.bootstrap import METRIC_NAMES
from ..features import encoders
from ..routers import selection
from ..routers.selection import EPOCH_KEYS
from . import experiments, router_runs


@dataclass(frozen=True)
class Ablation:
    table: int
    switch: dict
    part: str  # the thesis's words

    @property
    def with_(self) -> str:
        return f"with {self.part}"

    @property
    def without(self) -> str:
        return f"without {self.part}"


ABLATIONS = {a.table: a for a in (
    Ablation(3, {"augment": False}, "multi-source data augmentation"),
    Ablation(4, {"sample": False}, "data sampling"),
    Ablation(5, {"features": "plain"}, "semantic-syntactic feature extraction"),
    Ablation(6, {"rag": "off"}, "RAG vector knowledge base"),
)}


def chosen_config(full_runs: pd.DataFrame) -> dict:
    """The full model's configuration (one for all seeds, chosen in notebook 05 by the grouped protocol)."""
    hps = full_runs.hp.unique()
    if len(hps) != 1:
        raise ValueError(f"the full model's runs carry {len(hps)} configurations: {list(hps)}")
    return json.loads(hps[0])


def router_name(full_runs: pd.DataFrame) -> str:
    """The full model's router key ("ragrouter" offline, "ragrouter_llm" in the paper profile)."""
    names = full_runs.router.unique()
    if len(names) != 1:
        raise ValueError(f"the full model's runs carry {len(names)} routers: {list(names)}")
    return str(names[0])


def seeds(cfg) -> list:
    """The ablations' seeds (``ablation_seeds`` of the profile; offline: the 5 router seeds)."""
    return list(getattr(cfg, "ablation_seeds", None) or cfg.router_seeds)


def paired_seeds(cfg, full_runs: pd.DataFrame) -> list:
    """``seeds(cfg)``, each of which the full model has a run of (ValueError otherwise): the pairs."""
    s, have = seeds(cfg), {int(x) for x in full_runs.seed.unique()}
    if not set(s) <= have:
        raise ValueError(f"ablation seeds {s} are not paired: the full model has runs of seeds {sorted(have)}")
    return s


def base_config(full_runs: pd.DataFrame) -> dict:
    """The full model's settings without its epoch counts (each variant re-chooses those)."""
    epoch_keys = set(EPOCH_KEYS[router_name(full_runs)].values())
    return {k: v for k, v in chosen_config(full_runs).items() if k not in epoch_keys}


def run(pool, evals: dict, cfg, full_runs: pd.DataFrame, tables=(3, 4, 5, 6), log=print, out_dir=None):
    """Train and score every "without" variant for every seed (MMLU, as in the thesis).

    Returns runs (per seed, columns ``table``, ``model`` and the grouped ``criterion``), fitted
    routers and seed-0 curves; with ``out_dir`` the per-prompt scores are saved for the verdicts.
    """
    # the full model's settings without its epoch counts: each variant's epochs are re-chosen on the
    # same folds (and the rag="off" variant's fold extractors are the full model's, from the cache)
    name, base, pairs = router_name(full_runs), base_config(full_runs), paired_seeds(cfg, full_runs)
    cache_dir = cfg.path("cache", "routers")
    runs, fitted, curves = [], {}, {}
    for t in tables:
        a = ABLATIONS[t]
        hp = {**base, **a.switch}
        log(f"Table {t}: {a.without} -> {hp}")
        r, f, _, first = router_runs.train_and_evaluate(name, pool, evals, pairs, cache_dir,
                                                        grid=[hp], log=log, out_dir=out_dir,
                                                        n_folds=getattr(cfg, "selection_folds", 3),
                                                        model_key=verdicts.ablation_key(t))
        runs.append(r.assign(table=t, model=a.without))
        fitted[a.without] = f
        curves[a.without] = {b: router_runs.evaluate_scores(s, evals[b], pairs[0])[1]
                             for b, s in first.items()}
    return SimpleNamespace(runs=pd.concat(runs, ignore_index=True), fitted=fitted, curves=curves)


def full_models(pool, cfg, full_runs: pd.DataFrame) -> dict:
    """The full model per seed, as notebook 05 trained it: the chosen settings (epochs included)
    fitted on all training rows with ``valid=None`` (loaded from the router cache)."""
    out = {}
    for seed in sorted(full_runs.seed.unique()):
        out[int(seed)], _ = router_runs.fit_router(router_name(full_runs), chosen_config(full_runs), int(seed), pool, None,
                                                   cfg.path("cache", "routers"))
    return out


def table(full_runs: pd.DataFrame, abl_runs: pd.DataFrame, t: int, benchmark: str = "mmlu") -> pd.DataFrame:
    """Table ``t``: the "without" row then the "with" row (the thesis's order), mean and sd over seeds."""
    a = ABLATIONS[t]
    wo = abl_runs[(abl_runs.table == t) & (abl_runs.benchmark == benchmark)]
    full = full_runs[(full_runs.benchmark == benchmark) & full_runs.seed.isin(wo.seed)]  # paired seeds
    if sorted(full.seed) != sorted(wo.seed):
        raise ValueError(f"Table {t}: seeds differ (with {sorted(full.seed)}, without {sorted(wo.seed)})")
    rows = [{**router_runs.aggregate(x, m), "criterion": float(x.criterion.mean()) if "criterion" in x else np.nan}
            for x, m in ((wo, a.without), (full, a.with_))]
    return router_runs.format_table(rows)


def paired(full_runs: pd.DataFrame, abl_runs: pd.DataFrame, t: int, benchmark: str = "mmlu") -> pd.DataFrame:
    """Per seed: with minus without (the same seed's split, so the difference is the switch's)."""
    a = ABLATIONS[t]
    cols = ["seed", *router_runs.METRICS, *(c for c in ("criterion", "val_auc") if c in full_runs and c in abl_runs)]
    w = full_runs[full_runs.benchmark == benchmark][cols].set_index("seed")
    wo = abl_runs[(abl_runs.table == t) & (abl_runs.benchmark == benchmark)][cols].set_index("seed")
    d = (w.loc[w.index.intersection(wo.index)] - wo).reset_index()
    return d.assign(table=t, part=a.part)[["table", "part", *cols]]


def summary(tab: pd.DataFrame, diffs: pd.DataFrame, ver: pd.DataFrame | None = None) -> str:
    """One line per table: the with / without means, the per-seed differences, the grouped criterion
    and, with ``ver`` (this table's rows of ``verdicts.tables_3_6``), each metric's interval and
    verdict word. The only comparison words are those verdict words, from the intervals."""
    wo, w = tab.iloc[0], tab.iloc[1]
    d = diffs.apgr.to_numpy()
    line = (f"APGR with {w.apgr:.3f}, without {wo.apgr:.3f}; CPT(50%)+CPT(80%) with {w.cpt50 + w.cpt80:.1f}, "
            f"without {wo.cpt50 + wo.cpt80:.1f}; per-seed APGR difference (with - without) "
            f"{' '.join(f'{x:+.3f}' for x in d)} ({int((d > 0).sum())} of {len(d)} seeds positive)")
    if "criterion" in tab and np.isfinite(tab.criterion).all():
        line += f"; grouped criterion with {w.criterion:.3f}, without {wo.criterion:.3f}"
    if ver is None or ver.empty:
        return line + "; no interval (no saved scores): no verdict."
    p = {m: 3 if m == "apgr" else 2 for m in ver.metric}
    return line + "; verdict by the rule: " + ", ".join(
        f"{METRIC_NAMES[r.metric]} {r.verdict} ({r['diff']:+.{p[r.metric]}f} "
        f"[{r.ci_low:+.{p[r.metric]}f}, {r.ci_high:+.{p[r.metric]}f}])" for _, r in ver.iterrows()) + "."


def versus_thesis(tab: pd.DataFrame, t: int) -> pd.DataFrame:
    return experiments.versus_thesis(tab, t)


def diagnostics(full_runs, abl_runs, fitted_full: dict, fitted_abl: dict, benchmark: str = "mmlu") -> pd.DataFrame:
    """Why a part helps or not: per variant the training data it had, its grouped criterion
    (within-source AUC on held-out training sources) and its MMLU APGR, means over seeds."""
    rows = []
    paired = set(abl_runs.seed)  # the full model on the ablations' seeds only (paired means)
    full_runs = full_runs[full_runs.seed.isin(paired)]
    variants = {"full model": (full_runs, {s: r for s, r in fitted_full.items() if s in paired})}
    variants.update({m: (abl_runs[abl_runs.model == m], fitted_abl[m]) for m in abl_runs.model.unique()})
    for name, (runs, fitted) in variants.items():
        sub = runs[runs.benchmark == benchmark]
        ds = pd.DataFrame([r.data_summary for r in fitted.values()]).mean()
        rows.append({"variant": name, "training_rows": ds.training_rows, "augmented_rows": ds.augmented_rows,
                     "kb_rows": ds.kb_rows, "final_rows": ds.final_rows,
                     "criterion": sub.criterion.mean() if "criterion" in sub else np.nan,
                     "apgr": sub.apgr.mean(), "apgr_sd": sub.apgr.std(ddof=1)})
    return pd.DataFrame(rows).round(3)


def neighbour_vote(router, prompts) -> np.ndarray:
    """The KB alone as a router: distance-weighted share of retrieved neighbours whose label says
    "strong needed" (score <= 3). Shows how much routing signal retrieval carries on a benchmark."""
    import torch  # heavy optional package: imported only when this runs
    vec = router.embed(prompts)
    nb = router.neighbours(vec)
    w = torch.softmax(-torch.from_numpy(nb["dist"].astype(np.float32)), -1).numpy()
    return (w * (nb["score"] <= 3)).sum(1)


# ----------------------------------------------------------------------------- component checks
FEATURE_CHECK = "07_feature_check"  # results CSV of ``feature_check`` (Table 5's part)
# each part's own check: the results CSVs that may hold it (first match wins), by table
def _probe(kind: str, x_tr, y_tr, x_te, k: int, seed: int) -> np.ndarray:
    """P(strong needed) of held-out rows from a logistic regression (standardised inputs) or a
    distance-weighted kNN vote (L2, as the KB searches), fitted on the training sources' rows."""
    m = (make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000, random_state=seed))
         if kind == "logistic" else KNeighborsClassifier(k, weights="distance"))
    return m.fit(x_tr, y_tr).predict_proba(x_te)[:, 1]


def source_interval(per_source: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    """(row-weighted mean of ``diff`` over sources, 95 % bootstrap interval over the sources):
    ``per_source`` has one row per held-out source with columns ``n`` and ``diff``."""
    d = per_source.dropna(subset=["diff"])
    w, x = d.n.to_numpy(float), d["diff"].to_numpy(float)
    idx = np.random.default_rng(step_seed(seed, "feature_check/sources")).integers(0, len(d), (n_boot, len(d)))
    boot = (w[idx] * x[idx]).sum(1) / w[idx].sum(1)
    lo, hi = np.quantile(boot, [0.025, 0.975])
    return float(np.average(x, weights=w)), float(lo), float(hi)


def feature_check(pool, cfg, full_runs: pd.DataFrame, k: int = 10, n_boot: int = 1000, log=print, save=True):
    """Table 5's part on its own check: does the extractor's fused vector (CM-MHA over MiniLM tokens
    and GraphSAGE nodes) carry more routing signal on sources it never saw than the plain sentence
    embedding? On the selection's source-grouped folds (training rows only; seed = the first
    ablation seed): per fold an extractor with the full model's settings and extractor epochs is
    fitted on the other sources (``valid=None``: the held-out labels touch nothing), both vectors
    feed the same probe (logistic, kNN) fitted on the training sources' rows, and the held-out rows
    get a within-source AUC. One row per probe: fused, plain, their difference (row-weighted over
    sources) and its 95 % interval over sources; ``met`` when the interval is above zero."""
    name, seed = router_name(full_runs), int(seeds(cfg)[0])
    ex_epochs = EPOCH_KEYS[name]["extractor"]  # the full model's chosen count (its final fits')
    hp = {**base_config(full_runs), ex_epochs: chosen_config(full_runs)[ex_epochs], "features": "semantic+syntactic"}
    folds, rows = selection.source_folds(pool, getattr(cfg, "selection_folds", 3), seed), []
    for f in sorted(folds.unique()):
        tr, va = pool[folds != f], pool[folds == f]
        r = routers.get_router(name, seed=seed, **hp)
        r.fit_extractor(r.prepare_data(tr, None), None)  # cached by data, seed and settings
        vecs = {"fused (CM-MHA)": (r.embed(tr.prompt), r.embed(va.prompt)),
                "plain sentence embedding": tuple(encoders.sentence_embeddings(list(x.prompt), r.hp["encoder"],
                                                                              max_len=r.hp["max_len"], progress=False)
                                                  for x in (tr, va))}
        for probe in ("logistic", "knn"):
            for feat, (x_tr, x_va) in vecs.items():
                _, tab = selection.within_source_auc(_probe(probe, x_tr, tr.strong_needed.to_numpy(), x_va, k, seed), va)
                rows.append(tab.assign(fold=int(f), probe=probe, features=feat))
        log(f"feature check fold {f}: {len(tr)} training rows, {len(va)} held-out rows")
    per = pd.concat(rows, ignore_index=True)
    out = []
    for probe, g in per.groupby("probe", sort=False):
        w = g.pivot_table(index=["source", "n"], columns="features", values="auc").reset_index()
        w["diff"] = w["fused (CM-MHA)"] - w["plain sentence embedding"]
        d, lo, hi = source_interval(w, n_boot, seed)
        ok = w.dropna(subset=["diff"])
        out.append({"table": 5, "component": ABLATIONS[5].part, "probe": probe,
                    "check": f"{probe} probe on held-out sources: within-source AUC, fused minus plain",
                    "fused": float(np.average(ok["fused (CM-MHA)"], weights=ok.n)),
                    "plain": float(np.average(ok["plain sentence embedding"], weights=ok.n)),
                    "value": d, "ci_low": lo, "ci_high": hi, "n_sources": len(ok), "target": "> 0 (interval above zero)",
                    "met": bool(lo > 0)})
    res = pd.DataFrame(out)
    res.attrs["per_source"] = per
    if save:
        router_runs.save_tables(cfg, **{FEATURE_CHECK: res})
    return res
