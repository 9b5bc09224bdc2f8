"""Perplexity-based sampling's levels, weights and signal choice (``pipeline.difficulty``): levels in
the thesis's direction (high perplexity = hard = up-weighted), one labelled level table, the
within-source relation with an interval, and the chooser that says "off" for a signal-less LM."""
import numpy as np
import pandas as pd
import pytest

from ragrouter_lib.pipeline import difficulty


def _synthetic(n=400, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"prompt": [f"q{i}" for i in range(n)], "strong_needed": (rng.random(n) < 0.25).astype(int),
                         "source": rng.choice(["a", "b", "rare"], n, p=[0.6, 0.35, 0.05])})


def _planted(n=1200, effect=0.5, seed=0):
    """Three sources with different typical perplexity; within each, higher perplexity -> strong needed
    more often (``effect``: the rate gap between the source's highest and lowest perplexity)."""
    rng = np.random.default_rng(seed)
    src = rng.choice(["a", "b", "c"], n)
    ppl = rng.lognormal(np.select([src == "a", src == "b"], [2.0, 3.0], 4.0), 0.8)
    q = np.zeros(n)  # the row's perplexity quantile within its source
    for s in "abc":
        m = src == s
        q[m] = ppl[m].argsort().argsort() / (m.sum() - 1)
    y = (rng.random(n) < 0.35 + effect * (q - 0.5)).astype(int)
    return ppl, y, src


def test_sampler_hits_bounds_and_balances_labels():
    orig, aug = _synthetic(400, 0), _synthetic(150, 1)
    ppl = np.random.default_rng(2).lognormal(3, 1, 550)
    out = difficulty.dynamic_sample(orig, aug, ppl, size_frac=0.5, seed=0)
    assert len(orig) < len(out) < len(orig) + len(aug) and len(out) == 475
    assert abs(out.strong_needed.mean() - 0.5) < 0.01
    both = pd.concat([orig, aug], ignore_index=True)
    lv = difficulty.difficulty_levels(ppl, both.source)
    w = difficulty.weights(both, lv)
    assert w[lv == 3].mean() > w[lv == 0].mean() and w[both.source == "rare"].mean() > w[both.source == "a"].mean()
    off = difficulty.weights(both, None)  # signal off: rarity only, one weight per source
    assert (pd.Series(off).groupby(both.source).nunique() == 1).all()
    assert len(difficulty.dynamic_sample(orig, aug, None, size_frac=0.5, seed=0)) == 475
    with pytest.raises(ValueError, match="not within"):
        difficulty.dynamic_sample(orig, aug, ppl, size_frac=1.0)


def test_difficulty_levels_are_rank_quartiles_with_ties_together():
    lv = difficulty.difficulty_levels(np.arange(100.0))
    assert np.bincount(lv).tolist() == [25, 25, 25, 25] and lv[0] == 0 and lv[-1] == 3
    ppl = np.concatenate([np.arange(1.0, 41), np.full(20, 50.0), np.arange(60.0, 100)])
    lv = difficulty.difficulty_levels(ppl)
    assert len(set(lv[40:60])) == 1 and lv[45] == 2 and np.bincount(lv).tolist() == [25, 15, 35, 25]
    assert (difficulty.difficulty_levels(np.log(ppl)) == lv).all()  # ranks: any monotone transform


def test_levels_follow_the_thesis_direction_within_sources():
    """High perplexity = hard = level 3 = up-weighted, within each source; the sign is never flipped
    by the labels (planted fault: levels from -ppl, or a measured-sign flip, fail here)."""
    ppl, y, src = _planted()
    lv = difficulty.difficulty_levels(ppl, src)
    for s in "abc":
        m = src == s
        assert ppl[m][lv[m] == 3].min() >= ppl[m][lv[m] == 0].max()  # level 3 = the source's highest
    # labels that say the opposite (low perplexity = strong needed) do not flip the levels
    assert (difficulty.difficulty_levels(ppl, src) == lv).all()
    tab = difficulty.level_table(ppl, 1 - y, src)
    assert tab.strong_needed_rate.iloc[0] > tab.strong_needed_rate.iloc[-1]  # the table shows it as it is
    assert "highest perplexity" in tab.index[-1] and "lowest perplexity" in tab.index[0]


def test_level_table_is_labelled_and_weights_rise_with_level():
    ppl, y, src = _planted()
    tab = difficulty.level_table(ppl, y, src)
    assert list(tab.columns) == ["rows", "median_perplexity", "strong_needed_rate", "mean_sampling_weight"]
    assert tab.index.name == "difficulty level (3 = hardest)" and tab.rows.sum() == len(ppl)
    assert tab.strong_needed_rate.is_monotonic_increasing  # the planted signal, read in the thesis's direction
    assert tab.mean_sampling_weight.is_monotonic_increasing  # hard rows up-weighted
    assert tab.median_perplexity.iloc[-1] > tab.median_perplexity.iloc[0]


def test_within_source_rho_has_an_interval_that_finds_a_planted_effect_and_covers_zero_without():
    ppl, y, src = _planted()
    r = difficulty.within_source_rho(ppl, y, src, n_boot=200)
    assert 0 < r["lo"] < r["rho"] < r["hi"] and r["sources_positive"] == 3
    # between-source differences alone (sources differ in perplexity AND in strong-needed rate) are not a signal
    rng = np.random.default_rng(5)
    y0 = (rng.random(len(src)) < np.select([src == "a", src == "b"], [0.1, 0.5], 0.9)).astype(int)
    r0 = difficulty.within_source_rho(ppl, y0, src, n_boot=200)
    assert r0["lo"] < 0 < r0["hi"]
    assert len(difficulty.stratified_subsample(src, 300, seed=0)) == pytest.approx(300, abs=3)


def test_chooser_says_off_for_a_signal_less_lm_and_picks_the_informative_one():
    ppl, y, src = _planted()
    noise = np.random.default_rng(7).lognormal(3, 1, len(ppl))
    assert difficulty.choose_signal({"noise": noise}, y, src, n_boot=200).attrs["choice"] == "off"
    assert difficulty.choose_signal({"reversed": 1 / ppl}, y, src, n_boot=200).attrs["choice"] == "off"
    tab = difficulty.choose_signal({"noise": noise, "smollm2": ppl}, y, src, n_boot=200)
    assert tab.attrs["choice"] == "smollm2" and tab.chosen.sum() == 1 and not tab.loc["noise", "eligible"]
    assert list(tab.index) == ["noise", "smollm2", "off"]
    # an LM scored on its own rows (a subsample) competes; a reference row never wins
    sub = np.arange(0, len(ppl), 2)
    tab = difficulty.choose_signal({"gemma": (ppl[sub], y[sub], src[sub]), "ref": (ppl, y, src)}, n_boot=200,
                                   reference=("ref",))
    assert tab.attrs["choice"] == "gemma" and tab.loc["gemma", "rows"] == len(sub) and not tab.loc["ref", "eligible"]
