"""Batch re-execution of the notebook series with papermill (what ``run_all.sh`` calls).

``python -m ragrouter_lib.runner PROFILE [--out-dir DIR] [--only NN ...]`` executes
``notebooks/NN_*.ipynb`` in order into ``<out-dir>/executed/``, injecting ``profile``, ``seed`` and
``out_dir`` into each notebook's tagged ``parameters`` cell; it stops with a non-zero exit at the
first failing notebook and writes ``<out-dir>/results/run_summary.json`` (profile, commit,
start/end time, wall seconds per notebook and in total), also when a notebook failed.

The summary also says whether the feature cache was empty at the start (a cold run) and, for the
``offline`` profile, checks the time budget: cold <= 100 minutes, warm <= 15 minutes on the
2-core reference machine; a copy is kept as ``run_summary_cold.json`` / ``run_summary_warm.json``
so one run does not overwrite the other's record.

Default output folders: ``outputs`` for ``offline`` (the committed logs), ``outputs/smoke`` and
``outputs/paper`` for the other profiles, so a smoke run never overwrites the delivered logs.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from .config import PROFILES, ROOT, git_commit

NOTEBOOKS = ROOT / "notebooks"
KERNEL = "ragrouter"
DEFAULT_OUT = {"offline": "outputs", "smoke": "outputs/smoke", "paper": "outputs/paper"}
BUDGET_MINUTES = {"cold": 100, "warm": 15}  # offline profile, whole series (issue 6)


def cache_state(root: Path = ROOT) -> str:
    """'cold' when no per-text feature has been cached yet, else 'warm'."""
    return "warm" if any((root / "outputs" / "cache" / "features").glob("*/*.npz")) else "cold"


def notebooks(only=None) -> list[Path]:
    nbs = sorted(p for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if only:
        nbs = [p for p in nbs if p.name[:2] in only]
    return nbs


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def run(profile: str, out_dir: str | None = None, seed: int = 0, only=None,
        kernel: str = KERNEL) -> dict:
    import papermill as pm

    if profile not in PROFILES:
        raise SystemExit(f"unknown profile {profile!r}; choose one of {sorted(PROFILES)}")
    out_dir = out_dir or DEFAULT_OUT[profile]
    out = Path(out_dir) if Path(out_dir).is_absolute() else ROOT / out_dir
    (out / "executed").mkdir(parents=True, exist_ok=True)
    (out / "results").mkdir(parents=True, exist_ok=True)
    state = cache_state()
    summary = {"profile": profile, "seed": seed, "commit": git_commit(), "start": _now(),
               "cache_at_start": state, "notebooks": {}, "status": "running"}
    t_all = time.time()
    for nb in notebooks(only):
        t0 = time.time()
        print(f"[{_now()}] {nb.name} ({profile})", flush=True)
        try:
            pm.execute_notebook(str(nb), str(out / "executed" / nb.name), kernel_name=kernel,
                                parameters={"profile": profile, "seed": seed, "out_dir": str(out_dir)},
                                cwd=str(NOTEBOOKS), progress_bar=False, log_output=False)
            status = "ok"
        except Exception as e:  # papermill raises PapermillExecutionError with the cell's traceback
            status = f"failed: {type(e).__name__}"
            print(e, file=sys.stderr)
        summary["notebooks"][nb.name] = {"seconds": round(time.time() - t0, 1), "status": status}
        print(f"    {status} in {time.time() - t0:.0f}s", flush=True)
        if status != "ok":
            break
    summary.update(end=_now(), total_seconds=round(time.time() - t_all, 1),
                   status="ok" if all(v["status"] == "ok" for v in summary["notebooks"].values())
                   else "failed")
    if profile == "offline" and not only:
        summary["budget_minutes"] = BUDGET_MINUTES[state]
        summary["within_budget"] = summary["status"] == "ok" and summary["total_seconds"] <= 60 * BUDGET_MINUTES[state]
    text = json.dumps(summary, indent=2) + "\n"
    (out / "results" / "run_summary.json").write_text(text)
    if profile == "offline" and not only:
        (out / "results" / f"run_summary_{state}.json").write_text(text)
    return summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("profile", nargs="?", default="offline", choices=sorted(PROFILES))
    ap.add_argument("--out-dir")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", nargs="*", help="two-digit notebook numbers to run")
    args = ap.parse_args(argv)
    summary = run(args.profile, args.out_dir, args.seed, args.only)
    print(json.dumps({k: summary[k] for k in ("profile", "status", "total_seconds")}))
    return 0 if summary["status"] == "ok" else 1


if __name__ == "__main__":
    raise SystemExit(main())
