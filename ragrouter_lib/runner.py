"""Batch re-execution of the notebook series with papermill (what ``run_all.sh`` calls).

The notebooks are written as code: ``notebooks/NN_name.py`` in jupytext's percent format
(``# %%`` starts a code cell, ``# %% [markdown]`` a markdown cell, ``# %% tags=["parameters"]`` the
papermill parameters cell). Those files are the only source; no ``.ipynb`` is committed in
``notebooks/``. For each one the runner writes a fresh ``.ipynb`` with jupytext into a temporary
folder and executes that with papermill.

``python -m ragrouter_lib.runner PROFILE [--out-dir DIR] [--data-seed N] [--set NAME=VALUE ...]
[--only NN ...]`` executes the series in order into ``<out-dir>/executed/NN_name.ipynb``, injecting
``profile``, ``data_seed``, ``out_dir`` and ``overrides`` (the ``--set`` values, JSON or a string:
``--set k=20 --set augment=false``, passed to every notebook's ``rr.setup``) into each notebook's
tagged ``parameters`` cell; it stops with a non-zero exit at the first failing
notebook and writes ``<out-dir>/results/run_summary.json`` (profile, commit, start/end time, wall
seconds per notebook and in total), also when a notebook failed. Paths papermill records in the
executed notebook's metadata are stored relative to the repository root.

Working on a notebook interactively: with ``jupytext`` installed (it is pinned, and it is a
JupyterLab extension), JupyterLab opens ``notebooks/NN_name.py`` as a notebook (right-click ->
Open With -> Notebook); edits are saved back to the ``.py``. Without JupyterLab,
``jupytext --to ipynb notebooks/NN_name.py -o /tmp/NN_name.ipynb`` gives a notebook to open and
``jupytext --to py:percent`` converts it back. Keep each code cell short (a test allows at most
10 lines and no ``def``/``class``): logic belongs in ``ragrouter_lib``. Lint with
``ruff check notebooks``.

The summary also says whether the feature cache was empty at the start (a cold run) and, for the
``offline`` profile, checks the time budget: cold <= 100 minutes, warm <= 15 minutes on the
2-core reference machine; a copy is kept as ``run_summary_cold.json`` / ``run_summary_warm.json``
so one run does not overwrite the other's record.

Default output folders (``config.DEFAULT_OUT``): ``outputs`` for ``offline`` (the committed logs),
``outputs/smoke`` and ``outputs/paper`` for the other profiles, so a smoke run never overwrites the
delivered logs. A non-default run (another ``--data-seed``, or a ``--set`` that changes a value)
writes to its own folder ``outputs/runs/<profile>-<hash of the changes>/`` (``config.run_out_dir``,
printed), never into a default one.

``python -m ragrouter_lib.runner paper --dry-run [--only 02 03 ...]``: the ``paper`` profile's code
paths on CPU with no Hub (issue 15): tiny randomly initialised stand-ins of every Hub model and tiny
synthetic Hub datasets are written to a temporary folder (``hub.stand_ins``), env
``RAGROUTER_PAPER_STANDINS`` points the kernels at it (``config.setup`` then uses the tiny sizes of
``config.PAPER_DRY_RUN``), the cache root is a temporary folder unless ``RAGROUTER_CACHE`` is set
(stand-in results never enter ``outputs/cache``), and the executed notebooks go to
``outputs/paper/dry-run`` (git-ignored). Its numbers are meaningless by design. Without
``--dry-run``, ``paper`` stops with one line before any notebook when torch sees no CUDA
(``config.cuda_decision``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from .core.config import DEFAULT_OUT, PROFILES, ROOT, CudaMissing, cuda_decision, git_commit, resolve, run_out_dir
from .data import hub
from .features import gemma_lm

NOTEBOOKS = ROOT / "notebooks"
KERNEL = "ragrouter"
DRY_RUN_OUT = "outputs/paper/dry-run"  # under the git-ignored outputs/paper/
BUDGET_MINUTES = {"cold": 100, "warm": 15}  # offline profile, whole series (issue 6)
# Environment of the kernels the runner starts: a progress bar has no use in a stored log, and
# the ones transformers / huggingface_hub draw while loading weights leave \r fragments there.
KERNEL_ENV = {"HF_HUB_DISABLE_PROGRESS_BARS": "1"}


def cache_state(root: Path = ROOT) -> str:
    """'cold' when no per-text feature has been cached yet, else 'warm'."""
    return "warm" if any((root / "outputs" / "cache" / "features").glob("*/*.npz")) else "cold"


def notebooks(only=None) -> list[Path]:
    """The notebook sources ``notebooks/NN_*.py`` in order (``only``: two-digit numbers to keep)."""
    nbs = sorted(p for p in NOTEBOOKS.glob("[0-9][0-9]_*.py"))
    if only:
        nbs = [p for p in nbs if p.name[:2] in only]
    return nbs


def to_ipynb(src: Path, dst: Path) -> Path:
    """Write the jupytext percent-format source ``src`` as the notebook ``dst`` (no outputs)."""
    import jupytext  # heavy optional package: imported only when this runs

    nb = jupytext.read(src)
    nb.metadata.pop("jupytext", None)
    nb.metadata.setdefault("language_info", {"name": "python"})
    for i, cell in enumerate(nb.cells):
        cell.id = f"{src.name[:2]}-{i:02d}"  # stable ids, as the committed notebooks had
    jupytext.write(nb, dst, fmt="ipynb")
    return dst


def _relative(path: str) -> str:
    """``path`` relative to the repository root when it lies inside it, else its file name."""
    p = Path(path)
    try:
        return p.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return p.name


def _strip_machine_paths(executed: Path, source: Path) -> None:
    """Record papermill's input/output paths relative to the repository (no machine paths)."""
    import nbformat  # heavy optional package: imported only when this runs

    nb = nbformat.read(executed, as_version=4)
    meta = nb.metadata.get("papermill")
    if not meta:
        return
    meta["input_path"] = _relative(str(source))
    meta["output_path"] = _relative(str(executed))
    tmp = executed.with_name(executed.name + ".tmp")
    nbformat.write(nb, tmp)
    tmp.replace(executed)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def parse_sets(items) -> dict:
    """``["k=20", "augment=false", "router_seeds=[0]"]`` -> {"k": 20, "augment": False, "router_seeds": [0]}
    (each value read as JSON, else kept as a string)."""
    out = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"--set expects NAME=VALUE (got {item!r})")
        try:
            out[name] = json.loads(value)
        except json.JSONDecodeError:
            out[name] = value
    return out


