"""Our metrics (ragrouter_lib.metrics) against RouteLLM's own evaluation code (the installed
``routellm==0.2.0``: ``evals/benchmarks.py`` and ``evals/evaluate.py``, run through
``metrics.routellm_reference``) on RouteLLM's own MMLU and GSM8K rows.

Tolerance: RouteLLM prints CPT with two decimals, so CPT agrees within 0.005 percentage points;
APGR (printed unrounded) within 1e-9. Scores are continuous (no ties): with tied quantile edges
RouteLLM's ``pd.qcut`` raises, which is why ours breaks ties (tested below).
"""
import sys
import types

import numpy as np
import pytest

from ragrouter_lib.data import loading
from ragrouter_lib.evaluation import metrics

CPT_TOL, APGR_TOL = 0.005 + 1e-9, 1e-9


def _scores(ev, seed, signal):
    """A continuous router score: seeded noise, plus ``signal`` where only the strong model is right."""
    gain = (ev.strong_correct & ~ev.weak_correct).to_numpy(float)
    return np.random.default_rng(seed).random(len(ev)) + signal * gain


@pytest.fixture(scope="module", params=["mmlu", "gsm8k"])
def ev(request):
    return loading.load_eval(request.param)


@pytest.mark.parametrize("seed, signal", [(0, 0.0), (1, 0.1), (2, 0.5)])
def test_cpt_and_apgr_agree_with_routellm(ev, seed, signal):
    s = _scores(ev, seed, signal)
    ref = metrics.routellm_reference(s, ev.weak_correct, ev.strong_correct)
    ours = metrics.summarize(metrics.routing_curve(s, ev.weak_correct, ev.strong_correct),
                             ev.weak_correct.mean(), ev.strong_correct.mean())
    assert abs(ref["cpt50"] - ours["cpt50"]) <= CPT_TOL, (ref["cpt50"], ours["cpt50"])
    assert abs(ref["cpt80"] - ours["cpt80"]) <= CPT_TOL, (ref["cpt80"], ours["cpt80"])
    assert abs(ref["apgr"] - ours["apgr"]) <= APGR_TOL, (ref["apgr"], ours["apgr"])


def test_curve_points_agree_with_routellm(ev):
    s = _scores(ev, 3, 0.2)
    ref = metrics.routellm_reference(s, ev.weak_correct, ev.strong_correct)["curve"]
    ours = metrics.routing_curve(s, ev.weak_correct, ev.strong_correct)
    np.testing.assert_allclose(ref["strong_percentage"], ours["pct_strong"], atol=1e-9)
    np.testing.assert_allclose(ref["accuracy"], 100 * ours["accuracy"], atol=1e-9)
    np.testing.assert_allclose(ref["threshold"].iloc[1:-1], ours["threshold"].iloc[1:-1], rtol=0, atol=1.0)


def test_reference_follows_the_scores(ev):
    """Counter-example: the comparison above can fail: a different ranking gives different numbers."""
    s = _scores(ev, 4, 0.5)
    a = metrics.routellm_reference(s, ev.weak_correct, ev.strong_correct)
    b = metrics.routellm_reference(-s, ev.weak_correct, ev.strong_correct)
    assert abs(a["apgr"] - b["apgr"]) > 0.1 and abs(a["cpt50"] - b["cpt50"]) > 1


def test_evaluate_py_crashes_before_printing_apgr(ev):
    """README's claim: evaluate.py passes the strong model's name where generate_results expects the
    model pair, so it stops at the weak model's accuracy, before any metric is printed."""
    ref = metrics.routellm_reference(_scores(ev, 0, 0.1), ev.weak_correct, ev.strong_correct)
    assert "AttributeError: 'str' object has no attribute 'weak'" in ref["crash"]
    assert "routellm/evals/evaluate.py" in ref["crash"] and "generate_results" in ref["crash"]
    assert any("ModelPair" in p for p in ref["patches"])
    assert "/work/" not in ref["crash"] and "site-packages" not in ref["crash"]


def test_tied_scores_crash_routellm_but_not_ours(ev):
    s = np.zeros(len(ev))
    with pytest.raises(ValueError, match="Bin edges must be unique"):
        metrics.routellm_reference(s, ev.weak_correct, ev.strong_correct)
    assert np.isfinite(metrics.summarize(metrics.routing_curve(s, ev.weak_correct, ev.strong_correct),
                                         ev.weak_correct.mean(), ev.strong_correct.mean())["apgr"])


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # routellm's pydantic-v1 validators
def test_routellm_mmlu_loader_on_its_own_files_matches_ours(monkeypatch):
    """RouteLLM's own MMLU class (decontamination included) reads the vendored files; same rows and
    accuracies as data.load_eval, and its published counts (14,037 rows)."""
    for name, attrs in {"litellm": {"acompletion": None, "completion": None},
                        "openai": {"OpenAI": lambda *a, **k: None}}.items():
        if name not in sys.modules:
            monkeypatch.setitem(sys.modules, name, types.SimpleNamespace(**attrs))
    monkeypatch.setenv("OPENAI_API_KEY", "unused")
    from routellm.controller import ModelPair
    from routellm.evals import benchmarks
    from routellm.evals.mmlu.domains import ALL_MMLU_DOMAINS

    monkeypatch.setattr(benchmarks, "CURRENT_DIR", str(loading.DATA_DIR / "raw" / "routellm_evals"))
    pair = ModelPair(strong=loading.STRONG_MODEL, weak=loading.WEAK_MODEL)
    bench = benchmarks.MMLU(ALL_MMLU_DOMAINS, pair, [])
    ours = loading.load_eval("mmlu")
    assert len(bench.all_data) == len(ours) == 14037
    assert sorted(bench.all_data.prompt) == sorted(ours.prompt)
    assert bench.get_model_accuracy(pair.strong) == pytest.approx(100 * ours.strong_correct.mean(), abs=1e-9)
    assert bench.get_model_accuracy(pair.weak) == pytest.approx(100 * ours.weak_correct.mean(), abs=1e-9)
