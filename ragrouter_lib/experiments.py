"""Evaluation loops shared by the notebooks: every router's scores go through the same code.

Thesis step: the evaluation half of Tables 1-6 (RouteLLM's protocol on MMLU and GSM8K).
A "row" of a results table is the mean and standard deviation over seeds of CPT(50%), CPT(80%)
and APGR; the per-seed values are kept so the spread can be shown, never a best seed picked.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from . import metrics
from .costs import encoder_cost, feature_cost, latency  # noqa: F401  (moved; old notebook calls)

# RouteLLM's evaluation sizes and both models' accuracies after decontamination (RouteLLM's files, data/raw).
EXPECTED_EVAL = {
    "mmlu": dict(n_raw=14042, n_kept=14037, weak_acc=68.09, strong_acc=80.59),
    "gsm8k": dict(n_raw=1319, n_kept=1307, weak_acc=63.73, strong_acc=85.77),
}
METRICS = ["cpt50", "cpt80", "apgr"]


def eval_summary(evals: dict[str, pd.DataFrame]) -> pd.DataFrame:
    rows = []
    for bench, ev in evals.items():
        rows.append(dict(benchmark=bench, n_raw=ev.attrs["n_raw"], n_decontaminated=ev.attrs["n_kept"],
                         n_used=len(ev), weak_acc=100 * ev.weak_correct.mean(),
                         strong_acc=100 * ev.strong_correct.mean(),
                         oracle_acc=100 * (ev.weak_correct | ev.strong_correct).mean()))
    return pd.DataFrame(rows).set_index("benchmark").round(2)


def check_eval_rows(evals: dict[str, pd.DataFrame]) -> None:
    """Fail loudly unless the full, decontaminated sets match RouteLLM's published counts."""
    for bench, ev in evals.items():
        exp = EXPECTED_EVAL[bench]
        got = dict(n_raw=ev.attrs["n_raw"], n_kept=ev.attrs["n_kept"])
        if got != {k: exp[k] for k in got}:
            raise AssertionError(f"{bench}: rows {got} != expected {exp}")
        if len(ev) == ev.attrs["n_kept"]:  # accuracies only comparable on the full set
            for k, col in (("weak_acc", "weak_correct"), ("strong_acc", "strong_correct")):
                if abs(100 * ev[col].mean() - exp[k]) > 0.005:
                    raise AssertionError(f"{bench}: {k} {100 * ev[col].mean():.3f} != {exp[k]}")
    print("evaluation rows match RouteLLM's decontaminated sets:",
          {b: EXPECTED_EVAL[b]["n_kept"] for b in evals})


def accuracies(ev: pd.DataFrame) -> tuple[float, float]:
    return float(ev.weak_correct.mean()), float(ev.strong_correct.mean())


def evaluate_scores(scores, ev: pd.DataFrame, seed: int = 0) -> tuple[dict, pd.DataFrame]:
    """CPT(50%), CPT(80%), APGR and the routing curve of one router's scores on one benchmark."""
    w, s = accuracies(ev)
    curve = metrics.routing_curve(scores, ev.weak_correct.values, ev.strong_correct.values, seed=seed)
    return metrics.summarize(curve, w, s), curve