def prepare_weights(params: dict) -> list[str]:
    """Convert, before the first notebook, the packaged weights the run's notebooks would otherwise
    convert on first use: Gemma-3-270M when the profile measures or checks with it (``gemma_rows``,
    ``gemma_checks``). A conversion prints progress bars and its target folder; here they go to the
    terminal, not into an executed log (a cold offline run once printed both inside notebook 04).
    Returns the names prepared.

    >>> prepare_weights({"gemma_rows": 0, "gemma_checks": False})
    []
    """
    if not (params.get("gemma_rows") or params.get("gemma_checks")):
        return []
    gemma_lm.gemma_path()
    return ["gemma"]


def run(profile: str, out_dir: str | None = None, data_seed: int = 0, only=None,
        kernel: str = KERNEL, overrides: dict | None = None) -> dict:
    import papermill as pm  # heavy optional package: imported only when this runs

    if profile not in PROFILES:
        raise SystemExit(f"unknown profile {profile!r}; choose one of {sorted(PROFILES)}")
    cuda_decision(profile)  # paper without CUDA and not a dry run: CudaMissing before any notebook starts
    overrides = dict(overrides or {})
    chosen = run_out_dir(profile, out_dir, data_seed, overrides)  # checks the override names too
    if chosen != (out_dir or DEFAULT_OUT[profile]):
        print(f"non-default run (data_seed={data_seed}, overrides={overrides}): writing to {chosen}/", flush=True)
    out_dir = chosen
    out = Path(out_dir) if Path(out_dir).is_absolute() else ROOT / out_dir
    (out / "executed").mkdir(parents=True, exist_ok=True)
    (out / "results").mkdir(parents=True, exist_ok=True)
    state = cache_state()
    prepare_weights(resolve(profile, overrides))
    summary = {"profile": profile, "data_seed": data_seed, "overrides": overrides, "commit": git_commit(), "start": _now(),
               "cache_at_start": state, "notebooks": {}, "status": "running"}
    t_all = time.time()
    build = tempfile.TemporaryDirectory(prefix="ragrouter-notebooks-")  # generated .ipynb inputs
    saved_env = {k: os.environ.get(k) for k in KERNEL_ENV}
    os.environ.update(KERNEL_ENV)  # inherited by the kernels papermill starts
    for src in notebooks(only):
        name = src.stem + ".ipynb"
        executed = out / "executed" / name
        t0 = time.time()
        print(f"[{_now()}] {name} ({profile})", flush=True)
        try:
            nb = to_ipynb(src, Path(build.name) / name)
            pm.execute_notebook(str(nb), str(executed), kernel_name=kernel,
                                parameters={"profile": profile, "data_seed": data_seed, "out_dir": str(out_dir),
                                            "overrides": overrides},
                                cwd=str(NOTEBOOKS), progress_bar=False, log_output=False)
            status = "ok"
        except Exception as e:  # papermill raises PapermillExecutionError with the cell's traceback
            status = f"failed: {type(e).__name__}"
            print(e, file=sys.stderr)
        if executed.exists():
            _strip_machine_paths(executed, src)
        summary["notebooks"][name] = {"seconds": round(time.time() - t0, 1), "status": status}
        print(f"    {status} in {time.time() - t0:.0f}s", flush=True)
        if status != "ok":
            break
    build.cleanup()
    for k, v in saved_env.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
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


