"""Profiles, the notebook setup call and the run's identity.

Every notebook starts with ``cfg = rr.setup(profile, data_seed, out_dir, **overrides)``, which
resolves the profile and prints what a reader needs to reproduce the run: the resolved config and its
hash, the git commit, package versions and the data checksums. Caches live under ``cache.root()``
(one root for every profile and out_dir; ``cfg.path("cache", name)``). It seeds nothing: every random
draw of a step is seeded from (seed, step name) by the step itself (``seeding.seed_step``), so results
never depend on what ran before in the process.

Seeds: ``data_seed`` draws the pool / evaluation subsamples of small profiles and notebook 04's
diagnostic split; trained routers use the profile's ``router_seeds`` (Random: ``seeds``).
``overrides`` change a profile parameter (``router_seeds=[0]``, ``selection_folds=5``) or a
registered setting (``register_settings``: RAGRouter's, e.g. ``k=20``, ``augment=False``); an
unknown name is an error. A run whose parameters differ from the profile's defaults writes to its
own folder, ``outputs/runs/<profile>-<hash of the changes>/``, never over the delivered logs
(``run_out_dir``; the runner uses the same rule).

This module imports only ``cache``; the data check is registered in ``CHECKS`` and RAGRouter's
settings by ``register_settings``, both by the package (``ragrouter_lib/__init__.py``).

>>> cfg = setup("smoke", data_seed=1, out_dir="/tmp/rr_doc", verbose=False)
>>> cfg.profile, cfg.data_seed, len(cfg.hash)
('smoke', 1, 12)
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import warnings
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

from . import cache

ROOT = Path(__file__).resolve().parents[2]

# Profile parameters. `smoke` is for tests (tiny slices), `offline` is the CPU reproduction,
# `paper` is the thesis's scale on a GPU server with the Hugging Face Hub reachable.
# router_seeds: the seeds of every router, Random included (notebook 01 draws one Random run per seed);
# grid_limit: configurations tried per router (None = the whole ``grid`` of the router's class; offline: the
# first entry, which is the class's defaults, the same budget for all, to fit the CPU run: the grouped selection
# then chooses each router's epochs and, for the aligned rows and RAGRouter, the alignment variant);
# selection_folds: the number of source-grouped folds of model selection (``selection.select``'s n_folds); aligned_routers:
# baselines that also get an "aligned" row (offline leaves out BERT, whose fold fits cost ~20 min);
# ablation_seeds: the seeds of Tables 3-6's "without" rows (offline and paper: the 5 router seeds, issue 25;
# the "with" row is the full model's runs of the same seeds); small_llm: settings of the thesis's LLM final-model
# form run on real data at CPU scale (``paper.small_llm_row``: SmolLM2-135M + LoRA on a pool subsample, scored on a
# seeded evaluation subsample; an extra row of Tables 1-2), None where not run (``paper`` runs the full-scale form);
# gemma_rows: the source-stratified pool subsample on which Gemma-3-270M's perplexity is measured for the
# sampling step's difficulty-signal choice (``difficulty.signal_table``; ~1 text/s on CPU, in data/derived offline; 0: not measured); gemma_checks:
# whether the augmentation's independent check reads Gemma (``aug_check.independent_check``; smoke: MiniLM only);
# check_sizes: how many prompts the notebooks' cost and check cells measure, over ``CHECK_SIZES`` (``Config.size``).
# smoke (the test suite's series, issue 24's 10-minute test command): smaller slices, 2 selection folds, no aligned BERT
# row (its fold fits; tests/test_alignment.py trains that row on a tiny pool) and small check sizes.
PROFILES: dict[str, dict] = {
    "smoke": dict(eval_limit=120, pool_limit=200, router_seeds=[0, 1], grid_limit=1, selection_folds=2,
                  allow_hub=False, ablation_seeds=[0, 1], pool_sources=None, pool_both_fail="strong-needed",
                  aligned_routers=["sw_ranking", "mf", "causal_llm", "logreg"],
                  small_llm=dict(n_train=80, n_layers=2, max_len=64), gemma_rows=0, gemma_checks=False,
                  check_sizes=dict(feature_cost=32, encoder_cost=16, kb_recall=100, latency=40, aug_check=60)),
    "offline": dict(eval_limit=None, pool_limit=None, router_seeds=[0, 1, 2, 3, 4], grid_limit=1,
                    selection_folds=3, allow_hub=False, ablation_seeds=[0, 1, 2, 3, 4], pool_sources=None, pool_both_fail="strong-needed",
                    aligned_routers=["sw_ranking", "mf", "causal_llm", "logreg"],
                    small_llm=dict(n_train=2000, eval_limit=1000), gemma_rows=600, gemma_checks=True),
    "paper": dict(eval_limit=None, pool_limit=None, router_seeds=[0, 1, 2, 3, 4], grid_limit=None,
                  selection_folds=3, allow_hub=True, ablation_seeds=[0, 1, 2, 3, 4], pool_sources=None, pool_both_fail="strong-needed",
                  small_llm=None, gemma_rows=600, gemma_checks=True),
}

# Prompts measured by the notebooks' cost and check cells (offline and paper; a profile's ``check_sizes`` overrides):
# feature passes (03), MiniLM vs MPNet (05), KB recall on MMLU validation questions (05), single-query latency (05,
# also the batch's size), the augmentation's independent check (04).
CHECK_SIZES = dict(feature_cost=128, encoder_cost=64, kb_recall=500, latency=200, aug_check=150)

# The ``paper`` dry run (issue 15): with env RAGROUTER_PAPER_STANDINS set (``hub.STANDINS_ENV``: the folder
# ``hub.stand_ins`` wrote; ``python -m ragrouter_lib.runner paper --dry-run`` does it all), ``setup("paper")``
# overlays these tiny sizes on the profile so notebooks 02-07 run in minutes on CPU stand-ins.
# Its check cells measure the smoke profile's sizes and its selection uses 2 folds (the dry run's numbers mean
# nothing; it checks that each paper code path runs).
PAPER_DRY_RUN: dict = dict(eval_limit=60, pool_limit=150, router_seeds=[0, 1], selection_folds=2,
                           grid_limit=1, ablation_seeds=[0, 1], aligned_routers=["logreg"], gemma_rows=0, gemma_checks=False,
                           check_sizes=PROFILES["smoke"]["check_sizes"])

# Settings a run may override besides the profile parameters, by owner ({owner: defaults}); filled by
# ``register_settings`` (the package registers RAGRouter's ``defaults``; config imports no router).
SETTINGS: dict[str, dict] = {}
# Where each profile's default run writes (the committed offline logs are ``outputs``), and the
# parent folder of every non-default run's own folder.
DEFAULT_OUT = {"offline": "outputs", "smoke": "outputs/smoke", "paper": "outputs/paper"}
RUNS_OUT = "outputs/runs"

PACKAGES = ["numpy", "pandas", "scipy", "scikit-learn", "torch", "transformers", "faiss-cpu",
            "dgl", "spacy", "papermill", "matplotlib", "seaborn"]


@dataclass
class Config:
    profile: str
    data_seed: int
    out_dir: str
    params: dict = field(default_factory=dict)

    def __getattr__(self, name):  # profile parameters read as attributes: cfg.eval_limit
        params = self.__dict__.get("params", {})
        if name in params:
            return params[name]
        raise AttributeError(name)

    def size(self, name: str) -> int:
        """Prompts a notebook's cost or check cell measures: the profile's ``check_sizes``, else ``CHECK_SIZES``."""
        return {**CHECK_SIZES, **self.params.get("check_sizes", {})}[name]

    @property
    def hash(self) -> str:
        return content_hash(asdict(self))

    @property
    def out(self) -> Path:
        p = Path(self.out_dir)
        return p if p.is_absolute() else ROOT / p

    def path(self, kind: str, name: str) -> Path:
        """<out>/<kind>/<name>, with the folder created: kind is results or figures; ``cache`` is
        the one cache root (``cache.root()/<name>``, shared by every profile: keys are content)."""
        if kind == "cache":
            root = cache.root()
            root.mkdir(parents=True, exist_ok=True)
            return root / name
        p = self.out / kind
        p.mkdir(parents=True, exist_ok=True)
        return p / name


def content_hash(obj, n: int = 12) -> str:
    """Stable short hash of a JSON-able object (dict keys sorted)."""
    blob = json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:n]


# identity checks printed by setup: name -> callable returning {group: (n_files, digest)}
CHECKS: dict = {}


def git_commit() -> str:
    """Short HEAD sha, "-dirty" when tracked code or data differ from it (outputs/ excluded)."""
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, text=True,
                             capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no",
                                "--", ".", ":(exclude)outputs"], cwd=ROOT,
                               text=True, capture_output=True).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def package_versions(names=PACKAGES) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = "not installed"
    return out


def register_settings(owner: str, defaults: dict) -> None:
    """Let ``setup`` accept overrides of ``defaults``' names (called explicitly by the package)."""
    clash = set(defaults) & set().union(*PROFILES.values(), PAPER_DRY_RUN)
    if clash:
        raise ValueError(f"settings of {owner!r} reuse profile parameter names {sorted(clash)}")
    SETTINGS[owner] = dict(defaults)


