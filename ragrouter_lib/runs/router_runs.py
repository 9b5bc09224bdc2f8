"""Evaluation runs: every router's scores go through the same code (fit, score, metric rows).

Thesis step: the evaluation half of Tables 1-6 (RouteLLM's protocol on MMLU and GSM8K).
A "row" of a results table is the mean and standard deviation over seeds of CPT(50%), CPT(80%)
and APGR; the per-seed values are kept so the spread can be shown, never a best seed picked. Each
per-seed value is ``bootstrap.point_metrics`` of the scores exactly as ``verdicts.save_scores``
stores them, so a table's number is its interval's point estimate (one computation; Random
included: one seeded ``RandomRouter`` draw per seed, as in the intervals).
Trained routers are selected by the source-grouped protocol (``routers.selection``) on training
rows only, refitted on all of them, cached by ``cache.key`` and scored on the evaluation rows.
"""
from __future__ import annotations

import json
import time as _time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .. import routers
from ..core import cache
from ..evaluation import bootstrap, metrics, verdicts
from ..routers import selection, training
from ..routers.base import get_grid

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
    """CPT(50%), CPT(80%), APGR and the routing curve of one router's scores on one benchmark
    (``bootstrap.point_metrics``: the computation the intervals' point estimates use)."""
    return bootstrap.point_metrics(scores, ev.weak_correct.values, ev.strong_correct.values, seed)


