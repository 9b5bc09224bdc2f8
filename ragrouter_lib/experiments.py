"""Evaluation loops shared by the notebooks: every router's scores go through the same code.

Thesis step: the evaluation half of Tables 1-6 (RouteLLM's protocol on MMLU and GSM8K).
A "row" of a results table is the mean and standard deviation over seeds of CPT(50%), CPT(80%)
and APGR; the per-seed values are kept so the spread can be shown, never a best seed picked.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import metrics

# RouteLLM's published evaluation sizes and accuracies after decontamination (MISSION.md).
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
    df = pd.DataFrame(rows)
    extra = [c for c in df.columns if c not in cols]
    return df[cols + extra]


def save_tables(cfg, **tables: pd.DataFrame) -> None:
    """Write each table to outputs/results/<name>.csv and say where."""
    for name, df in tables.items():
        path = cfg.path("results", f"{name}.csv")
        df.to_csv(path, index=False)
        print(f"wrote {path.relative_to(cfg.out.parent) if path.is_relative_to(cfg.out.parent) else path}"
              f" ({len(df)} rows)")


def compare_with_published(table: pd.DataFrame, published: pd.DataFrame, on="model") -> pd.DataFrame:
    """Our numbers beside published ones, with the differences (ours - published)."""
    on = [on] if isinstance(on, str) else list(on)
    pub = published.rename(columns={m: f"{m}_published" for m in METRICS})
    out = table.merge(pub[on + [f"{m}_published" for m in METRICS]], on=on, how="left")
    for m in METRICS:
        out[f"{m}_diff"] = out[m] - out[f"{m}_published"]
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