def _dry_run(profile: str) -> bool:
    return profile == "paper" and bool(os.environ.get("RAGROUTER_PAPER_STANDINS"))  # = hub.STANDINS_ENV


class CudaMissing(RuntimeError):
    """The ``paper`` profile without CUDA and without its dry run: one line, also in a notebook
    (IPython shows ``_render_traceback_`` instead of the traceback)."""

    def _render_traceback_(self):
        return [f"{type(self).__name__}: {self}"]


def cuda_decision(profile: str) -> bool:
    """Whether the run uses CUDA, decided once where the run starts (runner, ``setup``,
    ``paper.notebook_final_model``, which derives 4-bit weights and 8-bit Adam from it). ``paper``:
    True with CUDA; its dry run on CPU stand-ins (env RAGROUTER_PAPER_STANDINS): False; otherwise
    ``CudaMissing``, never a silent CPU fallback (Qwen-7B would train for weeks). Other profiles:
    False (CPU by design; torch is not even imported)."""
    if profile != "paper":
        return False
    import torch  # heavy package: imported only for the paper profile

    if torch.cuda.is_available():
        return True
    if _dry_run(profile):
        return False
    raise CudaMissing(f"profile 'paper' needs CUDA, and torch {torch.__version__} sees no GPU: install the CUDA "
                      "torch (bash setup.sh --cuda, docs/PAPER.md), or run the CPU stand-ins with "
                      "python -m ragrouter_lib.runner paper --dry-run")


