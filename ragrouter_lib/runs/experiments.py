"""The notebooks' drivers: pool and evaluation loading, baselines, Tables 1-2's frames.

Thesis step: the orchestration of notebooks 02-06 (RouteLLM's baselines, RAGRouter's inputs,
Tables 1-2 beside the thesis and RouteLLM's published rows). Every router's scores come from
``evaluation.runs``; nothing here computes a metric of its own.
"""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from .. import routers
from ..data import leakage, loading
from ..evaluation import plots, verdicts
from ..features import encoders, syntax
from ..labels import alignment, pool_labels
from ..pipeline import sampling, training_data
from ..routers import EXTRA_NAMES, RELEASED_NAMES, RELEASED_PAPER_NAME_OF, THESIS_NAMES, published_display
from ..routers.routellm_baselines import BertRouter, CausalLLMRouter
from .router_runs import (
    METRICS,
    accuracies,
    compare_with_published,
    evaluate_scores,
    run_grid,
    table_from_runs,
    train_and_evaluate,
)


# ----------------------------------------------------------------------------- notebook drivers
def load_pool(cfg, arena_path=None, gpt4_path=None) -> pd.DataFrame:
    """The training pool (plus user-supplied Arena / gpt4_dataset files); smoke: a seeded sample."""
    pool = pool_labels.build_pool(arena=loading.load_arena(arena_path) if arena_path else None,
                                  gpt4=loading.load_gpt4_dataset(gpt4_path) if gpt4_path else None,
                                  sources=getattr(cfg, "params", {}).get("pool_sources"),
                                  both_fail=getattr(cfg, "params", {}).get("pool_both_fail", pool_labels.DEFAULT_BOTH_FAIL))
    if cfg.pool_limit and cfg.pool_limit < len(pool):
        pool = pool.sample(n=cfg.pool_limit, random_state=cfg.data_seed).sort_index()
    return pool


def load_evals(cfg) -> dict[str, pd.DataFrame]:
    return {b: loading.load_eval(b, limit=cfg.eval_limit, seed=cfg.data_seed) for b in ("mmlu", "gsm8k")}


def check_leakage(pool, evals, threshold: float = 0.95) -> pd.DataFrame:
    """Exact (normalised) and near-duplicate (MiniLM cosine >= threshold) matches; stops the run
    with ``LeakageError`` if any training prompt matches an evaluation prompt. Returns the closest
    pairs per benchmark for the log."""
    emb = encoders.sentence_embeddings(pool.prompt, progress=False)
    eemb = {b: encoders.sentence_embeddings(ev.prompt, progress=False) for b, ev in evals.items()}
    rep = leakage.leakage_report(pool.prompt, {b: list(ev.prompt) for b, ev in evals.items()},
                                 emb, eemb, threshold=threshold)
    leakage.assert_no_leakage(rep)
    return pd.concat([leakage.closest_pairs(list(pool.prompt), list(ev.prompt), emb, eemb[b])
                      .assign(benchmark=b) for b, ev in evals.items()], ignore_index=True)


def precompute_features(pool, evals) -> pd.DataFrame:
    """Every shared expensive pass, once (cached per text): MiniLM sentence embeddings and layer-5
    token states, SmolLM2 hidden states (for the pool from the full-model pass that also gives the
    perplexities notebook 04 needs). Prints per-pass cost; returns the feature shapes."""
    b, c = BertRouter.defaults, CausalLLMRouter.defaults
    if c["max_len"] == training_data.PPL_MAX_LEN:  # one SmolLM2 pass serves both
        sampling.perplexities(list(pool.prompt), c["max_len"], lm_states_layers=c["n_layers"])
    rows = []
    for name, texts in [("pool", pool.prompt), *((k, ev.prompt) for k, ev in evals.items())]:
        texts = list(texts)
        tok = encoders.token_states(texts, b["encoder"], layer=b["layer"], max_len=b["max_len"])
        lm = encoders.lm_states(texts, c["n_layers"], c["max_len"])
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
    if name in routers.OURS and "alignment" in getattr(routers.ROUTERS.get(name), "defaults", {}):
        return alignment.SUPPORTED["ragrouter"]  # the LLM final model (paper) searches the same variants
    return ("none",)


def run_baselines(pool, evals, cfg, names=None, aligned=None, log=print, settings=None):
    """Every router of ``names`` with RouteLLM's recipe (alignment "none"), then each router of
    ``aligned`` again with the alignment variants of ``alignment.SUPPORTED`` searched by the same
    protocol (starting from the plain run's chosen configuration) -> rows ``<name>_aligned``.
    Per-prompt scores of every router and seed are saved (``verdicts.save_scores``). Configurations:
    ``router_runs.run_grid`` (the class grid, the profile's ``grid_limit``, the run's overrides of
    our router's settings, and ``settings[name]``: run-time values such as the paper profile's model
    folders); ``cfg.selection_folds`` source-grouped folds.

    Returns a namespace: runs (per seed and benchmark), selections ({key: Selection}), fitted
    ({key: {seed: router}}), curves (seed 0), per_source (every router's per-fold per-source AUC)
    and tuning (every fold fit).
    """
    names = names or BASELINES + EXTRAS
    if aligned is None:  # the profile may narrow it (offline: the CPU budget, see config.PROFILES)
        aligned = getattr(cfg, "aligned_routers", None) or ALIGNED
    aligned = [a for a in aligned if a in names]
    n_folds = getattr(cfg, "selection_folds", 3)
    runs, sels, fitted, curves = [], {}, {}, {b: {} for b in evals}
    cache_dir = cfg.path("cache", "routers")
    jobs = [(n, run_grid(n, cfg, (settings or {}).get(n)), main_variants(n), n) for n in names]
    jobs += [(n, None, alignment.SUPPORTED[n][1:], n + ALIGNED_SUFFIX) for n in aligned]
    for name, grid, variants, key in jobs:
        if grid is None:  # aligned row: the plain run's chosen configuration, alignment searched
            grid = [sels[name].chosen]
        r, f, sel, first = train_and_evaluate(name, pool, evals, cfg.router_seeds, cache_dir, grid, log,
                                              variants=variants, n_folds=n_folds, out_dir=cfg.out, model_key=key)
        runs.append(r)
        fitted[key] = f
        if sel is not None:
            sels[key] = sel
        for bench, ev in evals.items():
            curves[bench][key] = evaluate_scores(first[bench], ev, cfg.router_seeds[0])[1]  # the scored draw
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
    rl = loading.load_reference("routellm_paper_tables")
    rl = rl[(rl.benchmark == benchmark) & rl.training_data.isin(["none", "D_arena+D_gold", "D_arena+D_judge"])]
    th = loading.load_reference("paper_tables").query("benchmark == @benchmark and experiment == 'comparison'")
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


