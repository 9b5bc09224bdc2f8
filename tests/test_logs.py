"""Clean, self-consistent logs (issue 26): every table number is its interval's point estimate
(synthetic per-seed scores through the real run, table and interval code), the log scanner finds
hand-written comparison words and stderr streams, epoch lines name their fit, and training-curve
legends list every plotted line. Each check has a planted fault it must catch."""
import matplotlib
import numpy as np
import pandas as pd
import pytest

from ragrouter_lib.evaluation import bootstrap, plots, verdicts
from ragrouter_lib.report import readme
from ragrouter_lib.routers import training
from ragrouter_lib.routers.base import Router
from ragrouter_lib.runs import ablations, experiments, router_runs

matplotlib.use("Agg")
N = 600


def _evals(n=N, seed=0):
    rng = np.random.default_rng(seed)
    weak = rng.random(n) < 0.6
    strong = weak | (rng.random(n) < 0.5)
    return pd.DataFrame({"prompt": [f"q{i}" for i in range(n)], "weak_correct": weak, "strong_correct": strong})


class NearTies(Router):
    """Informative scores whose neighbours differ by 1e-12: distinct in float64, tied in float32
    (the rounding that made the SW Ranking aligned row differ between table and interval)."""
    name = "near_ties"

    def __init__(self, seed=0, gain=None, strength=0.3):
        self.seed, self.gain, self.strength = int(seed), gain, strength

    def score(self, prompts):
        rng = np.random.default_rng(100 + self.seed)
        base = np.round(rng.random(len(prompts)) + self.strength * self.gain, 2)  # coarse levels ...
        return 0.5 + base * 1e-3 + rng.random(len(prompts)) * 1e-12  # ... split by float64-only noise


def _run_series(tmp_path, monkeypatch, seeds=(0, 1, 2)):
    """Notebook 03 / 05 / 06 / 07's assembly on synthetic data: Random through train_and_evaluate,
    our router (near-tie scores) and one ablation through the same function, then Tables 1 and 3,
    notebook 01's Random row, and the intervals / verdicts, all written to tmp_path/results."""
    ev = _evals()
    gain = (ev.strong_correct & ~ev.weak_correct).to_numpy(float)
    real_fit = router_runs.fit_router

    def fit(name, hp, seed, train, valid, cache_dir):
        if name == "ragrouter":
            return NearTies(seed, gain, hp.get("strength", 0.3)), False
        return real_fit(name, hp, seed, train, valid, cache_dir)

    monkeypatch.setattr(router_runs, "fit_router", fit)
    monkeypatch.setattr(router_runs, "UNTRAINED", ("random", "length", "ragrouter"))
    evals, args = {"mmlu": ev}, dict(cache_dir=tmp_path / "cache", log=lambda *a: None, out_dir=tmp_path)
    runs = pd.concat([router_runs.train_and_evaluate(k, ev, evals, list(seeds), grid=[{}], **args)[0]
                      for k in ("random", "ragrouter")], ignore_index=True)
    abl = router_runs.train_and_evaluate("ragrouter", ev, evals, list(seeds), grid=[{"strength": 0.1}],
                                         model_key=verdicts.ablation_key(3), **args)[0]
    abl = abl.assign(table=3, model=ablations.ABLATIONS[3].without)
    full = runs[runs.router == "ragrouter"]
    (tmp_path / "results").mkdir(exist_ok=True)
    experiments.comparison_table(runs, "mmlu").to_csv(tmp_path / "results" / "table1.csv", index=False)
    ablations.table(full, abl, 3).to_csv(tmp_path / "results" / "table3.csv", index=False)
    router_runs.random_and_oracle(evals, list(seeds))[0].to_csv(tmp_path / "results" / "01_random_oracle.csv", index=False)
    verdicts.tables_1_2(tmp_path, evals, benchmarks=("mmlu",), n_boot=40, log=lambda *a: None)
    verdicts.tables_3_6(tmp_path, evals, {3: ablations.ABLATIONS[3].part}, n_boot=40, log=lambda *a: None)
    return runs


def test_every_table_number_is_its_intervals_point_estimate(tmp_path, monkeypatch):
    runs = _run_series(tmp_path, monkeypatch)
    assert verdicts.table_consistency(tmp_path) == []
    ints = pd.read_csv(tmp_path / "results" / "intervals.csv")
    t1 = pd.read_csv(tmp_path / "results" / "table1.csv")
    assert set(t1.model) == set(ints.model) and len(t1) == 2  # Random and ours, both compared
    assert runs.router.nunique() == 2 and (runs.groupby("router").seed.nunique() == 3).all()


