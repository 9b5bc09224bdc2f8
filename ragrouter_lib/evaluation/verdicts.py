"""Per-prompt evaluation scores and the verdict tables of Tables 1-6.

Thesis step: Tables 1-6's comparisons, each with a seed-aware paired bootstrap interval
(``evaluation.bootstrap``). One computation: a table row (``runs.router_runs``) and its interval's
point estimate are both ``bootstrap.point_metrics`` of the same stored scores, per seed, averaged
over seeds (Random included: one seeded draw of ``RandomRouter`` per seed); ``table_consistency``
lists every table number that differs from its interval's point estimate (tests run it on the
smoke series' results).

Storage: ``save_scores`` writes ``<out_dir>/results/scores/<benchmark>__<model_key>.npz`` with
``seeds`` (int, n_seeds) and ``scores`` (float64 as ``bootstrap.as_stored`` gives them, n_seeds x
n_prompts, prompts in the order of ``data.loading.load_eval``). Float32 storage rounded
neighbouring scores into ties that the seeded tie-break ordered differently from the table's
float64 scores (MMLU SW Ranking aligned, seed 2: CPT(80%) 78.25 vs 78.34).
"""
from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import loading
from ..routers import EXTRA_NAMES, OURS, THESIS_NAMES
from .bootstrap import METRIC_NAMES, N_BOOT, Bootstrap, as_stored, difference, router_intervals

_KEY = re.compile(r"^[A-Za-z0-9_.-]+$")


def scores_path(out_dir, benchmark: str, model_key: str) -> Path:
    """Where the per-prompt scores of one router on one benchmark live."""
    for name, val in (("benchmark", benchmark), ("model_key", model_key)):
        if not _KEY.match(str(val)) or "__" in str(val):
            raise ValueError(f"{name} {val!r}: use letters, digits, '_', '-', '.' only (no '__')")
    return Path(out_dir) / "results" / "scores" / f"{benchmark}__{model_key}.npz"


def save_scores(out_dir, benchmark: str, model_key: str, seeds, scores) -> Path:
    """Write one router's per-prompt strong-win scores (one row per seed); atomic replace."""
    seeds = np.asarray(list(seeds), dtype=np.int64).reshape(-1)
    scores = as_stored(scores)
    if scores.ndim == 1:
        scores = scores[None, :]
    if scores.ndim != 2 or scores.shape[0] != len(seeds):
        raise ValueError(f"scores shape {scores.shape} does not match {len(seeds)} seeds")
    if not np.all(np.isfinite(scores)):
        raise ValueError(f"{benchmark}/{model_key}: scores contain NaN or inf")
    path = scores_path(out_dir, benchmark, model_key)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.npz")
    os.close(fd)
    try:
        np.savez(tmp, seeds=seeds, scores=scores)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def load_scores(out_dir, benchmark: str, model_key: str) -> dict:
    """``{"seeds": int array, "scores": float64 (n_seeds, n_prompts)}``; FileNotFoundError if absent."""
    path = scores_path(out_dir, benchmark, model_key)
    if not path.exists():
        raise FileNotFoundError(f"no saved scores for {benchmark}/{model_key} at {path}")
    with np.load(path) as z:
        return {"seeds": z["seeds"].astype(int), "scores": as_stored(z["scores"])}


def saved_keys(out_dir, benchmark: str) -> list[str]:
    """Model keys with saved scores for ``benchmark``, sorted."""
    folder = Path(out_dir) / "results" / "scores"
    return sorted(p.name[len(benchmark) + 2:-4] for p in folder.glob(f"{benchmark}__*.npz"))


# ----------------------------------------------------------------------------- Tables 1-6
def ablation_key(table: int) -> str:
    """Model key under which the runs of Table ``table``'s "without" row save their scores."""
    return f"ragrouter_abl{int(table)}"


def _eval_rows(evals, benchmark: str):
    if evals is not None and benchmark in evals:
        return evals[benchmark]
    return loading.load_eval(benchmark)


def ours_key(have) -> str:
    """Our router's key among the saved ones (``routers.OURS``: offline "ragrouter", paper
    "ragrouter_llm"); the first of OURS when none is saved (the caller then names the missing file)."""
    return next((k for k in OURS if k in set(have)), OURS[0])