def reference_verdicts(out_dir, evals: dict, reference: str = "random") -> pd.DataFrame:
    """Notebook 03's reading: every saved row minus the row ``reference`` (a model key), per
    benchmark, with the rule's interval and verdict word (``verdicts.against_reference``; never a
    word from point values). The long form is saved as ``results/03_verdicts_vs_<reference>.csv``
    (the notebook's Chinese conclusion reads it: one bootstrap, not two). Only the routers notebook 03
    trains are read: our router's scores are written later (notebook 05), so in 03 they would be the
    previous run's; its comparisons with every row are notebook 06's (``verdicts.tables_1_2``)."""
    names = {k: v for k, v in {**routers.THESIS_NAMES, **routers.EXTRA_NAMES}.items() if k not in routers.OURS}
    per = [verdicts.against_reference(out_dir, b, reference, evals, names=names) for b in evals]
    pd.concat(per, ignore_index=True).to_csv(Path(out_dir) / "results" / f"03_verdicts_vs_{reference}.csv", index=False)
    return pd.concat([verdicts.verdict_table(v, sides=("row", "minus")) for v in per], ignore_index=True)


# ----------------------------------------------------------------------------- RAGRouter (05)
def precompute_ragrouter_inputs(pool, evals) -> pd.DataFrame:
    """spaCy parses of the pool and both benchmarks, once (cached per text); prints the cost."""
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
    """Table 1 / 2: thesis rows in the thesis's order (RouteLLM's released checkpoints, when ``runs``
    holds them, before the retrained baselines), then the extra rows (``extra=True``)."""
    order = ["ragrouter", "ragrouter_llm", "bert", "causal_llm", "mf", "sw_ranking", "random"]
    names = {k: THESIS_NAMES[k] for k in order[:2]} | RELEASED_NAMES | {k: THESIS_NAMES[k] for k in order[2:]}
    return baseline_tables(runs, benchmark, names, EXTRA_NAMES)


RELEASED_RUNS = "03_released_runs"  # notebook 03 (paper): RouteLLM's released routers, one row per benchmark


def with_released(runs: pd.DataFrame, out_dir) -> pd.DataFrame:
    """Tables 1-2's runs plus the released routers' runs (``RELEASED_RUNS``) when notebook 03 scored
    any (``paper``); otherwise ``runs`` itself, unchanged (offline: the table is empty)."""
    path = Path(out_dir) / "results" / f"{RELEASED_RUNS}.csv"
    try:
        rel = pd.read_csv(path)
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return runs
    return pd.concat([runs, rel], ignore_index=True) if len(rel) else runs


def released_beside_published(table: pd.DataFrame, benchmark: str) -> pd.DataFrame:
    """The released-checkpoint rows of a Table 1 / 2 beside RouteLLM's published numbers for the
    same training data, D_arena + D_judge (the ``*_gpt4_augmented`` checkpoints). RouteLLM published
    them for GSM8K only (its MMLU table has D_arena and D_arena + D_gold): there the published
    columns stay empty and ``published_training_data`` says so. Empty when no released row exists."""
    rel = table[table.model.isin(RELEASED_NAMES.values())][["model", *METRICS]]
    rl = loading.load_reference("routellm_paper_tables")
    rl = rl[(rl.benchmark == benchmark) & (rl.training_data == "D_arena+D_judge")]
    display = {v: k for k, v in RELEASED_PAPER_NAME_OF.items()}
    out = compare_with_published(rel, rl.assign(model=rl.router.map(display)), label="routellm")
    out.insert(1, "published_training_data", "D_arena+D_judge" if len(rl) else
               f"none published for {benchmark} (RouteLLM's table: D_arena, D_arena+D_gold)")
    return out


def versus_thesis(table: pd.DataFrame, table_no: int) -> pd.DataFrame:
    """Rows of one thesis table beside ours (models the thesis does not list are left out)."""
    th = loading.load_reference("paper_tables").query("table == @table_no")
    th = th.assign(model=th.model.replace(published_display(table.model)))
    return compare_with_published(table[["model", *METRICS]], th, label="thesis", how="inner")


def plot_curves_from_frame(cf: pd.DataFrame, evals: dict, path) -> None:
    import matplotlib.pyplot as plt  # heavy optional package: imported only when this runs

    fig, axes = plt.subplots(2, len(evals), figsize=(6.5 * len(evals), 9), squeeze=False)
    for j, (bench, ev) in enumerate(evals.items()):
        curves = {r: g for r, g in cf[cf.benchmark == bench].groupby("router", sort=False)}
        for i, pgr in enumerate((False, True)):
            plots.routing_curves(curves, *accuracies(ev), bench.upper(), axes[i, j], pgr)
    plots.save(fig, path)