def test_consistency_check_catches_a_planted_table_number(tmp_path, monkeypatch):
    _run_series(tmp_path, monkeypatch, seeds=(0, 1))
    for name, col in (("table1", "apgr"), ("table3", "cpt80"), ("01_random_oracle", "cpt50")):
        path = tmp_path / "results" / f"{name}.csv"
        good = pd.read_csv(path)
        bad = good.copy()
        bad.loc[bad.model == bad.model.iloc[0], col] += 1e-6
        bad.to_csv(path, index=False)
        found = verdicts.table_consistency(tmp_path)
        assert len(found) == 1 and name in found[0] and col in found[0], found
        good.to_csv(path, index=False)
    assert verdicts.table_consistency(tmp_path) == []


def test_rounded_score_storage_is_caught(tmp_path, monkeypatch):
    """Planted: the scores stored in float32 (as before) -> near-ties collapse -> intervals disagree."""
    monkeypatch.setattr(verdicts, "as_stored", lambda x: np.asarray(x, np.float32))
    _run_series(tmp_path, monkeypatch)
    found = verdicts.table_consistency(tmp_path)
    assert any("RAGRouter" in p for p in found) and any("table3" in p for p in found), found


def test_random_row_is_the_saved_draw():
    """Notebook 01's Random, Tables 1-2's Random and the interval's Random score the same draw."""
    ev = _evals()
    per_seed, _ = router_runs.random_runs(ev, [0, 1])
    from ragrouter_lib.routers import get_router
    for seed in (0, 1):
        m, _ = bootstrap.point_metrics(get_router("random", seed=seed).score(list(ev.prompt)),
                                       ev.weak_correct, ev.strong_correct, seed)
        assert per_seed.set_index("seed").loc[seed, "apgr"] == m["apgr"]


# ----------------------------------------------------------------------------- log scanner
def _nb(*cells):
    out = []
    for kind, src, outputs in cells:
        c = {"cell_type": kind, "source": src, "metadata": {}}
        if kind == "code":
            c["outputs"] = outputs
        out.append(c)
    return {"cells": out}


def _stream(text, name="stdout"):
    return {"output_type": "stream", "name": name, "text": text}


CLEAN = _nb(("markdown", "## Verdicts\nThe rule printed below decides every word.", None),
            ("code", "rr.verdicts.verdict_table(v36)", [_stream("APGR +0.010 [+0.002, +0.020] holds\n")]),
            ("code", "print(rr.bootstrap.RULE)", [_stream(bootstrap.RULE)]),
            ("code", "rr.ablations.summary(tab, d, ver)", [_stream("APGR with 0.5; verdict by the rule: APGR hurts\n")]),
            ("code", "Markdown(rr.prose.conclusion_zh(6, cfg.out))",
             [{"output_type": "display_data", "data": {"text/markdown": "判定：优于、不成立（该部件有害）"}}]),
            ("code", "res.table", [_stream("reads worse (LM) 0.12\n")]),
            ("code", "rr.training_data.examples(td)",  # prompt texts are data: "taste better" is a question's word
             [_stream("synonym  ...the _ variety will taste better because it will be fresh.\n")]))


def test_scanner_passes_generated_text():
    assert readme.comparison_words_outside_verdicts(CLEAN) == []
    assert readme.stderr_outputs(CLEAN) == []


@pytest.mark.parametrize("planted", [
    ("markdown", "## Reading\nRAGRouter beats every baseline here.", None),  # hand-written markdown
    ("markdown", "The gap is shift, not tuning.", None),  # a claim about a cause
    ("markdown", "## 中文\n该部件有害。", None),
    ("code", "print(f'{m} is better than Random')", [_stream("SVM is better than Random\n")]),  # hand-typed print
    ("code", "rr.ablations.table(full, abl, 3)", [_stream("Expectation does NOT hold: not worse\n")]),
    ("code", "x = 1  # RAGRouter outperforms BERT", []),  # a comment
    ("code", "td.augmented.head()", [_stream("the _ variety will taste better\n")]),  # data shown by other code
    ("code", "rr.training_data.examples(td)  # RAGRouter beats BERT", []),  # a data display's own source
])
def test_scanner_catches_a_planted_comparison_word(planted):
    found = readme.comparison_words_outside_verdicts({"cells": CLEAN["cells"] + _nb(planted)["cells"]})
    assert len(found) >= 1 and all(f.startswith(f"cell {len(CLEAN['cells'])} ") for f in found), found


