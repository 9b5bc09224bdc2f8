"""The result tables' names and the one call that reads them (notebooks 06 and 07 use it).

``run_summary``: the last ``run_all.sh`` invocation's record (times, budget, commit).
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..core.config import ROOT

RESULTS = ROOT / "outputs" / "results"  # the offline profile's result tables


BASELINE_RUNS = "03_per_seed"  # notebook 03: one row per baseline router, benchmark and seed
BASELINE_CURVES = "03_curves"  # notebook 03: routing curves, seed 0
RAGROUTER_RUNS = "05_ragrouter_per_seed"  # notebook 05: one row per RAGRouter benchmark and seed
RAGROUTER_CURVES = "05_curves"  # notebook 05: routing curves, seed 0
SMALL_LLM_RUNS = "05_small_llm_per_seed"  # notebook 05: the LLM final-model form at CPU scale (may be empty)
ALL_RUNS = (BASELINE_RUNS, RAGROUTER_RUNS, SMALL_LLM_RUNS)
ALL_CURVES = (BASELINE_CURVES, RAGROUTER_CURVES)


def load_result(out_dir, name: str | tuple[str, ...] | list[str]) -> pd.DataFrame:
    """The result table ``<out_dir>/results/<name>.csv``; several names give their rows stacked.

    >>> load_result("/nonexistent", "03_per_seed")
    Traceback (most recent call last):
    ...
    FileNotFoundError: result table /nonexistent/results/03_per_seed.csv is missing: run notebook 03 first
    """
    names = [name] if isinstance(name, str) else list(name)
    frames = []
    for n in names:
        path = Path(out_dir) / "results" / f"{n}.csv"
        if not path.exists():
            raise FileNotFoundError(f"result table {path} is missing: run notebook {n[:2]} first")
        frames.append(pd.read_csv(path))
    return pd.concat([f for f in frames if len(f)] or frames, ignore_index=True)


def run_summary(results=None, state: str | None = None) -> dict | None:
    """The last ``run_all.sh`` invocation's record (``results/run_summary.json``; with ``state``
    "cold"/"warm" the last offline run that started so, ``run_summary_<state>.json``), None if absent."""
    f = Path(results or RESULTS) / (f"run_summary_{state}.json" if state else "run_summary.json")
    return json.loads(f.read_text()) if f.exists() else None
