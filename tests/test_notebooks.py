"""Smoke test: every notebook runs with the smoke profile through papermill; the delivered
offline logs have outputs in every code cell and no errors."""
import json

import pandas as pd
import pytest

from ragrouter_lib import runner
from ragrouter_lib.config import ROOT


def _errors_and_empty(nb_path):
    cells = [c for c in json.loads(nb_path.read_text())["cells"] if c["cell_type"] == "code"]
    errors = [c for c in cells if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    params = {"parameters", "injected-parameters"}  # assignments only, by papermill's design
    empty = [c["source"] for c in cells
             if not c.get("outputs") and not params & set(c["metadata"].get("tags", []))]
    return errors, empty


@pytest.mark.smoke
def test_every_notebook_runs_with_smoke_profile(tmp_path):
    summary = runner.run("smoke", out_dir=str(tmp_path))
    assert summary["status"] == "ok", summary
    assert set(summary["notebooks"]) == {p.name for p in runner.notebooks()}
    for nb in (tmp_path / "executed").glob("*.ipynb"):
        errors, _ = _errors_and_empty(nb)
        assert not errors, nb.name
    saved = json.loads((tmp_path / "results" / "run_summary.json").read_text())
    assert saved["profile"] == "smoke" and saved["total_seconds"] > 0


def test_runner_stops_on_failure(tmp_path, monkeypatch):
    bad = tmp_path / "nbs"
    bad.mkdir()
    src = json.loads((ROOT / "notebooks" / "01_routellm_evaluation.ipynb").read_text())
    src["cells"][2]["source"] = ["raise RuntimeError('planted failure')"]
    (bad / "01_bad.ipynb").write_text(json.dumps(src))
    (bad / "02_never.ipynb").write_text(json.dumps(src))
    monkeypatch.setattr(runner, "NOTEBOOKS", bad)
    summary = runner.run("smoke", out_dir=str(tmp_path / "out"))
    assert summary["status"] == "failed"
    assert list(summary["notebooks"]) == ["01_bad.ipynb"]


DELIVERED = sorted((ROOT / "outputs" / "executed").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("nb", DELIVERED, ids=lambda p: p.name)
def test_delivered_logs_are_complete(nb):
    errors, empty = _errors_and_empty(nb)
    assert not errors and not empty, (nb.name, empty)
    meta = json.loads(nb.read_text())["metadata"]["papermill"]
    assert meta["parameters"]["profile"] == "offline"


def test_delivered_random_within_targets():
    t = pd.read_csv(ROOT / "outputs" / "results" / "01_random_oracle.csv").query("model == 'Random'")
    assert set(t.benchmark) == {"mmlu", "gsm8k"}
    assert t.cpt50.between(48, 52).all() and t.cpt80.between(78, 82).all()
    assert t.apgr.between(0.49, 0.51).all() and (t.n_seeds >= 3).all()
