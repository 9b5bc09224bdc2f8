"""RAGRouter cross-fit: origin-grouped folds, out-of-fold neighbours, (seed, step) seeding, caches."""
import numpy as np
import pandas as pd
import pytest

from ragrouter_lib import routers
from ragrouter_lib.features import encoders, syntax
from ragrouter_lib.pipeline import training_data
from ragrouter_lib.routers import kb, ragrouter, ragrouter_parts, selection

TINY = {"extractor_epochs": 2, "final_epochs": 3, "augment": False, "sample": False, "k": 4, "n_folds": 3,
        "batch_size": 16}
SUBJECTS = ["apples", "trains", "planets", "proteins", "triangles", "rivers", "poems", "markets"]
VERBS = ["count", "compare", "explain", "describe", "prove", "estimate"]


def _pool(n=48, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        src = ["alpha", "beta", "gamma"][i % 3]
        sub, verb = SUBJECTS[i % len(SUBJECTS)], VERBS[(i // 3) % len(VERBS)]
        extra = " and then add 12 + 7 * 3 to the result" if src == "gamma" else ""
        score = int(rng.integers(1, 6))
        rows.append({"pool_id": f"p{i}", "prompt": f"Please {verb} the {sub} number {i} in the book{extra}.",
                     "source": src, "panel": "routerbench", "score": score, "strong_needed": int(score <= 3)})
    return pd.DataFrame(rows)


def _with_variants(pool):
    aug = pool.iloc[::4].copy()
    aug["source_id"] = aug.pool_id
    aug["pool_id"] = "aug:" + aug.pool_id + ":prep_front"
    aug["prompt"] = "In the book, " + aug.prompt.str.slice(0, -1).str.replace(" in the book", "") + "."
    aug["panel"] = "augmented"
    return pd.concat([pool.assign(source_id=np.nan), aug], ignore_index=True)


@pytest.fixture(autouse=True)
def tmp_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGROUTER_CACHE", str(tmp_path / "cache"))  # features, extractors, data
    return tmp_path


def test_origin_groups_keep_variants_duplicates_and_equal_texts_together():
    df = _with_variants(_pool())
    df = pd.concat([df, df.iloc[[1, 1]]], ignore_index=True)  # sampled duplicates
    df.loc[len(df)] = {**df.iloc[2].to_dict(), "pool_id": "other", "prompt": df.prompt[2].upper() + "  "}
    g = kb.origin_groups(df)
    aug = df.panel == "augmented"
    src_group = dict(zip(df.pool_id[~aug], g[~aug]))
    assert all(g[aug] == df.source_id[aug].map(src_group))
    assert g.iloc[-1] == g.iloc[2]  # equal after normalisation -> one group
    folds = kb.crossfit_folds(df, 3, seed=0)
    for _, idx in g.groupby(g).groups.items():
        assert len(set(folds[idx])) == 1
    assert set(folds) == {0, 1, 2}
    # origin_id, when present, decides
    df2 = df.assign(origin_id=df.pool_id)
    assert kb.origin_groups(df2).nunique() > g.nunique()


def test_training_neighbours_come_from_other_folds_only():
    data = _with_variants(_pool())
    r = routers.get_router("ragrouter", seed=0, **TINY).fit(None, None, prepared=data)
    g = kb.origin_groups(data.reset_index(drop=True)).to_numpy()
    nb = r.train_neighbours  # indices into the KB
    assert nb.shape == (len(data), r.k)
    g_kb, fold_kb = g[r.kb_rows], r.train_folds[r.kb_rows]
    assert not (g_kb[nb] == g[:, None]).any()  # never the row itself, its variant or its source
    assert (fold_kb[nb] != r.train_folds[:, None]).all()
    # at scoring time the KB holds every row: a training prompt finds itself first
    _, idx = r.kb.search(r.embed(data.prompt[:5]), r.k)
    assert (idx[:, 0] == np.arange(5)).all()
    assert r.data_summary["kb_rows"] == r.data_summary["final_rows"] == len(data)
    dup = routers.get_router("ragrouter", seed=0, **TINY).fit(None, None, prepared=pd.concat([data, data.iloc[:7]]))
    assert dup.data_summary["kb_rows"] == len(data) and dup.data_summary["final_rows"] == len(data) + 7


def test_fit_without_valid_trains_the_hp_epochs_and_with_valid_stops_early():
    pool = _pool(60)
    r = routers.get_router("ragrouter", seed=0, **TINY).fit(pool[:45], None)
    h = pd.DataFrame(r.history)
    assert list(h[h.stage == "final"].epoch) == [1, 2, 3] and "val_auc" not in h
    r2 = routers.get_router("ragrouter", seed=0, **{**TINY, "final_epochs": 30, "final_patience": 1}).fit(pool[:45], pool[45:])
    fin = pd.DataFrame(r2.history).query("stage == 'final'")
    assert fin.val_auc.notna().all() and len(fin) < 30
    assert selection.best_epochs(r2.history, "ragrouter")["final_epochs"] == int(fin.epoch[fin.val_auc.idxmax()])


def test_prepared_data_is_not_prepared_again(monkeypatch):
    pool = _pool()
    td = training_data.prepare_split(pool, None, 0, None, augment=False, sample=False, log=lambda *_: None)
    monkeypatch.setattr(training_data, "prepare_split", lambda *a, **k: (_ for _ in ()).throw(AssertionError("re-run")))
    r = routers.get_router("ragrouter", seed=0, **TINY).fit(pool, None, prepared=td)
    assert r.data_summary["training_rows"] == len(pool)


def test_seeds_in_either_order_and_warm_or_cold_cache_give_identical_scores(tmp_path, monkeypatch):
    data, probe = _pool(), list(_pool(12, seed=5).prompt)

    def run(seeds, root):
        monkeypatch.setenv("RAGROUTER_CACHE", str(tmp_path / root))
        return {s: routers.get_router("ragrouter", seed=s, **TINY).fit(None, None, prepared=data).score(probe)
                for s in seeds}
    a = run([0, 1], "c1")
    b = run([1, 0], "c2")          # other order, cold cache
    c = run([1, 0], "c1")          # other order, warm cache (extractors and embeddings from c1)
    for s in (0, 1):
        np.testing.assert_array_equal(a[s], b[s])
        np.testing.assert_array_equal(a[s], c[s])
    assert not np.allclose(a[0], a[1])


def test_cached_extractor_rebuilds_no_inputs(monkeypatch):
    data = _pool()
    routers.get_router("ragrouter", seed=0, **TINY).fit(None, None, prepared=data)
    calls = []
    orig = ragrouter.RAGRouter._inputs
    monkeypatch.setattr(ragrouter.RAGRouter, "_inputs", lambda self, p, parsed=None: calls.append(len(list(p))) or orig(self, p, parsed))
    r = routers.get_router("ragrouter", seed=0, **{**TINY, "k": 3}).fit(None, None, prepared=data)
    assert calls == [] and r.k == 3
    assert any(h["stage"] == "extractor" for h in r.history)  # its history came with it


def test_worked_example_lists_the_neighbours_and_the_models_output():
    data = _pool()
    r = routers.get_router("ragrouter", seed=0, **TINY).fit(None, None, prepared=data)
    q = "Please explain the rivers number 99 in the book."
    tab = ragrouter_parts.worked_example(r, q)
    assert len(tab) == r.k + 1 and tab.role.tolist() == ["query"] + ["neighbour"] * r.k
    assert tab.strong_win_prob[0] == pytest.approx(float(r.score([q])[0]), abs=1e-6)
    nb = tab.iloc[1:]
    assert nb.distance.is_monotonic_increasing
    by_text = data.set_index("prompt")
    assert (nb.score.to_numpy() == by_text.loc[nb.prompt, "score"].to_numpy()).all()


def test_source_fixed_effects_change_training_not_scoring_inputs():
    data = _pool()
    fe = routers.get_router("ragrouter", seed=0, **TINY).fit(None, None, prepared=data)
    assert fe.final.source_bias.active and fe.extractor.source_bias.active
    none = routers.get_router("ragrouter", seed=0, alignment="none", **TINY).fit(None, None, prepared=data)
    assert not none.final.source_bias.active
    assert fe.extractor_key != none.extractor_key


def test_llm_training_prompts_never_list_a_copy_of_their_own_row(tmp_path, monkeypatch):
    """The LLM final model's training prompts take the out-of-fold neighbours: a row's augmented copy
    (same origin, other text, same label) is in the KB but never among that row's listed neighbours."""
    from ragrouter_lib.data import hub
    from ragrouter_lib.routers import ragrouter_llm as L
    data = _with_variants(_pool())
    got = {}
    monkeypatch.setattr(L, "train_scorer", lambda scorer, tok, texts, y, *a, **k: got.update(texts=texts) or [])
    r = routers.get_router("ragrouter_llm", seed=0, llm_path=str(hub.tiny_llm(tmp_path / "llm")), load_4bit=False,
                           **TINY).fit(None, None, prepared=data)
    assert len(got["texts"]) == len(data) == len(r.train_rows)
    copies = dict(zip(data.source_id.dropna(), data.prompt[data.source_id.notna()]))  # origin -> copy
    own = dict(zip(data.pool_id, data.prompt))
    pairs = [(own[o], c) for o, c in copies.items()] + [(c, own[o]) for o, c in copies.items()]
    assert pairs and set(copies.values()) <= set(r.kb_texts)
    listed = {t.split("\n")[1][len("Query: "):]: {line[len("- (s) "):] for line in t.splitlines() if line.startswith("- (")}
              for t in got["texts"]}
    assert all(len(v) == r.k for v in listed.values())
    leaks = [(row, copy) for row, copy in pairs if copy in listed[row]]
    assert not leaks, f"{len(leaks)} of {len(pairs)} rows list their own copy, e.g. {leaks[0]}"


def test_a_scored_prompt_is_parsed_once_with_the_cache_off(monkeypatch):
    """Single-query latency (notebook 05's table runs with the feature cache off): the extractor's
    graph and the structural features read one parse; the old score() parsed every prompt twice."""
    r = routers.get_router("ragrouter", seed=0, **TINY).fit(None, None, prepared=_pool())
    calls = []
    orig = syntax.parse_uncached
    monkeypatch.setattr(syntax, "parse_uncached", lambda t, p: calls.append(len(t)) or orig(t, p))
    with encoders.feature_cache(enabled=False):
        p = r.score(["Tom has 3 apples and buys 4 more; how many apples does Tom have now?"])
    assert calls == [1] and p.shape == (1,)