def test_scanner_lists_stderr_streams():
    nb = {"cells": CLEAN["cells"] + _nb(("code", "tok(x)", [_stream("Token indices sequence length is longer "
                                                                    "than the specified maximum\n", "stderr")]))["cells"]}
    assert readme.stderr_outputs(nb) == [f"cell {len(CLEAN['cells'])}: Token indices sequence length is longer "
                                         "than the specified maximum"]


# ----------------------------------------------------------------------------- epoch lines, figures
def test_epoch_line_names_the_router_and_the_fit():
    import torch
    lines = []
    training.set_verbose(True, log=lines.append)
    try:
        m = torch.nn.Linear(2, 1)
        x = torch.randn(8, 2)
        with training.log_context("bert seed 0 fold (held out: a, b)"):
            training.train_epochs(m, lambda idx: m(x[idx]).pow(2).mean(), 8, torch.optim.SGD(m.parameters(), 0.1),
                                  2, 4, np.random.default_rng(0), tag={"stage": "bert"})
        training.train_epochs(m, lambda idx: m(x[idx]).pow(2).mean(), 8, torch.optim.SGD(m.parameters(), 0.1),
                              1, 4, np.random.default_rng(0), tag={"stage": "bert"})
    finally:
        training.set_verbose(False)
    assert len(lines) == 3 and all(ln.startswith("bert seed 0 fold (held out: a, b) [bert] epoch ") for ln in lines[:2])
    assert lines[2].startswith("fit [bert] epoch 1/1")
    assert router_runs.fit_label(None) == "final"
    assert router_runs.fit_label(pd.DataFrame({"source": ["b", "a", "a"]})) == "fold (held out: a, b)"


def test_training_curve_legend_includes_final_fits():
    rows = [{"router": r, "seed": s, "fit": "final", "epoch": e, "train_loss": 1 / e}
            for r in ("bert", "mf", "causal_llm", "sw_ranking") for s in (0, 1) for e in range(1, 4)]
    rows += [{"router": "bert", "seed": "fold 0", "fit": "fold 0", "epoch": e, "train_loss": 1 / e, "val_auc": 0.6}
             for e in range(1, 4)]
    fig = plots.training_curves(pd.DataFrame(rows), "t")
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "seed 0 (final fit): train loss" in labels and "seed 1 (final fit): train loss" in labels
    assert "fold 0: val AUC" in labels and "fold 0: train loss" in labels
    axes = [a for a in fig.axes if a.get_visible() and a.get_xlabel() == "epoch"]
    assert len(axes) == 4 and max(len(a.get_xticks()) for a in axes) <= 10
    assert all(float(t).is_integer() for a in axes for t in a.get_xticks())
    assert fig.get_size_inches()[0] <= 3 * 4.8 + 1e-9  # wrapped: at most 3 panels per row


def test_length_rule_on_a_long_prompt_writes_nothing_to_stderr(capfd):
    """The committed notebook 03 had a stderr tokenizer warning (a prompt > 512 tokens in the length rule)."""
    from ragrouter_lib.routers import get_router
    s = get_router("length").score(["word " * 1500, "short"])
    assert s[0] > s[1]
    err = capfd.readouterr().err  # (the weights' loading bar is off in the runner's kernels: runner.KERNEL_ENV)
    assert "Token indices sequence length" not in err and "warn" not in err.lower(), err


def test_undefined_metrics_on_resamples_raise_no_warning():
    """Small sets (smoke) leave a metric undefined on some resamples: NaN, counted, never a RuntimeWarning
    on the log's stderr (notebook 03's smoke log had 'invalid value encountered in reduce')."""
    import warnings
    rng = np.random.default_rng(0)
    weak = rng.random(40) < 0.6
    strong = weak | (rng.random(40) < 0.3)
    boot = bootstrap.Bootstrap(weak, strong, n_boot=300)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = bootstrap.difference(boot, ("a", rng.random((2, 40)), [0, 1]), ("b", rng.random((2, 40)), [0, 1]))
    assert d.n_undefined.sum() > 0  # the case really occurred