def random_runs(ev: pd.DataFrame, seeds, n_runs: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Random router per seed (each seed: mean curve of ``n_runs`` seeded runs).

    Returns the per-seed metrics and the curve of the first seed.
    """
    w, s = accuracies(ev)
    rows, first = [], None
    for seed in seeds:
        curve = metrics.random_curve(ev.weak_correct.values, ev.strong_correct.values,
                                     n_runs=n_runs, seed=seed)
        rows.append({"seed": seed, **metrics.summarize(curve, w, s)})
        first = curve if first is None else first
    return pd.DataFrame(rows), first


def oracle_run(ev: pd.DataFrame, seed: int = 0) -> tuple[dict, pd.DataFrame]:
    return evaluate_scores(metrics.oracle_scores(ev.weak_correct, ev.strong_correct), ev, seed=seed)


def aggregate(per_seed: pd.DataFrame, model: str) -> dict:
    """One table row: mean over seeds, sample standard deviation (0 for a single seed)."""
    row = {"model": model}
    for m in METRICS:
        vals = per_seed[m].to_numpy(float)
        row[m] = float(np.mean(vals))
        row[f"{m}_sd"] = float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0
    row["n_seeds"] = len(per_seed)
    return row


def format_table(rows: list[dict]) -> pd.DataFrame:
    cols = ["model", "cpt50", "cpt80", "apgr", "cpt50_sd", "cpt80_sd", "apgr_sd", "n_seeds"]
    df = pd.DataFrame(rows, columns=None if rows else cols)
    extra = [c for c in df.columns if c not in cols]
    return df[cols + extra]


def save_tables(cfg, **tables: pd.DataFrame) -> None:
    """Write each table to outputs/results/<name>.csv and say where."""
    for name, df in tables.items():
        path = cfg.path("results", f"{name}.csv")
        df.to_csv(path, index=False)
        print(f"wrote {path.relative_to(cfg.out.parent) if path.is_relative_to(cfg.out.parent) else path}"
              f" ({len(df)} rows)")


def compare_with_published(table: pd.DataFrame, published: pd.DataFrame, on="model",
                           label: str = "published", how: str = "left") -> pd.DataFrame:
    """Our numbers beside published ones (columns ``<metric>_<label>``), with the differences
    (ours - published)."""
    on = [on] if isinstance(on, str) else list(on)
    pub = published.rename(columns={m: f"{m}_{label}" for m in METRICS})
    out = table.merge(pub[on + [f"{m}_{label}" for m in METRICS]], on=on, how=how)
    for m in METRICS:
        out[f"{m}_diff"] = out[m] - out[f"{m}_{label}"]
    return out


def random_and_oracle(evals: dict[str, pd.DataFrame], seeds, n_runs: int = 10):
    """Notebook 01: Random (mean curve of ``n_runs`` runs, per seed) and Oracle on each benchmark.

    Returns (table, per_seed, curves): one row per (benchmark, router), the Random per-seed values,
    and {benchmark: {router: curve}} for plotting.
    """
    rows, per_seed_all, curves = [], [], {}
    for bench, ev in evals.items():
        per_seed, rcurve = random_runs(ev, seeds, n_runs)
        per_seed_all.append(per_seed.assign(benchmark=bench))
        ometrics, ocurve = oracle_run(ev, seed=seeds[0])
        rows.append({"benchmark": bench, **aggregate(per_seed, "Random")})
        rows.append({"benchmark": bench, "model": "Oracle", **ometrics,
                     "cpt50_sd": 0.0, "cpt80_sd": 0.0, "apgr_sd": 0.0, "n_seeds": 1})
        curves[bench] = {"Random": rcurve, "Oracle": ocurve}
    table = format_table(rows)
    return table[["benchmark"] + [c for c in table.columns if c != "benchmark"]], \
        pd.concat(per_seed_all, ignore_index=True), curves


# ----------------------------------------------------------------------------- trained routers
# Equal tuning budget: at most ``selection.MAX_CONFIGS`` (3) configurations per trainable router,
# chosen by the source-grouped K-fold criterion of ``selection`` (within-source ROC-AUC of the
# score against "strong model needed" on held-out sources); epochs from the fold fits' histories.
GRIDS = {
    "random": [{}],
    "sw_ranking": [{"gamma": 10.0}, {"gamma": 100.0}, {"gamma": 1000.0}],
    "mf": [{"dim": 128, "pair_weight": 1.0}, {"dim": 128, "pair_weight": 5.0}, {"dim": 64, "pair_weight": 5.0}],
    "bert": [{"lr": 2e-5}, {"lr": 5e-5}, {"lr": 1e-4}],
    "causal_llm": [{"hidden": 0, "weight_decay": 1e-4}, {"hidden": 256, "weight_decay": 1e-4},
                   {"hidden": 256, "weight_decay": 1e-2}],
    "knn": [{"k": 10}, {"k": 30}, {"k": 100}],
    "kmeans": [{"n_clusters": 8}, {"n_clusters": 16}, {"n_clusters": 32}],
    "svm": [{"C": 0.3}, {"C": 1.0}, {"C": 3.0}],
    "logreg": [{"C": 0.1}, {"C": 0.3}, {"C": 1.0}],
    "length": [{}],
    "ragrouter": [{"k": 10}, {"k": 20}, {"k": 10, "final_lr": 3e-4}],
}
UNTRAINED = ("random", "length")  # nothing to select: one fit per seed, no folds


def _router_key(name, hp, seed, train, valid) -> str:
    """``cache.key`` of one fit: name, hyper-parameters, seed, every column of the training and
    validation rows, and the code closure of the router's module (training core, labels, features
    ... whatever it imports, computed by ``cache.closure``)."""
    from . import cache, routers
    cls = routers.ROUTERS[name]
    inputs = {"train": cache.digest_frame(train, sorted(map(str, train.columns))),
              "valid": None if valid is None else cache.digest_frame(valid, sorted(map(str, valid.columns)))}
    return cache.key("router", {"name": name, "hp": hp, "seed": seed}, inputs, modules=[cls.__module__])


def fit_router(name, hp, seed, train, valid, cache_dir):
    """Fit one configuration, or load it from ``cache_dir/<name>-<cache key>``.

    The folder is written under a temporary name and renamed when complete (``cache.atomic_dir``);
    a folder that fails to load (corrupt or truncated file) is removed with a warning and refitted.
    """
    import warnings
    from pathlib import Path

    from . import cache, routers
    path = Path(cache_dir) / f"{name}-{_router_key(name, hp, seed, train, valid)}"
    if (path / "router.json").exists():
        try:
            r = routers.load_router(path)
            meta = cache.load_json(path / "fit.json")
            if meta is None:
                raise FileNotFoundError("fit.json missing or corrupt")
            r.fit_seconds, r.cache_path = meta["fit_seconds"], path
            return r, True
        except Exception as e:  # noqa: BLE001 - any unreadable entry is recomputed
            warnings.warn(f"router cache {path.name} unreadable ({type(e).__name__}: {e}): removed, refitting",
                          cache.CacheWarning, stacklevel=2)
            cache.remove(path)
    r = routers.get_router(name, seed=seed, **hp)
    r.fit(train, valid)
    if name != "random":
        with cache.atomic_dir(path) as tmp:
            r.save(tmp)
            cache.save_json(tmp / "fit.json", {"fit_seconds": r.fit_seconds})
        r.cache_path = path
    return r, False


def score_cached(r, prompts) -> tuple[np.ndarray, float, bool]:
    """``r.score(prompts)``, stored beside the cached router (its folder's key covers the code and
    the training data; the file's name is the digest of the prompts; checksummed, atomic). Returns
    (scores, seconds the scoring took when it was computed, whether it came from the cache)."""
    import time as _time

    from . import cache
    prompts = list(prompts)
    path = getattr(r, "cache_path", None)
    f = path / f"scores-{cache.digest_texts(prompts)}.npz" if path is not None else None
    got = cache.load_npz(f) if f is not None else None
    if got is not None:
        return got["scores"], float(got["seconds"]), True
    t0 = _time.time()
    scores = np.asarray(r.score(prompts))
    dt = _time.time() - t0
    if f is not None:
        cache.save_npz(f, scores=scores, seconds=np.float64(dt))
    return scores, dt, False


def train_and_evaluate(name, pool, evals, seeds, cache_dir, grid=None, log=print, *, variants=("none",),
                       k=3, out_dir=None, model_key=None):
    """Select on seed ``seeds[0]``'s source-grouped folds, retrain on all rows per seed, score.

    ``selection.select`` chooses the configuration (``grid``, at most three), then the alignment
    among ``variants``, and the epochs; each seed's final router is fitted on the whole pool
    (``valid=None``). Evaluation rows are only scored, never used to choose anything. With
    ``out_dir`` the per-prompt scores go to ``verdicts.save_scores`` under ``model_key`` (default:
    ``name``). Returns (per-seed rows, {seed: router}, the ``Selection`` (None for untrained
    routers), {benchmark: first seed's scores}).
    """
    from . import selection
    grid = grid or GRIDS[name]
    key = model_key or name

    def fit(n, hp, seed, train, valid):
        r, hit = fit_router(n, hp, seed, train, valid, cache_dir)
        r.cached = hit
        return r

    if name in UNTRAINED:
        sel, fitted, hp = None, {int(s): fit(name, grid[0], int(s), pool, None) for s in seeds}, grid[0]
        crit = float("nan")
    else:
        sel = selection.select(name, pool, grid, fit, seeds, k=k, variants=variants, log=log)
        fitted, hp = sel.finals, {**sel.chosen, **sel.epochs}
        crit = float(sel.scores.set_index("config").criterion.get(json.dumps(sel.chosen, sort_keys=True), np.nan))
    rows, all_scores = [], {b: [] for b in evals}
    for seed in seeds:
        r = fitted[int(seed)]
        for bench, ev in evals.items():
            scores, dt, s_hit = score_cached(r, ev.prompt)
            all_scores[bench].append(np.asarray(scores, np.float32))
            if name == "random":  # RouteLLM's Random: mean curve of 10 seeded runs
                w, s = accuracies(ev)
                m = metrics.summarize(metrics.random_curve(ev.weak_correct.values,
                                                           ev.strong_correct.values, 10, seed), w, s)
            else:
                m, _ = evaluate_scores(scores, ev, seed=seed)
            rows.append({"router": key, "seed": seed, "benchmark": bench, **m, "criterion": crit,
                         "hp": json.dumps(hp, sort_keys=True), "fit_seconds": r.fit_seconds or 0.0,
                         "fit_cached": bool(getattr(r, "cached", False)), "score_seconds": dt,
                         "prompts_per_s": len(ev) / max(dt, 1e-9), "scores_cached": s_hit})
        log(f"{key} seed {seed}: hp={hp} criterion={crit:.3f} " +
            " ".join(f"{x['benchmark']}: apgr={x['apgr']:.3f}" for x in rows[-len(evals):]))
    if out_dir is not None:
        from . import verdicts
        for bench, sc in all_scores.items():
            verdicts.save_scores(out_dir, bench, key, list(seeds), np.stack(sc))
    return pd.DataFrame(rows), fitted, sel, {b: sc[0] for b, sc in all_scores.items()}


def table_from_runs(runs: pd.DataFrame, benchmark: str, names: dict) -> pd.DataFrame:
    """Thesis-style table for one benchmark: mean and sd over seeds per router."""
    out = []
    for key, label in names.items():
        sub = runs[(runs.router == key) & (runs.benchmark == benchmark)]
        if len(sub):
            out.append(aggregate(sub, label))
    return format_table(out)


# ----------------------------------------------------------------------------- notebook drivers
def load_pool(cfg, arena_path=None, gpt4_path=None) -> pd.DataFrame:
    """The training pool (plus user-supplied Arena / gpt4_dataset files); smoke: a seeded sample."""
    from . import data, labels
    pool = labels.build_pool(arena=data.load_arena(arena_path) if arena_path else None,
                             gpt4=data.load_gpt4_dataset(gpt4_path) if gpt4_path else None,
                             sources=getattr(cfg, "params", {}).get("pool_sources"),
                             both_fail=getattr(cfg, "params", {}).get("pool_both_fail", labels.DEFAULT_BOTH_FAIL))
    if cfg.pool_limit and cfg.pool_limit < len(pool):
        pool = pool.sample(n=cfg.pool_limit, random_state=cfg.seed).sort_index()
    return pool


def load_evals(cfg) -> dict[str, pd.DataFrame]:
    from . import data
    return {b: data.load_eval(b, limit=cfg.eval_limit, seed=cfg.seed) for b in ("mmlu", "gsm8k")}


def check_leakage(pool, evals, threshold: float = 0.95) -> pd.DataFrame:
    """Exact (normalised) and near-duplicate (MiniLM cosine >= threshold) matches; stops the run
    with ``LeakageError`` if any training prompt matches an evaluation prompt. Returns the closest
    pairs per benchmark for the log."""
    from . import features, labels
    emb = features.sentence_embeddings(pool.prompt, progress=False)
    eemb = {b: features.sentence_embeddings(ev.prompt, progress=False) for b, ev in evals.items()}
    rep = labels.leakage_report(pool.prompt, {b: list(ev.prompt) for b, ev in evals.items()},
                                emb, eemb, threshold=threshold)
    labels.assert_no_leakage(rep)
    return pd.concat([labels.closest_pairs(list(pool.prompt), list(ev.prompt), emb, eemb[b])
                      .assign(benchmark=b) for b, ev in evals.items()], ignore_index=True)


def precompute_features(pool, evals) -> pd.DataFrame:
    """Every shared expensive pass, once (cached per text): MiniLM sentence embeddings and layer-5
    token states, SmolLM2 hidden states (for the pool from the full-model pass that also gives the
    perplexities notebook 04 needs). Prints per-pass cost; returns the feature shapes."""
    from . import features, sampling, training_data
    from .routers.routellm_baselines import BertRouter, CausalLLMRouter
    b, c = BertRouter.defaults, CausalLLMRouter.defaults
    if c["max_len"] == training_data.DEFAULTS["ppl_max_len"]:  # one SmolLM2 pass serves both
        sampling.perplexities(list(pool.prompt), c["max_len"], lm_states_layers=c["n_layers"])
    rows = []
    for name, texts in [("pool", pool.prompt), *((k, ev.prompt) for k, ev in evals.items())]:
        texts = list(texts)
        tok = features.token_states(texts, b["encoder"], layer=b["layer"], max_len=b["max_len"])
        lm = features.lm_states(texts, c["n_layers"], c["max_len"])
        rows.append({"set": name, "n": len(texts), "minilm_tokens": len(tok["states"]),
                     "lm_state_dim": lm.shape[1]})
    return pd.DataFrame(rows)


BASELINES = ["random", "sw_ranking", "mf", "bert", "causal_llm"]
EXTRAS = ["knn", "kmeans", "svm", "logreg", "length"]
# Trainable baselines that also get an "aligned" extra row (same selection, alignment variants).
ALIGNED = ["sw_ranking", "mf", "bert", "causal_llm", "logreg"]
ALIGNED_SUFFIX = "_aligned"


def main_variants(name: str) -> tuple:
    """Alignment variants searched in a router's own (non-"_aligned") row: RouteLLM's recipe
    ("none") for the baselines; RAGRouter, our method, searches every variant it supports (once
    its ``defaults`` take an ``alignment``): 3 configurations + 2 variants, the same number of fold
    fits as a baseline's plain row plus its aligned row."""
    from . import alignment, routers
    if name in routers.OURS and "alignment" in getattr(routers.ROUTERS.get(name), "defaults", {}):
        return alignment.SUPPORTED["ragrouter"]  # the LLM final model (paper) searches the same variants
    return ("none",)


def run_baselines(pool, evals, cfg, names=None, aligned=None, log=print):
    """Every router of ``names`` with RouteLLM's recipe (alignment "none"), then each router of
    ``aligned`` again with the alignment variants of ``alignment.SUPPORTED`` searched by the same
    protocol (starting from the plain run's chosen configuration) -> rows ``<name>_aligned``.
    Per-prompt scores of every router and seed are saved (``verdicts.save_scores``).

    Returns a namespace: runs (per seed and benchmark), selections ({key: Selection}), fitted
    ({key: {seed: router}}), curves (seed 0), per_source (every router's per-fold per-source AUC)
    and tuning (every fold fit).
    """
    from types import SimpleNamespace

    from . import alignment
    names = names or BASELINES + EXTRAS
    if aligned is None:  # the profile may narrow it (offline: the CPU budget, see config.PROFILES)
        aligned = getattr(cfg, "aligned_routers", None) or ALIGNED
    aligned = [a for a in aligned if a in names]
    k = getattr(cfg, "selection_folds", 3)
    runs, sels, fitted, curves = [], {}, {}, {b: {} for b in evals}
    cache_dir = cfg.path("cache", "routers")
    jobs = [(n, GRIDS[n][: cfg.grid_limit] if cfg.grid_limit else GRIDS[n], main_variants(n), n) for n in names]
    jobs += [(n, None, alignment.SUPPORTED[n][1:], n + ALIGNED_SUFFIX) for n in aligned]
    for name, grid, variants, key in jobs:
        if grid is None:  # aligned row: the plain run's chosen configuration, alignment searched
            grid = [sels[name].chosen]
        r, f, sel, first = train_and_evaluate(name, pool, evals, cfg.router_seeds, cache_dir, grid, log,
                                              variants=variants, k=k, out_dir=cfg.out, model_key=key)
        runs.append(r)
        fitted[key] = f
        if sel is not None:
            sels[key] = sel
        for bench, ev in evals.items():
            curves[bench][key] = (metrics.random_curve(ev.weak_correct.values, ev.strong_correct.values,
                                                       10, cfg.router_seeds[0]) if name == "random"
                                  else evaluate_scores(first[bench], ev, cfg.router_seeds[0])[1])
    per_source = pd.concat([s.per_source.assign(router=k_) for k_, s in sels.items()], ignore_index=True) \
        if sels else pd.DataFrame()
    tuning = pd.concat([s.fits.assign(router=k_).merge(s.scores, on="config", how="left")
                        for k_, s in sels.items()], ignore_index=True) if sels else pd.DataFrame()
    return SimpleNamespace(runs=pd.concat(runs, ignore_index=True), selections=sels, tuning=tuning,
                           per_source=per_source, fitted=fitted, curves=curves)


def histories(fitted: dict, selections: dict | None = None) -> pd.DataFrame:
    """Training curves (loss / validation AUC per epoch) of every trained router and seed. Final
    fits train on all rows (no validation), so their curves show the training loss only
    (``fit="final"``); with ``selections`` the fold fits of the chosen configuration are added
    (``fit="fold k"``, validation = the held-out sources)."""
    rows = []
    for name, by_seed in fitted.items():
        for seed, r in by_seed.items():
            for h in getattr(r, "history", []):
                rows.append({"router": name, "seed": seed, "fit": "final", **h})
    for name, sel in (selections or {}).items():
        if sel is None or sel.fits is None or "history" not in sel.fits:
            continue
        tag = json.dumps(sel.chosen, sort_keys=True)
        for _, f in sel.fits[sel.fits.config == tag].iterrows():
            for h in json.loads(f.history):
                rows.append({"router": name, "seed": f"fold {f.fold}", "fit": f"fold {f.fold}", **h})
    return pd.DataFrame(rows)


def cost_table(runs: pd.DataFrame, tuning: pd.DataFrame | None = None) -> pd.DataFrame:
    """Training wall time (final fit, mean over seeds; cached runs show their original time),
    scoring throughput (features cached) and, with ``tuning``, the selection's fold fits
    (count and total seconds) per router."""
    g = runs.groupby(["router", "benchmark"])
    out = g.agg(fit_seconds=("fit_seconds", "mean"), prompts_per_s=("prompts_per_s", "mean"))
    if tuning is not None and len(tuning):
        t = tuning.groupby("router").agg(fold_fits=("fit_seconds", "size"), fold_fit_seconds=("fit_seconds", "sum"))
        out = out.join(t, on="router")
    return out.round(1)


def baseline_tables(runs: pd.DataFrame, benchmark: str, names: dict, extra: dict) -> pd.DataFrame:
    """Thesis rows first, then a rule, then the extra rows (column ``extra`` marks them; the
    aligned retrainings ``<name>_aligned`` are extra rows)."""
    main = table_from_runs(runs, benchmark, names).assign(extra=False)
    ext = table_from_runs(runs, benchmark, extra).assign(extra=True)
    return pd.concat([t for t in (main, ext) if len(t)], ignore_index=True)


def beside_published(table: pd.DataFrame, benchmark: str) -> pd.DataFrame:
    """Our rows beside RouteLLM's published (Arena + augmentation) rows and the thesis's rows."""
    from . import data
    rl = data.load_reference("routellm_paper_tables")
    rl = rl[(rl.benchmark == benchmark) & rl.training_data.isin(["none", "D_arena+D_gold", "D_arena+D_judge"])]
    from .routers import published_display
    th = data.load_reference("paper_tables").query("benchmark == @benchmark and experiment == 'comparison'")
    display = published_display(table.model)  # published row name -> our display name
    rl, th = rl.assign(router=rl.router.replace(display)), th.assign(model=th.model.replace(display))
    out = table[["model", "cpt50", "cpt80", "apgr"]].merge(
        rl.rename(columns={"router": "model", "cpt50": "cpt50_routellm", "cpt80": "cpt80_routellm",
                           "apgr": "apgr_routellm"})[["model", "cpt50_routellm", "cpt80_routellm", "apgr_routellm"]],
        on="model", how="left").merge(
        th.rename(columns={"cpt50": "cpt50_thesis", "cpt80": "cpt80_thesis", "apgr": "apgr_thesis"})
        [["model", "cpt50_thesis", "cpt80_thesis", "apgr_thesis"]], on="model", how="left")
    out["apgr_diff_thesis"] = out.apgr - out.apgr_thesis
    return out


def verdicts(table: pd.DataFrame, reference: str = "Random") -> list[str]:
    """Plain-words comparisons the log prints (never typed by hand): each row vs the reference."""
    ref = table.set_index("model").loc[reference]
    lines = []
    for _, r in table.iterrows():
        if r.model == reference:
            continue
        better = (r.cpt50 + r.cpt80 < ref.cpt50 + ref.cpt80) and r.apgr > ref.apgr
        lines.append(f"{r.model}: APGR {r.apgr:.3f} ± {r.apgr_sd:.3f} vs {reference} {ref.apgr:.3f}; "
                     f"CPT(50%)+CPT(80%) {r.cpt50 + r.cpt80:.1f} vs {ref.cpt50 + ref.cpt80:.1f} -> "
                     f"{'better' if better else 'NOT better'} than {reference}")
    return lines


# ----------------------------------------------------------------------------- RAGRouter (05)
def precompute_ragrouter_inputs(pool, evals) -> pd.DataFrame:
    """spaCy parses of the pool and both benchmarks, once (cached per text); prints the cost."""
    from . import syntax
    rows = []
    for name, texts in [("pool", pool.prompt), *((k, ev.prompt) for k, ev in evals.items())]:
        p = syntax.parses(list(texts))
        rows.append({"set": name, "n": len(texts), "tokens": len(p["states"])})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- Tables 1-2 (06)
def curves_frame(curves: dict) -> pd.DataFrame:
    """{benchmark: {router: curve}} -> one long table (saved by 03 and 05, plotted by 06)."""
    return pd.concat([c.assign(benchmark=b, router=r) for b, by in curves.items() for r, c in by.items()],
                     ignore_index=True)


def comparison_table(runs: pd.DataFrame, benchmark: str) -> pd.DataFrame:
    """Table 1 / 2: thesis rows in the thesis's order, then the extra rows (``extra=True``)."""
    from .routers import EXTRA_NAMES, THESIS_NAMES
    order = ["ragrouter", "ragrouter_llm", "bert", "causal_llm", "mf", "sw_ranking", "random"]
    return baseline_tables(runs, benchmark, {k: THESIS_NAMES[k] for k in order}, EXTRA_NAMES)


def expectation(table: pd.DataFrame, ours: str = "RAGRouter") -> pd.DataFrame:
    """The customer's expectation, row by row: lower CPT(50%)+CPT(80%) and higher APGR than each
    thesis baseline. ``holds`` is False wherever it fails; the gap in sd units says how clear."""
    main = table[~table.extra].set_index("model")
    r = main.loc[ours]
    rows = []
    for m, b in main.drop(ours).iterrows():
        cpt_sum, cpt_sum_b = r.cpt50 + r.cpt80, b.cpt50 + b.cpt80
        sd = np.hypot(r.apgr_sd, b.apgr_sd) or np.nan
        rows.append({"baseline": m, "RAGRouter CPT50+CPT80": round(cpt_sum, 2), "baseline CPT50+CPT80": round(cpt_sum_b, 2),
                     "RAGRouter APGR": round(r.apgr, 3), "baseline APGR": round(b.apgr, 3),
                     "APGR gap / sd": round((r.apgr - b.apgr) / sd, 1),
                     "holds": bool(cpt_sum < cpt_sum_b and r.apgr > b.apgr)})
    return pd.DataFrame(rows)


def versus_thesis(table: pd.DataFrame, table_no: int) -> pd.DataFrame:
    """Rows of one thesis table beside ours (models the thesis does not list are left out)."""
    from . import data
    from .routers import published_display
    th = data.load_reference("paper_tables").query("table == @table_no")
    th = th.assign(model=th.model.replace(published_display(table.model)))
    return compare_with_published(table[["model", *METRICS]], th, label="thesis", how="inner")


def plot_curves_from_frame(cf: pd.DataFrame, evals: dict, path) -> None:
    import matplotlib.pyplot as plt

    from . import plots
    fig, axes = plt.subplots(2, len(evals), figsize=(6.5 * len(evals), 9), squeeze=False)
    for j, (bench, ev) in enumerate(evals.items()):
        curves = {r: g for r, g in cf[cf.benchmark == bench].groupby("router", sort=False)}
        for i, pgr in enumerate((False, True)):
            plots.routing_curves(curves, *accuracies(ev), bench.upper(), axes[i, j], pgr)
    plots.save(fig, path)
