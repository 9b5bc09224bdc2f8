"""Routing metrics of RouteLLM (Ong et al., 2024), re-implemented as pure functions on arrays.

Thesis step: the evaluation protocol of every table (CPT(50%), CPT(80%), APGR). RouteLLM's own
``evaluate.py`` crashes before printing APGR, so nothing is imported from it.

Protocol, for strong-win scores ``s`` of n prompts:
1. cut the scores into 10 quantile bins (``pandas.qcut(.., 10, retbins=True)``) -> 11 edges;
   ties are broken deterministically by a seeded permutation (an infinitesimal jitter: the
   scores are replaced by their tie-broken ranks, which leaves every non-tied order unchanged);
2. at each edge route to the strong model when score >= edge (the last edge: score > edge), so the
   curve runs from 100% strong calls to 0%;
3. accuracy at a point = mean over prompts of the routed model's 0/1 correctness.

With weak accuracy w and strong accuracy s:
- CPT(x%): percent strong calls needed to reach accuracy w + x(s - w), linearly interpolated
  between the curve's points sorted by percent strong calls (accuracy need not be monotonic;
  the first crossing counts);
- PGR(acc) = (acc - w) / (s - w);  APGR = (AUC - w) / (s - w), AUC = trapezoid area of accuracy
  over the strong-call fraction in [0, 1].

Worked example (4 prompts, weak right on the first two only, strong right on all):

>>> weak = np.array([1, 1, 0, 0], bool); strong = np.ones(4, bool)
>>> c = routing_curve(np.array([0.1, 0.2, 0.9, 0.8]), weak, strong)
>>> c[["pct_strong", "accuracy"]].iloc[[0, -1]].values.tolist()
[[100.0, 1.0], [0.0, 0.5]]
>>> round(cpt(c, 0.5, 0.5, 1.0), 2), round(apgr(c, 0.5, 1.0), 3)
(25.0, 0.75)
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import os
import sys
import tempfile
import traceback
import types
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.seeding import step_seed

N_BINS = 10


def tie_broken_ranks(scores: np.ndarray, seed: int = 0) -> np.ndarray:
    """Ranks 0..n-1 of ``scores``; equal scores are ordered by a seeded random permutation."""
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 1 or len(scores) == 0:
        raise ValueError("scores must be a non-empty 1-d array")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores contain NaN or inf")
    jitter = np.random.default_rng(step_seed(seed, "tie-break")).permutation(len(scores))
    order = np.lexsort((jitter, scores))
    ranks = np.empty(len(scores), dtype=float)
    ranks[order] = np.arange(len(scores))
    return ranks


def routing_curve(scores, weak_correct, strong_correct, n_bins: int = N_BINS,
                  seed: int = 0) -> pd.DataFrame:
    """The (percent strong calls, accuracy) points of a router, one per quantile edge.

    Returns columns ``edge`` (index of the quantile edge), ``threshold`` (the score at that edge),
    ``pct_strong`` (0-100) and ``accuracy`` (0-1), in edge order (100% strong first).
    """
    weak = np.asarray(weak_correct, dtype=bool)
    strong = np.asarray(strong_correct, dtype=bool)
    scores = np.asarray(scores, dtype=float)
    if not (len(scores) == len(weak) == len(strong)):
        raise ValueError(f"length mismatch: {len(scores)} scores, {len(weak)} weak, {len(strong)} strong")
    ranks = tie_broken_ranks(scores, seed)
    _, edges = pd.qcut(ranks, n_bins, retbins=True)
    sorted_scores = np.sort(scores)
    rows = []
    for i, edge in enumerate(edges):
        to_strong = ranks > edge if i == len(edges) - 1 else ranks >= edge
        acc = np.where(to_strong, strong, weak).mean()
        thr = sorted_scores[min(int(np.ceil(edge)), len(scores) - 1)]
        rows.append((i, thr, 100.0 * to_strong.mean(), float(acc)))
    return pd.DataFrame(rows, columns=["edge", "threshold", "pct_strong", "accuracy"])


def _sorted_points(curve: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    c = curve.sort_values(["pct_strong", "accuracy"], kind="mergesort")
    return c["pct_strong"].to_numpy(float), c["accuracy"].to_numpy(float)


def cpt(curve: pd.DataFrame, x: float, weak_acc: float, strong_acc: float) -> float:
    """Call-performance threshold: percent strong calls needed to reach w + x(s - w)."""
    target = weak_acc + x * (strong_acc - weak_acc)
    pct, acc = _sorted_points(curve)
    for i in range(len(pct)):
        if acc[i] >= target - 1e-12:
            if i == 0:
                return float(pct[0])
            p0, p1, a0, a1 = pct[i - 1], pct[i], acc[i - 1], acc[i]
            return float(p0 + (target - a0) * (p1 - p0) / (a1 - a0))
    return float("nan")


def pgr(accuracy, weak_acc: float, strong_acc: float):
    """Performance gap recovered at one or several accuracies."""
    return (np.asarray(accuracy, dtype=float) - weak_acc) / (strong_acc - weak_acc)


def auc(curve: pd.DataFrame) -> float:
    """Trapezoid area of accuracy over the strong-call fraction."""
    pct, acc = _sorted_points(curve)
    return float(np.trapezoid(acc, pct / 100.0))


def apgr(curve: pd.DataFrame, weak_acc: float, strong_acc: float) -> float:
    """Average performance gap recovered: (AUC - w) / (s - w)."""
    return float((auc(curve) - weak_acc) / (strong_acc - weak_acc))


def summarize(curve: pd.DataFrame, weak_acc: float, strong_acc: float) -> dict:
    """The three numbers every table reports: CPT(50%), CPT(80%) in percent, APGR as a fraction."""
    return {"cpt50": cpt(curve, 0.5, weak_acc, strong_acc),
            "cpt80": cpt(curve, 0.8, weak_acc, strong_acc),
            "apgr": apgr(curve, weak_acc, strong_acc)}


def oracle_scores(weak_correct, strong_correct) -> np.ndarray:
    """Strong-win score of the oracle: 1 exactly where only the strong model is right."""
    return (np.asarray(strong_correct, bool) & ~np.asarray(weak_correct, bool)).astype(float)


def random_curve(weak_correct, strong_correct, n_runs: int = 10, seed: int = 0,
                 n_bins: int = N_BINS) -> pd.DataFrame:
    """Random router: the pointwise mean of ``n_runs`` seeded uniform-score curves."""
    rng = np.random.default_rng(step_seed(seed, "random-curve"))
    curves = [routing_curve(rng.random(len(weak_correct)), weak_correct, strong_correct,
                            n_bins=n_bins, seed=int(rng.integers(2**31)))
              for _ in range(n_runs)]
    out = curves[0].copy()
    for col in ("pct_strong", "accuracy", "threshold"):
        out[col] = np.mean([c[col].to_numpy() for c in curves], axis=0)
    return out


def routellm_reference(scores, weak_correct, strong_correct, num_results: int = N_BINS) -> dict:
    """CPT(50%), CPT(80%), APGR of ``scores`` computed by RouteLLM's own evaluation code.

    Runs the installed ``routellm`` package (0.2.0): ``evals.benchmarks.MMLU.evaluate`` (quantile
    thresholds, >= / > routing) on these rows, the loop of ``evals/evaluate.py``'s ``__main__`` for a
    deterministic router (copied: it cannot be called), then ``evals.evaluate.generate_results``,
    whose printed metrics table is captured. Patched only where it crashes, each patch listed in
    ``patches``: modules its imports need but the metric code never calls (``litellm``, ``openai``,
    ``pandarallel``) are stubbed when missing; ``np.trapz`` (removed in NumPy 2.4) is aliased to
    ``np.trapezoid`` for the call; ``generate_results`` gets the model pair, not the strong model's
    name that ``evaluate.py`` passes it. ``crash`` is the traceback of the call exactly as
    ``evaluate.py`` makes it (machine paths shortened). Scores with tied quantile edges make RouteLLM's
    ``pd.qcut`` raise; that error is re-raised. Returns dict(cpt50, cpt80, apgr, curve, crash, patches).
    """
    import matplotlib.pyplot as plt  # heavy optional package: imported only when this runs

    patches, stubbed = [], []
    stubs = {"litellm": {"acompletion": None, "completion": None},
             "openai": {"OpenAI": lambda *a, **k: None},
             "pandarallel": {"pandarallel": types.SimpleNamespace(initialize=lambda **k: None)}}
    for name, attrs in stubs.items():
        if name not in sys.modules and importlib.util.find_spec(name) is None:
            sys.modules[name] = types.ModuleType(name)
            sys.modules[name].__dict__.update(attrs)
            stubbed.append(name)
    if stubbed:
        patches.append(f"stub modules {', '.join(stubbed)} (not installed; the metric code never calls them)")
    had_trapz = hasattr(np, "trapz")
    if not had_trapz:
        np.trapz = np.trapezoid
        patches.append("np.trapz -> np.trapezoid (np.trapz was removed in NumPy 2.4)")
    os.environ.setdefault("OPENAI_API_KEY", "unused")  # routellm's import reads it
    figs = set(plt.get_fignums())
    try:
        with warnings.catch_warnings():  # routellm's pydantic-v1 validators warn on import
            warnings.simplefilter("ignore", DeprecationWarning)
            bench_mod = importlib.import_module("routellm.evals.benchmarks")
            eval_mod = importlib.import_module("routellm.evals.evaluate")
        pair = importlib.import_module("routellm.controller").ModelPair(
            strong="gpt-4-1106-preview", weak="mistralai/Mixtral-8x7B-Instruct-v0.1")
        bench = bench_mod.MMLU.__new__(bench_mod.MMLU)  # its __init__ reads its own file tree
        bench.routed_pair, bench.overwrite_cache, bench.cache_path = pair, [], os.devnull
        bench.all_data = pd.DataFrame({"prompt": np.arange(len(scores)),
                                       pair.strong: np.asarray(strong_correct, bool),
                                       pair.weak: np.asarray(weak_correct, bool)})
        bench.cache = {"ours": np.asarray(scores, dtype=float)}  # served as the router's cached win rates
        rows = [{"method": "ours", "threshold": t, "accuracy": acc,
                 "strong_percentage": counts[pair.strong] / total * 100}
                for t, acc, counts, total in bench.evaluate(None, "ours", num_results, False)]
        results = pd.DataFrame(rows)
        printed = []
        eval_mod.print = lambda *a, **k: printed.append(a)
        with tempfile.TemporaryDirectory() as out, contextlib.redirect_stdout(io.StringIO()):
            try:  # as evaluate.py's __main__ calls it
                eval_mod.generate_results(results, bench, "mmlu", pair.strong, out)
                crash = ""
            except Exception:
                crash = traceback.format_exc()
            patches.append("generate_results(..., routed_pair=ModelPair) instead of the strong model's name")
            eval_mod.generate_results(results, bench, "mmlu", pair, out)
        del eval_mod.print
    finally:
        if not had_trapz:
            del np.trapz
        for name in stubbed:
            sys.modules.pop(name, None)
        for name in [m for m in sys.modules if m == "routellm" or m.startswith("routellm.")]:
            if stubbed:  # do not leave routellm bound to stub modules
                sys.modules.pop(name)
        for n in set(plt.get_fignums()) - figs:
            plt.close(n)
    site = str(Path(importlib.util.find_spec("routellm").origin).parents[1])
    crash = crash.replace(site + os.sep, "").replace(str(Path(__file__).parents[2]) + os.sep, "")
    table = next(a[1] for a in printed if a and str(a[0]).startswith("Metrics"))
    row = table.iloc[0]
    return {"cpt50": float(str(row["50% qual"]).rstrip("%")), "cpt80": float(str(row["80% qual"]).rstrip("%")),
            "apgr": float(row["APGR"]), "curve": results, "crash": crash, "patches": patches}