def comparison_verdicts(out_dir, benchmark: str, evals=None, ours: str | None = None,
                        names: dict | None = None, n_boot: int = N_BOOT, seed: int = 0,
                        boot: Bootstrap | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tables 1-2: intervals of every row with saved scores, and RAGRouter against each other row.

    ``names`` maps model keys to display names (default: the thesis rows, then the extra rows of
    ``routers``); keys without saved scores are skipped and listed in ``attrs["missing"]``.
    Returns (intervals, verdicts) with a ``benchmark`` column."""
    names = names or {**THESIS_NAMES, **EXTRA_NAMES}
    ev = _eval_rows(evals, benchmark)
    boot = boot or Bootstrap(ev.weak_correct.values, ev.strong_correct.values, n_boot, seed)
    have = set(saved_keys(out_dir, benchmark))
    ours = ours or ours_key(have)
    if ours not in have:
        raise FileNotFoundError(f"{benchmark}: no saved scores for {ours!r} under {out_dir}/results/scores")
    loaded = {k: load_scores(out_dir, benchmark, k) for k in names if k in have}
    intervals = pd.concat([router_intervals(boot, v["scores"], v["seeds"], names[k], k)
                           for k, v in loaded.items()], ignore_index=True)
    a = (names.get(ours, ours), loaded[ours]["scores"], loaded[ours]["seeds"], ours)
    diffs = [difference(boot, a, (names[k], v["scores"], v["seeds"], k))
             for k, v in loaded.items() if k != ours]
    verdicts = pd.concat(diffs, ignore_index=True) if diffs else pd.DataFrame()
    for df in (intervals, verdicts):
        df.insert(0, "benchmark", benchmark)
        df.attrs["missing"] = [k for k in names if k not in have]
    return intervals, verdicts


def ablation_verdicts(out_dir, evals=None, tables=(3, 4, 5, 6), benchmark: str = "mmlu",
                      full_key: str | None = None, n_boot: int = N_BOOT, seed: int = 0,
                      boot: Bootstrap | None = None, parts: dict | None = None) -> pd.DataFrame:
    """Tables 3-6: the full model against the model without each part (``ablation_key(t)``).

    ``parts``: {table: the thesis's name of the part} (notebook 07 passes
    ``{t: a.part for t, a in ablations.ABLATIONS.items()}``; this module sits before ``ablations``
    in the pipeline order, so it does not import it). Verdict words: ``bootstrap.WORDS["ablation"]``
    and "inconclusive" (``bootstrap.verdict_word``)."""
    parts = parts or {}
    ev = _eval_rows(evals, benchmark)
    boot = boot or Bootstrap(ev.weak_correct.values, ev.strong_correct.values, n_boot, seed)
    full_key = full_key or ours_key(saved_keys(out_dir, benchmark))
    full = load_scores(out_dir, benchmark, full_key)
    rows, missing = [], []
    for t in tables:
        key = ablation_key(t)
        try:
            abl = load_scores(out_dir, benchmark, key)
        except FileNotFoundError:
            missing.append(key)
            continue
        part = parts.get(t, f"the part of Table {t}")
        keep = np.isin(full["seeds"], abl["seeds"])  # paired: the full model on the ablation's seeds
        if sorted(full["seeds"][keep]) != sorted(abl["seeds"]):
            raise ValueError(f"Table {t}: ablation seeds {sorted(abl['seeds'])} are not all among the full "
                             f"model's {sorted(full['seeds'])}: the seed draws would not pair")
        d = difference(boot, (f"with {part}", full["scores"][keep], full["seeds"][keep],
                              f"{full_key}@{','.join(map(str, full['seeds'][keep]))}"),
                       (f"without {part}", abl["scores"], abl["seeds"], key), kind="ablation")
        d.insert(0, "table", t)
        d.insert(1, "part", part)
        rows.append(d)
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    out.insert(0, "benchmark", benchmark) if len(out) else None
    out.attrs["missing"] = missing
    return out


def against_reference(out_dir, benchmark: str, reference: str, evals=None, names: dict | None = None,
                      n_boot: int = N_BOOT, seed: int = 0, boot: Bootstrap | None = None) -> pd.DataFrame:
    """Every saved row of ``names`` (default: Tables 1-2's rows) minus the row ``reference`` (a model
    key, e.g. "random"), paired, with the verdict words of the rule (notebook 03's reading)."""
    names = names or {**THESIS_NAMES, **EXTRA_NAMES}
    ev = _eval_rows(evals, benchmark)
    boot = boot or Bootstrap(ev.weak_correct.values, ev.strong_correct.values, n_boot, seed)
    have = set(saved_keys(out_dir, benchmark))
    if reference not in have:
        raise FileNotFoundError(f"{benchmark}: no saved scores for {reference!r} under {out_dir}/results/scores")
    ref = load_scores(out_dir, benchmark, reference)
    b = (names.get(reference, reference), ref["scores"], ref["seeds"], reference)
    rows = [difference(boot, (names[k], v["scores"], v["seeds"], k), b)
            for k in names if k in have and k != reference for v in [load_scores(out_dir, benchmark, k)]]
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    out.insert(0, "benchmark", benchmark) if len(out) else None
    return out


def tables_1_2(out_dir, evals=None, benchmarks=("mmlu", "gsm8k"), n_boot: int = N_BOOT, seed: int = 0,
               save: bool = True, log=print) -> dict:
    """Notebook 06: intervals of every row and RAGRouter's verdict against each row, both benchmarks;
    written (when ``save``) to ``<out_dir>/results/intervals.csv`` and ``verdicts_tables_1_2.csv``."""
    t0 = time.time()
    ints, comps = [], []
    for bench in benchmarks:
        i, c = comparison_verdicts(out_dir, bench, evals, n_boot=n_boot, seed=seed)
        ints.append(i)
        comps.append(c)
        if i.attrs["missing"]:
            log(f"{bench}: no saved scores for {', '.join(i.attrs['missing'])} (rows left out)")
    out = {"intervals": pd.concat(ints, ignore_index=True),
           "verdicts_tables_1_2": pd.concat(comps, ignore_index=True)}
    log(f"paired bootstrap: {n_boot} two-level resamples (seeds, then prompts), {len(out['intervals']) // 3} router rows, "
        f"{time.time() - t0:.1f} s")
    return _save(out, out_dir, save, log)


def tables_3_6(out_dir, evals=None, parts: dict | None = None, n_boot: int = N_BOOT, seed: int = 0,
               save: bool = True, log=print) -> dict:
    """Notebook 07: the full model against each ablation (MMLU); ``verdicts_tables_3_6.csv``."""
    t0 = time.time()
    a = ablation_verdicts(out_dir, evals, n_boot=n_boot, seed=seed, parts=parts)
    if a.attrs["missing"]:
        log(f"mmlu: no saved scores for {', '.join(a.attrs['missing'])} (ablations left out)")
    log(f"paired bootstrap: {n_boot} two-level resamples (seeds, then prompts), {len(a) // 3} ablations, {time.time() - t0:.1f} s")
    return _save({"verdicts_tables_3_6": a}, out_dir, save, log)


def _save(frames: dict, out_dir, save: bool, log) -> dict:
    if save:
        folder = Path(out_dir) / "results"
        folder.mkdir(parents=True, exist_ok=True)
        for name, df in frames.items():
            if len(df):
                df.to_csv(folder / f"{name}.csv", index=False)
                log(f"wrote results/{name}.csv ({len(df)} rows)")
    return frames


def all_verdicts(out_dir, evals=None, parts: dict | None = None, n_boot: int = N_BOOT, seed: int = 0,
                 save: bool = True, log=print) -> dict:
    """Tables 1-6 at once (``tables_1_2`` and ``tables_3_6``)."""
    return {**tables_1_2(out_dir, evals, n_boot=n_boot, seed=seed, save=save, log=log),
            **tables_3_6(out_dir, evals, parts, n_boot=n_boot, seed=seed, save=save, log=log)}


def verdict_table(verdicts: pd.DataFrame, sides=("ours", "against")) -> pd.DataFrame:
    """Display form: one row per comparison, per metric 'diff [lo, hi] verdict' (``sides``: the
    column names of model_a and model_b)."""
    if verdicts.empty:
        return verdicts
    idx = [c for c in ("benchmark", "table", "model_a", "model_b") if c in verdicts]
    cell = [f"{d:+.{2 if m != 'apgr' else 3}f} [{lo:+.{2 if m != 'apgr' else 3}f}, "
            f"{hi:+.{2 if m != 'apgr' else 3}f}] {v}"
            for d, lo, hi, m, v in zip(verdicts["diff"], verdicts.ci_low, verdicts.ci_high,
                                       verdicts.metric, verdicts.verdict)]
    wide = verdicts.assign(cell=cell).pivot_table(index=idx, columns="metric", values="cell",
                                                  aggfunc="first", sort=False)
    wide = wide[[m for m in METRIC_NAMES if m in wide]].rename(columns=METRIC_NAMES)
    return wide.reset_index().rename(columns={"model_a": sides[0], "model_b": sides[1]})


# ----------------------------------------------------------------------------- one computation
TABLE_BENCH = {"table1": "mmlu", "table2": "gsm8k", "03_baselines_mmlu": "mmlu", "03_baselines_gsm8k": "gsm8k"}


def _read(results: Path, name: str):
    path = results / f"{name}.csv"
    return pd.read_csv(path) if path.exists() and path.stat().st_size > 1 else None


def _same(a, b, atol: float) -> bool:
    a, b = float(a), float(b)
    return (np.isnan(a) and np.isnan(b)) or abs(a - b) <= atol


def table_consistency(out_dir, atol: float = 1e-9) -> list[str]:
    """Every number of Tables 1-6 (and notebooks 01/03's interim rows) that differs from its
    interval's point estimate: rows of ``table1``/``table2``/``03_baselines_*`` and notebook 01's
    Random against ``intervals.csv`` (value, seed sd, seeds), rows of ``table3``-``table6``
    against ``verdicts_tables_3_6.csv`` (the with / without means). Rows without saved scores have
    no interval and are not compared; a table with no compared row is listed. Empty: consistent."""
    res, out = Path(out_dir) / "results", []
    ints = _read(res, "intervals")
    if ints is not None:
        point = ints.set_index(["benchmark", "model", "metric"]).sort_index()
        tabs = [(n, b, _read(res, n)) for n, b in TABLE_BENCH.items()]
        r01 = _read(res, "01_random_oracle")
        if r01 is not None:
            tabs += [("01_random_oracle", b, g) for b, g in r01[r01.model == THESIS_NAMES["random"]].groupby("benchmark")]
        for name, bench, tab in tabs:
            if tab is None:
                continue
            n = 0
            for _, r in tab.iterrows():
                for m in METRIC_NAMES:
                    if (bench, r.model, m) not in point.index:
                        continue
                    p, n = point.loc[(bench, r.model, m)], n + 1
                    for col, ref in ((m, "value"), (f"{m}_sd", "seed_sd"), ("n_seeds", "n_seeds")):
                        if col in r and not _same(r[col], p[ref], atol):
                            out.append(f"{name} {bench} {r.model!r} {col} {r[col]!r} != intervals {ref} {p[ref]!r}")
            if n == 0:
                out.append(f"{name}: no row has an interval in intervals.csv")
    v36 = _read(res, "verdicts_tables_3_6")
    for t in (3, 4, 5, 6):
        tab = _read(res, f"table{t}")
        if tab is None or v36 is None:
            continue
        ver = v36[v36.table == t].set_index("metric")
        if ver.empty:
            out.append(f"table{t}: no row in verdicts_tables_3_6.csv")
            continue
        for _, r in tab.iterrows():
            side = "a" if r.model == ver.model_a.iloc[0] else "b" if r.model == ver.model_b.iloc[0] else None
            if side is None:
                out.append(f"table{t}: row {r.model!r} is neither side of its verdict")
                continue
            out += [f"table{t} {r.model!r} {m} {r[m]!r} != verdicts_tables_3_6 {side} {ver.loc[m, side]!r}"
                    for m in METRIC_NAMES if not _same(r[m], ver.loc[m, side], atol)]
    return out
