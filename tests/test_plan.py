"""The paper profile's cost plan (issue 27 item 7): counted from the run's own config, committed in
docs/PAPER.md as a generated block, with a one-GPU preset that fits a day on an 80 GB card."""
import pytest

from ragrouter_lib.core import config
from ragrouter_lib.core.config import ROOT
from ragrouter_lib.routers.ragrouter import RAGRouter
from ragrouter_lib.runs import ablations, plan


def test_paper_md_block_is_generated():
    text = (ROOT / "docs" / "PAPER.md").read_text()
    block = text[text.index(plan.START): text.index(plan.END) + len(plan.END)]
    assert block == plan.markdown(), "run: python -m ragrouter_lib.runs.plan --write docs/PAPER.md"


def test_fit_count_follows_the_config(monkeypatch):
    t = plan.llm_plan()
    sel = t[t.stage.str.startswith("05 selection")].fits.item()
    # 3 folds x (3 configurations + 2 more alignment variants), 5 final fits, 4 ablations x (3 folds + 5 seeds)
    assert (sel, int(t.fits.sum())) == (15, 52)
    more = plan.llm_plan(ablation_seeds=[0, 1, 2, 3, 4, 5, 6])
    assert int(more.fits.sum()) == 52 + 4 * 2
    assert int(plan.llm_plan(router_seeds=[0, 1, 2]).fits.sum()) == 52 - 2
    assert int(plan.llm_plan(grid_limit=1).fits.sum()) == 52 - 3 * 2
    assert int(plan.llm_plan(selection_folds=5).fits.sum()) == 52 + 2 * 5 + 4 * 2  # notebook 05's and the ablations' folds
    # the code, not a copy: a grid or an ablation added in the code changes the count
    monkeypatch.setattr(RAGRouter, "grid", RAGRouter.grid[:2])
    assert int(plan.llm_plan().fits.sum()) == 52 - 3
    monkeypatch.setitem(ablations.ABLATIONS, 7, ablations.Ablation(7, {"k": 5}, "something"))
    assert int(plan.llm_plan().fits.sum()) == 52 - 3 + 8
    # the profile read is config.PROFILES itself
    monkeypatch.setitem(config.PROFILES["paper"], "ablation_seeds", [0])
    assert int(plan.llm_plan().fits.sum()) == 52 - 3 + 8 - 5 * 4


def test_tokens_follow_the_llm_settings(monkeypatch):
    base = plan.llm_plan().train_tokens.sum()
    defaults = plan.ragrouter_llm.RAGRouterLLM.defaults
    monkeypatch.setitem(defaults, "llm_epochs", 2)
    assert plan.llm_plan().train_tokens.sum() == pytest.approx(2 * base)
    monkeypatch.setitem(defaults, "llm_max_len", 256)
    assert plan.llm_plan().train_tokens.sum() < 2 * base


def test_preset_fits_one_80gb_gpu_in_a_day_and_full_cost_is_stated():
    pre = plan.totals(**plan.PRESETS["one_h100_24h"])
    assert pre["wall_hours H100 80 GB"] <= 24, pre
    read = {k for p in config.PROFILES.values() for k in p} | {"selection_folds"}  # keys the run reads
    assert set(plan.PRESETS["one_h100_24h"]) <= read
    full = plan.totals()
    assert full["fits"] == 52 and full["gpu_hours H100 80 GB"] > 24
    text = (ROOT / "docs" / "PAPER.md").read_text()
    assert f"**Full profile: {full['fits']} LLM fits" in text and "Preset one_h100_24h" in text
