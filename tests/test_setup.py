"""Configuration, setup printing, pinned environments and notebook hygiene."""
import json
import re
from pathlib import Path

import pytest

from ragrouter_lib import config
from ragrouter_lib.config import ROOT


def _pins(lines):
    out = {}
    for line in lines:
        line = line.strip().lstrip("- ").strip()
        m = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)==([^\s;#]+)", line)
        if m:
            out[m.group(1).lower().replace("_", "-")] = m.group(2)
    return out


def test_environment_yml_agrees_with_requirements():
    req = _pins((ROOT / "requirements.txt").read_text().splitlines())
    env = _pins((ROOT / "environment.yml").read_text().splitlines())
    assert req["torch"] == "2.13.0" and req["dgl"] == "1.1.3"
    assert env == req


def test_setup_prints_identity(capsys):
    cfg = config.setup("smoke", seed=5, out_dir="outputs/smoke")
    out = capsys.readouterr().out
    assert f"config_hash={cfg.hash}" in out and "seed=5" in out and "commit=" in out
    assert "numpy" in out and "routellm_evals/mmlu" in out
    assert cfg.eval_limit == config.PROFILES["smoke"]["eval_limit"]


def test_config_hash_changes_with_seed_and_profile():
    a = config.setup("smoke", seed=0, verbose=False)
    assert a.hash != config.setup("smoke", seed=1, verbose=False).hash
    assert a.hash != config.setup("offline", seed=0, verbose=False).hash
    assert a.hash == config.setup("smoke", seed=0, verbose=False).hash


def test_unknown_profile():
    with pytest.raises(ValueError, match="unknown profile"):
        config.setup("gpu")


NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_hygiene(nb):
    cells = json.loads(nb.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert "parameters" in code[0]["metadata"].get("tags", [])
    assert "rr.setup(profile, seed, out_dir)" in "".join(code[1]["source"])
    for c in code:
        src = "".join(c["source"])
        assert not re.search(r"^\s*[!%](pip|cd|conda)", src, re.M), src
        assert not re.search(r"['\"]/(work|home|root|tmp|Users)/", src), src
        assert len(src.splitlines()) <= 12, f"cell too long for a thin notebook:\n{src}"
        assert not c.get("outputs"), "source notebooks are committed without outputs"


def test_readme_results_block_is_generated():
    from ragrouter_lib import report
    text = (ROOT / "README.md").read_text()
    block = text[text.index(report.START): text.index(report.END) + len(report.END)]
    assert block == report.results_block(), "run: python -m ragrouter_lib.report"
