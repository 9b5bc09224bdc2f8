"""The KB's source choice (routers/kb_sources.py) and KB rows beyond the training rows (routers/kb.py,
RAGRouter's ``kb_sources``): no neighbour from the query's own origin, no evaluation row in the choice."""
import numpy as np
import pandas as pd
import pytest

from ragrouter_lib import routers
from ragrouter_lib.data import leakage
from ragrouter_lib.routers import kb, kb_sources

TINY = {"extractor_epochs": 1, "final_epochs": 1, "augment": False, "sample": False, "k": 4, "n_folds": 3,
        "batch_size": 16}
SUBJECTS = ["apples", "trains", "planets", "proteins", "triangles", "rivers", "poems", "markets"]


def _pool(n=36, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame([{"pool_id": f"p{i}", "prompt": f"Please explain the {SUBJECTS[i % 8]} number {i} in the book.",
                          "source": ["alpha", "beta", "gamma"][i % 3], "panel": "routerbench",
                          "score": (s := int(rng.integers(1, 6))), "strong_needed": int(s <= 3)} for i in range(n)])


@pytest.fixture(autouse=True)
def tmp_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGROUTER_CACHE", str(tmp_path / "cache"))
    return tmp_path


def _clustered(n_per=40, seed=0):
    """Rows of four sources in 2-d-ish clusters: the label follows the cluster; source "a" / "b" cover clusters 0-2 / 3-5 only, "cover" has
    rows in every cluster (a KB that covers the queries), "noise" has random labels."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(6, 16)) * 3
    rows, emb = [], []
    for s in ("a", "b", "cover", "noise"):
        for i in range(n_per):
            c = int(rng.integers(0, 3)) + (3 if s == "b" else 0) if s in ("a", "b") else int(rng.integers(0, 6))
            y = int(c % 2) if s != "noise" else int(rng.integers(0, 2))
            v = centres[c] + rng.normal(size=16)
            rows.append({"pool_id": f"{s}{i}", "prompt": f"{s} question {i} about cluster {c}", "source": s, "panel": "routerbench",
                         "score": 2 if y else 5, "strong_needed": y})
            emb.append(v / np.linalg.norm(v))
    return pd.DataFrame(rows), np.asarray(emb, np.float32)


def test_vote_never_reads_the_querys_own_origin():
    rows, emb = _clustered()
    # a copy of row 0 (source a) in another source: equal prompt after normalisation, same vector
    twin = {**rows.iloc[0].to_dict(), "pool_id": "twin", "source": "b", "prompt": rows.prompt[0].upper() + " ?"}
    rows = pd.concat([rows, pd.DataFrame([twin])], ignore_index=True)
    emb = np.vstack([emb, emb[:1]])
    g = kb.origin_groups(rows).to_numpy()
    topk = kb_sources.pool_topk(rows, emb, k=5)
    v = kb.vote_from_topk(topk, ["b", "cover"], rows.strong_needed.to_numpy(), 5)
    nb = v["idx"]
    assert (nb >= 0).all()
    assert not (g[nb] == g[:, None]).any()  # never itself, never its twin
    assert len(rows) - 1 not in set(nb[0])


def test_ragrouter_kb_only_rows_never_neighbour_their_own_origin():
    data = _pool()
    extra = _pool(12, seed=3).assign(source="delta", pool_id=lambda d: "x" + d.pool_id,
                                     prompt=lambda d: d.prompt.str.replace("Please explain", "Describe"))
    extra.loc[0, "prompt"] = data.prompt[4].upper()  # a KB-only copy of a training prompt
    r = routers.get_router("ragrouter", seed=0, **{**TINY, "kb_sources": ("alpha", "beta", "gamma", "delta")})
    r.prepare_data(None, None, data)
    r.fit_extractor(data)
    tr, _ = r.embed_rows(data)
    r.build_kbs(data, tr, None, extra=extra)
    both = pd.concat([data, r.kb_meta.iloc[len(r.kb_rows):]], ignore_index=True)
    g = kb.origin_groups(both).to_numpy()
    g_kb = np.concatenate([g[r.kb_rows], g[len(data):]])
    assert len(r.kb_meta) == len(data) + len(extra) and r.data_summary["kb_only_rows"] == len(extra)
    assert not (g_kb[r.train_neighbours] == g[: len(data), None]).any()
    assert (r.kb_folds[r.train_neighbours] != r.train_folds[:, None]).all()
    assert (r.kb_folds[len(r.kb_rows):] == -1).sum() == len(extra) - 1  # the copy got its origin's fold


def test_kb_sources_drop_training_sources_from_the_kb():
    data = _pool()
    r = routers.get_router("ragrouter", seed=0, **{**TINY, "kb_sources": ("alpha", "beta")})
    r.prepare_data(None, None, data)
    r.fit_extractor(data)
    tr, _ = r.embed_rows(data)
    r.build_kbs(data, tr, None, extra=data.iloc[:0])
    assert set(r.kb_meta.source) == {"alpha", "beta"}
    assert routers.ROUTERS["ragrouter"].defaults["kb_sources"] is None  # inert by default


def test_an_evaluation_row_stops_the_kb_source_choice():
    rows, emb = _clustered()
    ev = {"mmlu": ["What is the capital of France?"], "gsm8k": ["Tom has 3 apples."]}
    kept, counts = kb_sources.guarded(rows, ev)
    assert len(kept) == len(rows) and counts.removed.sum() == 0
    bad = rows.copy()
    bad.loc[3, "prompt"] = "what is the capital of france"  # an evaluation prompt in a pool source
    with pytest.raises(leakage.LeakageError):
        kb_sources.guarded(bad, ev)
    pair = bad.assign(panel=np.where(bad.index == 3, "mmlu_pro", "routerbench"))  # in a pair source: removed
    kept, counts = kb_sources.guarded(pair, ev)
    assert len(kept) == len(rows) - 1 and int(counts.set_index("panel").removed["mmlu_pro"]) == 1
    with pytest.raises(leakage.LeakageError):
        kb_sources.guarded(rows.assign(source=np.where(rows.index == 0, "mmlu", rows.source)), ev)


def _domains(n_per=30, n_dom=6, seed=0):
    """Source d<i> asks only about domain i (two sub-topics, label = sub-topic), so with the KB of the
    other domains a held-out source finds nothing on topic; "cover" has rows of every domain and
    sub-topic; "noise" too, with random labels."""
    rng = np.random.default_rng(seed)
    centres, sub = rng.normal(size=(n_dom, 16)) * 4, rng.normal(size=(n_dom, 2, 16)) * 1.5
    rows, emb = [], []
    for s in [f"d{i}" for i in range(n_dom)] + ["cover", "noise"]:
        for i in range(n_per * (4 if s in ("cover", "noise") else 1)):  # many rows per domain: a vote can vary
            c = int(s[1:]) if s.startswith("d") else int(rng.integers(0, n_dom))
            y = int(rng.integers(0, 2))
            v = centres[c] + sub[c, y] + rng.normal(size=16) * 0.3
            y = y if s != "noise" else int(rng.integers(0, 2))
            rows.append({"pool_id": f"{s}-{i}", "prompt": f"{s} question {i} on domain {c}", "source": s,
                         "panel": "routerbench", "score": 2 if y else 5, "strong_needed": y})
            emb.append(v / np.linalg.norm(v))
    return pd.DataFrame(rows), np.asarray(emb, np.float32)


def test_choice_adds_the_covering_source_and_drops_the_noise():
    rows, emb = _domains()
    topk = kb_sources.pool_topk(rows, emb, k=5)
    domains = tuple(f"d{i}" for i in range(6))
    chosen, steps, cand = kb_sources.choose(topk, rows, 5, start=(*domains, "noise"), candidates=(*domains, "cover", "noise"))
    assert "cover" in chosen and "noise" not in chosen
    assert steps.criterion.is_monotonic_increasing and (steps.lo.iloc[1:] > 0).all()
    assert cand.set_index("source").delta["cover"] > 0


def test_choice_takes_no_step_whose_gain_is_noise_over_the_held_out_sources():
    """A gain made by one held-out source (the others unchanged) has an interval reaching zero: no step."""
    new, old = pd.Series([0.9, 0.5, 0.5, 0.5, 0.5, 0.5]), pd.Series([0.5] * 6)
    lo, hi = kb_sources.step_interval(new, old, seed=0, step="test")
    assert lo <= 0 < hi
    lo, _ = kb_sources.step_interval(new + 0.05, old, seed=0, step="test")
    assert lo > 0


def test_kb_rows_exclude_held_out_sources_and_prompts(monkeypatch):
    rows, _ = _clustered()
    monkeypatch.setattr(kb_sources.pool_labels, "build_pool", lambda sources: rows[rows.source.isin(sources)])
    monkeypatch.setattr(kb_sources.loading, "load_eval", lambda b: pd.DataFrame({"prompt": [f"{b} row"]}))
    out = kb_sources.kb_rows(["a", "cover"], exclude_sources=["a"], exclude_prompts=[rows.prompt[80]], near=False)
    assert set(out.source) == {"cover"} and rows.prompt[80] not in set(out.prompt)
    assert len(out) == (rows.source == "cover").sum() - 1


def test_signal_text_says_no_signal_with_the_number():
    t = pd.DataFrame({"source": ["a", "b"], "AUC": [0.51, 0.49], "lo": [0.45, 0.44], "hi": [0.57, 0.55]})
    assert "no signal" in kb_sources.signal_text(t) and "0.500" in kb_sources.signal_text(t)
    t.loc[0, ["AUC", "lo"]] = [0.7, 0.6]
    assert "1 of 2" in kb_sources.signal_text(t)


def test_choose_refuses_a_gain_that_one_held_out_source_makes(monkeypatch):
    rows = pd.DataFrame({"source": [f"s{i}" for i in range(6) for _ in range(2)] + ["x"] * 2})

    def fake_aucs(topk, rows, kb_set, k, targets=None):  # "x" in the KB lifts held-out s0 only
        return pd.Series({t: 0.9 if (t == "s0" and "x" in kb_set) else 0.5 for t in targets})
    monkeypatch.setattr(kb_sources, "loso_aucs", fake_aucs)
    start = tuple(f"s{i}" for i in range(6))
    chosen, steps, cand = kb_sources.choose({}, rows, 5, start=start, candidates=(*start, "x"))
    assert cand.set_index("source").delta["x"] > 0.001  # the greedy rule alone would take it
    assert chosen == start and len(steps) == 1