def random_runs(ev: pd.DataFrame, seeds) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Random router per seed: the scores of ``RandomRouter(seed)`` (one seeded draw, the draw
    Tables 1-2 and their intervals score), evaluated by ``evaluate_scores``.

    Returns the per-seed metrics and the curve of the first seed.
    """
    rows, first = [], None
    for seed in seeds:
        m, curve = evaluate_scores(routers.get_router("random", seed=int(seed)).score(list(ev.prompt)), ev, int(seed))
        rows.append({"seed": seed, **m})
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


def random_and_oracle(evals: dict[str, pd.DataFrame], seeds):
    """Notebook 01: Random (``random_runs``: the same per-seed draws as Tables 1-2's Random row when
    ``seeds`` are the router seeds) and Oracle on each benchmark.

    Returns (table, per_seed, curves): one row per (benchmark, router), the Random per-seed values,
    and {benchmark: {router: curve}} for plotting.
    """
    rows, per_seed_all, curves = [], [], {}
    for bench, ev in evals.items():
        per_seed, rcurve = random_runs(ev, seeds)
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
# Equal tuning budget: at most ``selection.MAX_CONFIGS`` (3) configurations per trainable router
# (each router class's ``grid``; ``grid[0]`` is its defaults), chosen by the source-grouped K-fold
# criterion of ``selection`` (within-source ROC-AUC of the score against "strong model needed" on
# held-out sources); epochs from the fold fits' histories.
UNTRAINED = ("random", "length")  # nothing to select: one fit per seed, no folds


def run_grid(name: str, cfg, settings: dict | None = None) -> list[dict]:
    """The configurations router ``name`` tries in this run: the first ``cfg.grid_limit`` (None:
    all) entries of its class ``grid``; for our router (``routers.OURS``) the run's overrides of
    its settings (``rr.setup(..., k=20, augment=False)``: ``cfg.params``) are laid over every
    entry, then ``settings`` (values only known at run time, e.g. the paper profile's model
    folders); entries made equal by that are kept once."""
    cls = routers.ROUTERS[name]
    over = {k: v for k, v in getattr(cfg, "params", {}).items() if k in cls.defaults} if name in routers.OURS else {}
    out = []
    for g in get_grid(name, getattr(cfg, "grid_limit", None)):
        g = {**g, **over, **(settings or {})}
        if g not in out:
            out.append(g)
    return out


def _router_key(name, hp, seed, train, valid) -> str:
    """``cache.key`` of one fit: name, hyper-parameters, seed, every column of the training and
    validation rows, and the code closure of the router's module (training core, labels, features
    ... whatever it imports, computed by ``cache.closure``)."""
    cls = routers.ROUTERS[name]
    inputs = {"train": cache.digest_frame(train, sorted(map(str, train.columns))),
              "valid": None if valid is None else cache.digest_frame(valid, sorted(map(str, valid.columns)))}
    return cache.key("router", {"name": name, "hp": hp, "seed": seed}, inputs, modules=[cls.__module__])


def fit_router(name, hp, seed, train, valid, cache_dir):
    """Fit one configuration, or load it from ``cache_dir/<name>-<cache key>``.

    The folder is written under a temporary name and renamed when complete (``cache.atomic_dir``);
    a folder that fails to load (corrupt or truncated file) is removed with a warning and refitted.
    """
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


def fit_label(valid) -> str:
    """"final" (all training rows) or "fold (held out: <sources>)" for the epoch log lines."""
    if valid is None:
        return "final"
    src = sorted(map(str, valid.source.unique())) if "source" in valid else []
    return f"fold (held out: {', '.join(src[:3])}{', ...' if len(src) > 3 else ''})" if src else "fold"


def train_and_evaluate(name, pool, evals, seeds, cache_dir, grid=None, log=print, *, variants=("none",),
                       n_folds=3, out_dir=None, model_key=None):
    """Select on seed ``seeds[0]``'s ``n_folds`` source-grouped folds, retrain on all rows per seed, score.

    ``selection.select`` chooses the configuration (``grid``, at most three; None: the router
    class's whole ``grid``), then the alignment
    among ``variants``, and the epochs; each seed's final router is fitted on the whole pool
    (``valid=None``). Evaluation rows are only scored, never used to choose anything. With
    ``out_dir`` the per-prompt scores go to ``verdicts.save_scores`` under ``model_key`` (default:
    ``name``). Returns (per-seed rows, {seed: router}, the ``Selection`` (None for untrained
    routers), {benchmark: first seed's scores}); each router ``selection.release``d after scoring
    (an LLM final model's scorer is rebuilt from its weights if a later stage scores again).
    """
    grid = grid or get_grid(name)
    key = model_key or name

    def fit(n, hp, seed, train, valid):
        with training.log_context(f"{key} seed {seed} {fit_label(valid)}"):  # names the fit on each epoch line
            r, hit = fit_router(n, hp, seed, train, valid, cache_dir)
        r.cached = hit
        return r

    if name in UNTRAINED:
        sel, fitted, hp = None, {int(s): fit(name, grid[0], int(s), pool, None) for s in seeds}, grid[0]
        crit = float("nan")
    else:
        sel = selection.select(name, pool, grid, fit, seeds, n_folds=n_folds, variants=variants, log=log)
        fitted, hp = sel.finals, {**sel.chosen, **sel.epochs}
        crit = float(sel.scores.set_index("config").criterion.get(json.dumps(sel.chosen, sort_keys=True), np.nan))
    rows, all_scores = [], {b: [] for b in evals}
    for seed in seeds:
        r = fitted[int(seed)]
        for bench, ev in evals.items():
            scores, dt, s_hit = score_cached(r, ev.prompt)
            all_scores[bench].append(bootstrap.as_stored(scores))  # what save_scores stores
            m, _ = evaluate_scores(all_scores[bench][-1], ev, seed=seed)
            rows.append({"router": key, "seed": seed, "benchmark": bench, **m, "criterion": crit,
                         "hp": json.dumps(hp, sort_keys=True), "fit_seconds": r.fit_seconds or 0.0,
                         "fit_cached": bool(getattr(r, "cached", False)), "score_seconds": dt,
                         "prompts_per_s": len(ev) / max(dt, 1e-9), "scores_cached": s_hit})
        selection.release(r)  # its scores and weights are on disk: one large model in memory at a time
        log(f"{key} seed {seed}: hp={hp} criterion={crit:.3f} " +
            " ".join(f"{x['benchmark']}: apgr={x['apgr']:.3f}" for x in rows[-len(evals):]))
    if out_dir is not None:
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