def resolve(profile: str, overrides: dict | None = None) -> dict:
    """The run's parameters: the profile's (plus the dry-run sizes), with ``overrides`` laid over.
    An override must name a profile parameter or a registered setting (``SETTINGS``)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {sorted(PROFILES)}")
    base = {**PROFILES[profile], **(PAPER_DRY_RUN if _dry_run(profile) else {})}
    known = set().union(*PROFILES.values(), PAPER_DRY_RUN, *SETTINGS.values())
    unknown = set(overrides or {}) - known
    if unknown:
        raise ValueError(f"unknown setting(s) {sorted(unknown)}; profile parameters: {sorted(base)}; "
                         f"settings: {', '.join(f'{o}: {sorted(d)}' for o, d in SETTINGS.items())}")
    return {**base, **(overrides or {})}


def changes(profile: str, data_seed: int = 0, overrides: dict | None = None) -> dict:
    """What makes a run non-default: ``data_seed`` other than 0, and every override whose value
    differs from the profile's parameter or the registered setting's default."""
    params = resolve(profile, overrides)
    base = {**PROFILES[profile], **(PAPER_DRY_RUN if _dry_run(profile) else {})}
    defaults = {k: v for d in SETTINGS.values() for k, v in d.items()}
    out = {"data_seed": int(data_seed)} if int(data_seed) != 0 else {}
    for k, v in (overrides or {}).items():
        ref = base[k] if k in base else defaults.get(k, object())
        if json.dumps(params[k], sort_keys=True, default=str) != json.dumps(ref, sort_keys=True, default=str):
            out[k] = v
    return out


def run_out_dir(profile: str, out_dir: str | None = None, data_seed: int = 0, overrides: dict | None = None) -> str:
    """The folder a run writes to. A run with the profile's defaults: ``out_dir`` (None: the profile's
    ``DEFAULT_OUT``). A non-default run (``changes``) never writes into a default folder (``outputs``
    holds the delivered logs): ``out_dir`` None or one of ``DEFAULT_OUT``'s becomes
    ``outputs/runs/<profile>-<hash of the changes>``; any other ``out_dir`` is kept."""
    diff = changes(profile, data_seed, overrides)
    if not diff:
        return str(out_dir or DEFAULT_OUT[profile])
    delivered = {(ROOT / d).resolve() for d in DEFAULT_OUT.values()}
    if out_dir is None or (Path(out_dir) if Path(out_dir).is_absolute() else ROOT / out_dir).resolve() in delivered:
        return f"{RUNS_OUT}/{profile}-{content_hash(diff, 8)}"
    return str(out_dir)


def setup(profile: str = "offline", data_seed: int = 0, out_dir: str = "outputs",
          verbose: bool = True, **overrides) -> Config:
    """Resolve a profile and the run's overrides, choose the output folder (``run_out_dir``), run the
    registered checks (data checksums) and print the run's identity. ``paper`` without CUDA and
    without its dry run stops first (``cuda_decision``)."""
    params = resolve(profile, overrides)
    dry_run = _dry_run(profile)
    cuda_decision(profile)  # paper without CUDA (and no dry run): stops here with one line
    diff = changes(profile, data_seed, overrides)
    out_dir = run_out_dir(profile, out_dir, data_seed, overrides)
    cfg = Config(profile=profile, data_seed=int(data_seed), out_dir=str(out_dir), params=params)
    # transformers imports tqdm.auto, which warns in a kernel without ipywidgets; this library's own
    # progress output is plain lines (features.progress_bar), so that widget is never used
    warnings.filterwarnings("ignore", message="IProgress not found")
    if not params.get("allow_hub"):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    checks = {name: check() for name, check in CHECKS.items()}
    if verbose:
        print(f"profile={profile} data_seed={cfg.data_seed} config_hash={cfg.hash} commit={git_commit()}")
        if diff:
            print(f"non-default run {json.dumps(diff, sort_keys=True, default=str)}: writing to {cfg.out_dir}/")
        if dry_run:
            print(f"DRY RUN: Hub ids served by stand-ins from RAGROUTER_PAPER_STANDINS="
                  f"{os.environ['RAGROUTER_PAPER_STANDINS']} (tiny random models, synthetic data; "
                  "sizes PAPER_DRY_RUN); the numbers below are meaningless by design")
        print("config:", json.dumps(asdict(cfg), sort_keys=True))
        print("versions:", json.dumps(package_versions()))
        exe = Path(sys.executable)
        print(f"python: {exe.relative_to(ROOT) if exe.is_relative_to(ROOT) else exe.name}")
        for name, groups in checks.items():
            print(f"{name} checksums (sha256 over each group's file hashes; every file verified):")
            for group, (n, digest) in groups.items():
                print(f"  {group:<28} {n:>3} files  {digest}")
    return cfg
