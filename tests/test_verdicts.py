"""Per-prompt score files, the vectorised paired bootstrap (checked against metrics.routing_curve
on explicit resamples) and the verdict rule, each with planted cases that must come out a given way."""
import numpy as np
import pandas as pd
import pytest

from ragrouter_lib.evaluation import bootstrap, metrics, verdicts
from ragrouter_lib.runs.ablations import ABLATIONS
from ragrouter_lib.routers import EXTRA_NAMES, THESIS_NAMES


def _rows(n, seed=0):
    rng = np.random.default_rng(seed)
    weak = rng.random(n) < 0.6
    strong = weak | (rng.random(n) < 0.5)
    return pd.DataFrame({"prompt": [f"q{i}" for i in range(n)], "weak_correct": weak,
                         "strong_correct": strong})


def test_scores_roundtrip_and_errors(tmp_path):
    s = np.random.default_rng(0).random((2, 7))
    p = verdicts.save_scores(tmp_path, "mmlu", "bert", [3, 4], s)
    assert p == tmp_path / "results" / "scores" / "mmlu__bert.npz"
    got = verdicts.load_scores(tmp_path, "mmlu", "bert")
    assert got["seeds"].tolist() == [3, 4] and got["scores"].dtype == np.float64
    np.testing.assert_array_equal(got["scores"], s)  # stored exactly: no rounding into new ties
    assert verdicts.saved_keys(tmp_path, "mmlu") == ["bert"] and verdicts.saved_keys(tmp_path, "gsm8k") == []
    with pytest.raises(ValueError):
        verdicts.save_scores(tmp_path, "mmlu", "bert", [0], s)  # 2 rows, 1 seed
    with pytest.raises(ValueError):
        verdicts.save_scores(tmp_path, "mmlu", "a__b", [0], s[0])
    with pytest.raises(ValueError):
        verdicts.save_scores(tmp_path, "mmlu", "nan", [0], np.array([np.nan, 1.0]))
    with pytest.raises(FileNotFoundError):
        verdicts.load_scores(tmp_path, "gsm8k", "bert")


def test_vectorised_replicates_equal_metrics_on_explicit_resamples():
    ev = _rows(301, seed=1)
    w, s = ev.weak_correct.values, ev.strong_correct.values
    boot = bootstrap.Bootstrap(w, s, n_boot=6, seed=5, chunk=4)
    scores = np.random.default_rng(2).random(301)  # distinct scores: tie order cannot matter
    draws = boot.metric_draws(scores[None, :], [7])["draws"]
    counts = np.concatenate(boot.counts)
    for b in range(6):
        idx = np.repeat(np.arange(301), counts[b])
        curve = metrics.routing_curve(scores[idx], w[idx], s[idx], seed=7)
        ref = metrics.summarize(curve, w[idx].mean(), s[idx].mean())
        for m in bootstrap.METRIC_NAMES:
            assert draws[m][b] == pytest.approx(ref[m], abs=1e-9), (b, m)


def test_full_set_check_with_ties_and_odd_n():
    for n in (23, 57, 301, 400):
        ev = _rows(n, seed=n)
        boot = bootstrap.Bootstrap(ev.weak_correct, ev.strong_correct, n_boot=20, seed=0)
        tied = np.round(np.random.default_rng(n).random((3, n)), 1)
        r = boot.metric_draws(tied, [0, 1, 2])  # raises if it disagrees with metrics
        assert set(r["draws"]) == set(bootstrap.METRIC_NAMES) and len(r["draws"]["apgr"]) == 20


def test_verdict_word_directions():
    assert bootstrap.verdict_word(0.01, 0.03, "apgr") == "beats"
    assert bootstrap.verdict_word(-0.03, -0.01, "apgr") == "is beaten by"
    assert bootstrap.verdict_word(-0.01, 0.03, "apgr") == "inconclusive"
    assert bootstrap.verdict_word(-3.0, -1.0, "cpt50") == "beats"  # lower CPT is better
    assert bootstrap.verdict_word(1.0, 3.0, "cpt80") == "is beaten by"
    assert bootstrap.verdict_word(0.01, 0.03, "apgr", "ablation") == "holds"
    assert bootstrap.verdict_word(1.0, 3.0, "cpt50", "ablation") == "hurts"
    assert bootstrap.verdict_word(np.nan, 1.0, "apgr") == "inconclusive"


