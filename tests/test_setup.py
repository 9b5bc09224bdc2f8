"""Configuration, setup printing and pinned environments (every pin says why it is there)."""
import ast
import re
from importlib import metadata

import pytest
from packaging.requirements import Requirement

from ragrouter_lib.core import config
from ragrouter_lib.core.config import ROOT

PIN = re.compile(r"([A-Za-z0-9_.\-\[\]]+)==([^\s;#]+)\s*(?:#\s*(.*))?")
# used, but neither imported nor run as `python -m NAME` by the repository's files
NOT_IMPORTED = {"gguf": "transformers' gguf_file loader (models.py prepares SmolLM2)",
                "jupyterlab": "interactive use of notebooks/*.py with jupytext",
                "openai": "imported by routellm 0.2.0 at module level (routellm: requirements-models.txt, --no-deps)",
                "sentencepiece": "transformers loads DeBERTa-v3's SentencePiece tokenizer with it (paper profile)",
                "protobuf": "transformers converts DeBERTa-v3's SentencePiece model with it (paper profile)"}


def _norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(lines, comments=False):
    out = {}
    for line in lines:
        line = line.strip().lstrip("- ").strip()
        m = PIN.fullmatch(line)
        if m:
            out[_norm(m.group(1))] = (m.group(2), m.group(3) or "") if comments else m.group(2)
    return out


def test_environment_yml_agrees_with_requirements():
    req = _pins((ROOT / "requirements.txt").read_text().splitlines())
    env = _pins((ROOT / "environment.yml").read_text().splitlines())
    assert req["torch"] == "2.13.0" and req["dgl"] == "1.1.3"
    assert env == req


def _used_names(root=ROOT):
    """Distributions the repository imports (ragrouter_lib, tests, notebooks, scripts, benchmarks) or runs
    as ``python -m NAME`` (also in the shell scripts)."""
    modules = set()
    files = [p for d in ("ragrouter_lib", "tests", "notebooks", "scripts", "benchmarks") for p in (root / d).rglob("*.py")]
    for f in files:
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Import):
                modules |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    for f in files + list(root.glob("*.sh")):
        modules |= set(re.findall(r"-m[\"',\s]+([A-Za-z_][A-Za-z0-9_]*)", f.read_text()))
    dists = metadata.packages_distributions()
    return {_norm(d) for m in modules for d in dists.get(m, [])}


def _requirers(pinned):
    """package -> the pinned packages whose (non-extra) requirements name it, extras followed one level."""
    out = {}
    for parent in pinned:
        try:
            reqs = metadata.requires(parent) or []
        except metadata.PackageNotFoundError:  # pinned but not (yet) installed here: setup.sh installs every pin
            reqs = []
        for r in reqs:
            req = Requirement(r)
            if req.marker and not req.marker.evaluate({"extra": ""}):
                continue
            out.setdefault(_norm(req.name), set()).add(parent)
            for extra in req.extras:
                for r2 in metadata.requires(req.name) or []:
                    q = Requirement(r2)
                    if q.marker and q.marker.evaluate({"extra": extra}) and not q.marker.evaluate({"extra": ""}):
                        out.setdefault(_norm(q.name), set()).add(parent)
    return out


def pin_problems(pins, used, requirers):
    """Pins that do not earn their place: no comment, a step nobody uses, or a stale 'via'."""
    bad = []
    for name, (_, comment) in pins.items():
        if not comment:
            bad.append(f"{name}: no comment saying which step uses it")
        elif comment.startswith("via "):
            named = {_norm(p.split(" (")[0]) for p in comment[4:].split(", ")}
            if not named & requirers.get(name, set()):
                bad.append(f"{name}: {comment!r}, but none of those pinned packages requires it")
        elif name not in used and name not in NOT_IMPORTED:
            bad.append(f"{name}: {comment!r}, but nothing in the repository imports it")
    return bad


def test_every_pin_earns_its_place():
    pins = _pins((ROOT / "requirements.txt").read_text().splitlines(), comments=True)
    assert pin_problems(pins, _used_names(), _requirers(pins)) == []


def test_pin_rules_catch_planted_pins():
    pins = {"numpy": ("2.4.6", "arrays"), "lonely": ("1.0", "some step"), "bare": ("1.0", ""),
            "joblib": ("1.6.0", "via numpy"), "tzdata": ("2026.6", "via pandas")}
    found = pin_problems(pins, used={"numpy"}, requirers={"joblib": {"scikit-learn"}, "tzdata": {"pandas"}})
    assert [f.split(":")[0] for f in found] == ["lonely", "bare", "joblib"], found


def test_setup_prints_identity(capsys):
    cfg = config.setup("smoke", data_seed=5, out_dir="outputs/smoke")
    out = capsys.readouterr().out
    assert f"config_hash={cfg.hash}" in out and "data_seed=5" in out and "commit=" in out
    assert f"writing to {cfg.out_dir}/" in out and cfg.out_dir.startswith("outputs/runs/smoke-")  # not the default folder
    assert "numpy" in out and "routellm_evals/mmlu" in out
    assert cfg.eval_limit == config.PROFILES["smoke"]["eval_limit"]


def test_config_hash_changes_with_seed_and_profile():
    a = config.setup("smoke", data_seed=0, verbose=False)
    assert a.hash != config.setup("smoke", data_seed=1, verbose=False).hash
    assert a.hash != config.setup("offline", data_seed=0, verbose=False).hash
    assert a.hash == config.setup("smoke", data_seed=0, verbose=False).hash


def test_unknown_profile():
    with pytest.raises(ValueError, match="unknown profile"):
        config.setup("gpu")


# Notebook source rules (cell length, no def/class, parameters + setup cells): tests/test_notebooks.py


def test_readme_results_block_is_generated():
    from ragrouter_lib.report import readme
    text = (ROOT / "README.md").read_text()
    block = text[text.index(readme.START): text.index(readme.END) + len(readme.END)]
    assert block == readme.results_block(), "run: python -m ragrouter_lib.report"