def dry_run(out_dir: str | None = None, data_seed: int = 0, only=None, kernel: str = KERNEL,
            overrides: dict | None = None) -> dict:
    """``run("paper")`` on stand-ins: see the module docstring. The stand-ins (and the cache, unless
    ``RAGROUTER_CACHE`` is set) live in temporary folders removed afterwards; env is restored."""
    work = tempfile.TemporaryDirectory(prefix="ragrouter-paper-dry-")
    env = {hub.STANDINS_ENV: str(hub.stand_ins(Path(work.name) / "standins")),
           "RAGROUTER_CACHE": os.environ.get("RAGROUTER_CACHE") or str(Path(work.name) / "cache"),
           "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    print(f"paper dry run: stand-ins {env[hub.STANDINS_ENV]}, cache {env['RAGROUTER_CACHE']}", flush=True)
    try:
        summary = run("paper", out_dir or DRY_RUN_OUT, data_seed, only, kernel, overrides)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        work.cleanup()
    summary["dry_run"] = True
    return summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("profile", nargs="?", default="offline", choices=sorted(PROFILES))
    ap.add_argument("--out-dir")
    ap.add_argument("--data-seed", "--seed", dest="data_seed", type=int, default=0,
                    help="pool/evaluation subsamples and notebook 04's split (trained routers: router_seeds)")
    ap.add_argument("--set", action="append", metavar="NAME=VALUE", default=[],
                    help="override a profile parameter or RAGRouter setting, e.g. --set k=20 (repeatable)")
    ap.add_argument("--only", nargs="*", help="two-digit notebook numbers to run")
    ap.add_argument("--dry-run", action="store_true",
                    help="paper only: tiny stand-ins for every Hub model/dataset, tiny sizes, no network")
    args = ap.parse_args(argv)
    if args.dry_run and args.profile != "paper":
        ap.error("--dry-run is for the paper profile")
    sets = parse_sets(args.set)
    try:
        summary = (dry_run(args.out_dir, args.data_seed, args.only, overrides=sets) if args.dry_run
                   else run(args.profile, args.out_dir, args.data_seed, args.only, overrides=sets))
    except CudaMissing as e:
        raise SystemExit(str(e)) from None  # one line on stderr, exit status 1
    print(json.dumps({k: summary[k] for k in ("profile", "status", "total_seconds")}))
    return 0 if summary["status"] == "ok" else 1


if __name__ == "__main__":
    raise SystemExit(main())