def test_planted_comparisons_from_saved_scores(tmp_path):
    ev = _rows(2000, seed=3)
    rng = np.random.default_rng(4)
    gain = (ev.strong_correct & ~ev.weak_correct).to_numpy(float)
    noise = rng.random((3, 2000))
    verdicts.save_scores(tmp_path, "mmlu", "ragrouter", [0, 1, 2], noise + 0.6 * gain)   # informative
    verdicts.save_scores(tmp_path, "mmlu", "bert", [0, 1, 2], rng.random((3, 2000)))       # random
    verdicts.save_scores(tmp_path, "mmlu", "mf", [0, 1, 2], noise + 0.6 * gain)            # identical to ours
    verdicts.save_scores(tmp_path, "mmlu", "knn", [0, 1, 2], noise + 3.0 * gain)           # near-oracle
    ints, ver = verdicts.comparison_verdicts(tmp_path, "mmlu", {"mmlu": ev}, n_boot=200)
    word = ver.set_index(["model_b", "metric"]).verdict
    bert, mf, knn = THESIS_NAMES["bert"], THESIS_NAMES["mf"], EXTRA_NAMES["knn"]
    for m in bootstrap.METRIC_NAMES:
        assert word[bert, m] == "beats"
        assert word[mf, m] == "inconclusive"
    assert word[knn, "apgr"] == "is beaten by"
    assert "causal_llm" in ver.attrs["missing"]
    r = ints[ints.metric == "apgr"].set_index("model")
    assert (r.ci_low < r.value).all() and (r.value < r.ci_high).all()
    # the paired interval of identical scores is exactly zero
    same = ver[ver.model_b == mf]
    assert (same.ci_low == 0).all() and (same.ci_high == 0).all()
    wide = verdicts.verdict_table(ver)
    assert list(wide.columns) == ["benchmark", "ours", "against", "APGR", "CPT(50%)", "CPT(80%)"]


def test_planted_ablations(tmp_path):
    ev = _rows(1500, seed=6)
    rng = np.random.default_rng(7)
    gain = (ev.strong_correct & ~ev.weak_correct).to_numpy(float)
    verdicts.save_scores(tmp_path, "mmlu", "ragrouter", [0, 1], rng.random((2, 1500)) + 0.8 * gain)
    verdicts.save_scores(tmp_path, "mmlu", verdicts.ablation_key(3), [0, 1], rng.random((2, 1500)))       # part helps
    verdicts.save_scores(tmp_path, "mmlu", verdicts.ablation_key(4), [0, 1], rng.random((2, 1500)) + 5 * gain)  # part hurts
    out = verdicts.ablation_verdicts(tmp_path, {"mmlu": ev}, n_boot=200, parts={t: a.part for t, a in ABLATIONS.items()})
    apgr = out[out.metric == "apgr"].set_index("table").verdict
    assert out[out.table == 3].model_b.iloc[0] == ABLATIONS[3].without
    assert apgr[3] == "holds" and apgr[4] == "hurts"
    assert out.attrs["missing"] == [verdicts.ablation_key(5), verdicts.ablation_key(6)]


def test_ablation_on_fewer_seeds_is_paired_with_the_full_models_same_seeds(tmp_path):
    ev = _rows(1500, seed=8)
    rng = np.random.default_rng(9)
    gain = (ev.strong_correct & ~ev.weak_correct).to_numpy(float)
    good = rng.random((1, 1500)) + 0.8 * gain
    # seeds 0-1 of the full model are good, seed 2 is a planted useless run the ablation never had
    verdicts.save_scores(tmp_path, "mmlu", "ragrouter", [0, 1, 2], np.vstack([good, good, rng.random((1, 1500))]))
    verdicts.save_scores(tmp_path, "mmlu", verdicts.ablation_key(3), [0, 1], np.vstack([good, good]))  # identical runs
    out = verdicts.ablation_verdicts(tmp_path, {"mmlu": ev}, n_boot=200, tables=(3,))
    apgr = out[out.metric == "apgr"].iloc[0]
    assert abs(apgr["diff"]) < 1e-9 and apgr.verdict == "inconclusive"  # seed 2 left out of the pair


def test_one_reversed_seed_makes_the_seed_aware_interval_inconclusive(tmp_path):
    """Seeds 0-1: the ablation is clearly better than the full model; seed 2 reverses it strongly.
    Prompt-only intervals (seeds fixed) say "hurts"; the two-level bootstrap says "inconclusive"."""
    ev = _rows(3000, seed=11)
    rng = np.random.default_rng(12)
    gain = (ev.strong_correct & ~ev.weak_correct).to_numpy(float)
    noise = rng.random((3, 3000))
    full = noise + 0.6 * gain
    abl = np.vstack([noise[0] + 2.0 * gain, noise[1] + 2.0 * gain, noise[2] + 0.45 * gain])  # seed 2: weaker
    verdicts.save_scores(tmp_path, "mmlu", "ragrouter", [0, 1, 2], full)
    verdicts.save_scores(tmp_path, "mmlu", verdicts.ablation_key(5), [0, 1, 2], abl)
    words = {}
    for seeds_too in (False, True):
        boot = bootstrap.Bootstrap(ev.weak_correct, ev.strong_correct, n_boot=400, seed=0, resample_seeds=seeds_too)
        out = verdicts.ablation_verdicts(tmp_path, {"mmlu": ev}, tables=(5,), boot=boot)
        words[seeds_too] = out.set_index("metric").verdict["apgr"]
        d = out.set_index("metric").loc["apgr"]
        signs = [float(x) > 0 for x in d.seed_diffs.split()]
        assert signs == [False, False, True] and d["diff"] < 0  # one seed reverses the sign of the mean
    assert words == {False: "hurts", True: "inconclusive"}
    assert bootstrap.Bootstrap(ev.weak_correct, ev.strong_correct, n_boot=5).seed_draws(1).tolist() == [[0]] * 5


def test_seed_draws_pair_routers_with_the_same_seeds():
    ev = _rows(200, seed=13)
    boot = bootstrap.Bootstrap(ev.weak_correct, ev.strong_correct, n_boot=50, seed=0)
    s = np.random.default_rng(14).random((3, 200))
    a = boot.metric_draws(s, [2, 0, 1])["draws"]["apgr"]  # any seed order: rows sorted by seed first
    b = boot.metric_draws(s[[1, 2, 0]], [0, 1, 2])["draws"]["apgr"]
    np.testing.assert_array_equal(a, b)
    assert (boot.seed_draws(3) != np.arange(3)).any()  # seeds really are resampled


def test_rule_is_stated_in_both_languages():
    for word in ("beats", "is beaten by", "holds", "hurts", "inconclusive", "95"):
        assert word in bootstrap.RULE and word in bootstrap.RULE_ZH
    assert "seeds" in bootstrap.RULE and "prompts" in bootstrap.RULE  # what the interval covers
    assert "种子" in bootstrap.RULE_ZH and "提示" in bootstrap.RULE_ZH


def test_notebook_entry_points_write_tables(tmp_path):
    ev = _rows(800, seed=9)
    rng = np.random.default_rng(10)
    gain = (ev.strong_correct & ~ev.weak_correct).to_numpy(float)
    for key in ("ragrouter", "bert", verdicts.ablation_key(6)):
        verdicts.save_scores(tmp_path, "mmlu", key, [0, 1], rng.random((2, 800)) + (0.5 * gain if key == "ragrouter" else 0))
    logs = []
    out = {**verdicts.tables_1_2(tmp_path, {"mmlu": ev}, benchmarks=("mmlu",), n_boot=50, log=logs.append),
           **verdicts.tables_3_6(tmp_path, {"mmlu": ev}, n_boot=50, log=logs.append)}
    for name in ("intervals", "verdicts_tables_1_2", "verdicts_tables_3_6"):
        saved = pd.read_csv(tmp_path / "results" / f"{name}.csv")
        assert len(saved) == len(out[name]) > 0
    assert any("no saved scores" in m and verdicts.ablation_key(3) in m for m in logs)
