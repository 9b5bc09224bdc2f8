"""Pool v2 (issue 13): preamble removal, the shared truncation rule, the "strong needed" semantics
of every exact-pair source, both-fail policies, switchable sources, leakage/twin counts, LOSO."""
import numpy as np
import pandas as pd
import pytest

from ragrouter_lib.core import text
from ragrouter_lib.data import leakage
from ragrouter_lib.features import encoders
from ragrouter_lib.labels import pairwise, pool_labels, sources

S, W = pool_labels.STRONG, pool_labels.WEAK
PREAMBLE = "".join(f"Question: example {i} about {'wind ' * 20}?\nA) yes\nB) no\nAnswer:\nA\n\n"
                   for i in range(14))  # ~2k characters of few-shot examples


# ----------------------------------------------------------------------------- truncation rule
def test_truncate_ids_keeps_head_and_tail():
    ids = list(range(100))
    out = text.truncate_ids(ids, 20, head_share=0.25)
    assert out == list(range(5)) + list(range(85, 100))
    assert text.truncate_ids(ids[:20], 20) == ids[:20]
    with pytest.raises(ValueError):
        text.truncate_ids(ids, 0)


def test_encode_window_is_unchanged_for_short_prompts_and_keeps_special_tokens():
    tok = encoders.load_encoder("minilm")[0]
    texts = ["a short prompt", "word " * 400 + "the real question?"]
    new = text.encode_window(tok, texts, 128)
    old = tok(texts, truncation=True, max_length=128)["input_ids"]
    assert new[0] == old[0]
    assert len(new[1]) == 128 and new[1][0] == tok.cls_token_id and new[1][-1] == tok.sep_token_id
    assert "real question" in tok.decode(new[1]) and "real question" not in tok.decode(old[1])


def test_shared_preamble_does_not_hide_the_question():
    a, b = PREAMBLE + "Which gas do plants absorb?\nA) CO2\nB) O2", PREAMBLE + "Who wrote Hamlet?\nA) Marlowe\nB) Shakespeare"
    assert len(PREAMBLE) >= 2000
    old = sources.encoder_inputs([a, b], "head")
    assert old[0] == old[1]  # the defect: head-only truncation sees the preamble only
    new = sources.encoder_inputs([a, b], "window")
    assert new[0] != new[1]


# ----------------------------------------------------------------------------- preambles
def test_preamble_detected_from_data_and_cut_at_blank_line():
    qs = [f"Question: what is item {i} made of {'x' * i}?\nA) a\nB) b\nAnswer:" for i in range(20)]
    rows = [PREAMBLE + q for q in qs]
    pre = text.detect_preamble(rows)
    assert pre == PREAMBLE  # not the longer common prefix "…Question: what is item "
    out, found = text.strip_preambles(rows + ["Question: lone row"], ["s"] * 21)
    assert out[:20] == qs and out[20] == "Question: lone row" and found["s"] == PREAMBLE


def test_short_shared_opening_is_kept():
    rows = [f"Question: {w} is what?" for w in ("sun", "moon", "star", "rock")]
    assert text.detect_preamble(rows) == ""
    assert text.strip_preambles(rows, ["s"] * 4)[0] == rows


def test_preamble_of_a_minority_is_not_stripped():
    rows = [PREAMBLE + "q1", PREAMBLE + "q2"] + [f"other {i}" for i in range(6)]
    assert text.detect_preamble(rows, min_share=0.5) == ""
    assert text.detect_preamble(rows, min_share=0.25) == PREAMBLE


def test_no_two_pool_questions_share_an_encoder_input():
    pool = pool_labels.build_pool(sources=list(pool_labels.SOURCES))
    assert pool.attrs["preambles"]["arc-challenge"] and pool.attrs["preambles"]["winogrande"]
    assert not pool.prompt.str.startswith(pool.attrs["preambles"]["winogrande"][:200]).any()
    inputs = sources.encoder_inputs(pool.prompt, "window", 128)
    q = pd.DataFrame({"inp": inputs, "q": pool.prompt.map(leakage.normalize),
                      "n": sources.token_lengths(pool.prompt)})
    per_input = q.groupby("inp").q.nunique()
    shared = q[q.inp.isin(per_input[per_input > 1].index)]
    # the only tolerated collisions: over-long questions that differ only in the dropped middle
    # (measured: one pair of MATH [asy] diagrams); a shared preamble would collide hundreds of rows
    assert (shared.n > 126).all() and len(shared) <= 4, shared
    raw = pool[pool.source == "arc-challenge"].prompt_raw
    assert len(set(sources.encoder_inputs(raw, "head"))) == 1  # the defect the rule removes


# ----------------------------------------------------------------------------- label semantics
def test_mmlu_pro_and_alpaca_semantics_on_hand_made_rows():
    mp = pd.DataFrame({"sample_id": ["1", "2", "3", "4"], "prompt": list("abcd"),
                       "weak_correct": [1, 1, 0, 0], "strong_correct": [1, 0, 1, 0]})
    out = pool_labels.mmlu_pro_scores(mp)
    assert out.score.tolist() == [5, 4, 1, 3]
    ae = pd.DataFrame({"sample_id": ["1", "2", "3"], "prompt": list("abc"), "preference": [2.0, 1.0, 1.5]})
    out = pool_labels.alpaca_scores(ae)
    assert out.score.tolist() == [5, 2, 4]
    assert pairwise.pair_battles(out).winner.tolist() == ["b", "a", "tie"]
    with pytest.raises(ValueError, match="preference"):
        pool_labels.alpaca_scores(ae.assign(preference=[1.0, 3.0, 2.0]))


def test_semantics_table_agrees_with_the_mappings():
    t = pool_labels.PAIR_SEMANTICS
    assert ((t.score <= 3) == (t.label != "weak fine")).all()
    mp = t[t.source == "MMLU-Pro"].score.tolist()
    assert mp == pool_labels.mmlu_pro_scores(pd.DataFrame({"sample_id": list("wxyz"), "prompt": list("wxyz"),
                                                           "weak_correct": [1, 1, 0, 0],
                                                           "strong_correct": [1, 0, 1, 0]})).score.tolist()


def _pair_pool():
    return pd.DataFrame({"pool_id": list("abcd"), "source": ["x", "x", "y", "y"],
                         "score": [1, 3, 5, 2], "both_fail": [False, True, False, True]})


@pytest.mark.parametrize("policy,scores,weights,n", [
    ("strong-needed", [1, 3, 5, 2], [1, 1, 1, 1], 4),
    ("weak-fine", [1, 4, 5, 4], [1, 1, 1, 1], 4),
    ("dropped", [1, 5], [1, 1], 2),
    ("down-weighted", [1, 3, 5, 2], [1, pool_labels.BOTH_FAIL_WEIGHT, 1, pool_labels.BOTH_FAIL_WEIGHT], 4)])
def test_both_fail_policies(policy, scores, weights, n):
    out = pool_labels.apply_both_fail(_pair_pool(), policy)
    assert len(out) == n and out.score.tolist() == scores and out.weight.tolist() == weights
    assert out.strong_needed.tolist() == [int(s <= 3) for s in scores]


def test_unknown_policy_and_source_are_named():
    with pytest.raises(ValueError, match="both_fail policy 'maybe'"):
        pool_labels.apply_both_fail(_pair_pool(), "maybe")
    with pytest.raises(ValueError, match="unknown pool source 'squad'"):
        pool_labels.build_pool(sources=["squad"])


def test_sources_switch_and_both_fail_in_build_pool():
    base = pool_labels.build_pool()
    assert set(base.source) == set(pool_labels.DEFAULT_SOURCES)
    mp = pool_labels.build_pool(sources=["mmlu_pro", "winogrande"], both_fail="dropped")
    assert set(mp.source) == {"mmlu_pro", "winogrande"} and not mp.both_fail.any()
    full = pool_labels.build_pool(sources=["mmlu_pro"])
    assert len(full) == 5222 and full.both_fail.sum() == 1229  # (Mixtral, GPT-4o) both wrong
    assert (full.origin_id == full.pool_id).all() and (full.question == full.prompt).all()
    rb = pool_labels.build_pool(sources=["routerbench"], both_fail="weak-fine")
    assert (rb[rb.both_fail].score == 4).all() and set(rb.source) == {"arc-challenge", "winogrande", "mbpp"}


# ----------------------------------------------------------------------------- leakage and twins
def test_leakage_counts_finds_eval_matches_and_twins():
    pool = pd.DataFrame({"prompt": ["The cat sat because _ was tired.", "The cat sat because _ was tired!",
                                    "Unrelated question", "What is 2+2?", "what is 2 + 2"],
                         "source": ["wino", "wino", "a", "a", "b"]})
    ev = {"gsm8k": ["Unrelated  QUESTION"]}
    c = leakage.leakage_counts(pool, ev).set_index("source")
    assert c.loc["a", "eval exact"] == 1 and c.loc["wino", "eval exact"] == 0
    assert c.loc["wino", "twins in source, exact"] == 2
    assert c.loc["a", "twins across sources"] == 1 and c.loc["b", "twins across sources"] == 1
    emb = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0.2, 1]], float)
    c = leakage.leakage_counts(pool, ev, emb, {"gsm8k": np.array([[0, 0, 1.0]])}).set_index("source")
    assert c.loc["a", "eval near-duplicate"] == 1 and c.loc["b", "eval near-duplicate"] == 1


# ----------------------------------------------------------------------------- LOSO reference model
def _synthetic(seed=0, n=300):
    """Sources differ in base rate; within each, x0 ranks the label (higher = strong needed)."""
    rng = np.random.default_rng(seed)
    rows = []
    for k, base in enumerate([-2.0, 0.0, 2.0]):
        x0 = rng.normal(size=n)
        y = (x0 + base + rng.normal(scale=0.5, size=n) > 0).astype(int)
        x1 = base + rng.normal(scale=0.1, size=n)  # a feature that only names the source
        rows.append(pd.DataFrame({"x0": x0, "x1": -x1 * 3, "y": y, "source": f"s{k}"}))
    return pd.concat(rows, ignore_index=True)


def test_loso_auc_recovers_within_source_ranking_with_fixed_effects():
    df = _synthetic()
    X = df[["x0", "x1"]].to_numpy()
    fe = sources.loso_auc(X, df.y, df.source, fixed_effects=True)
    assert len(fe) == 3 and (fe > 0.8).all()
    target = np.r_[np.ones(len(df) - 100, bool), np.zeros(100, bool)]
    part = sources.loso_auc(X, df.y, df.source, target=target, held_out=["s2"])
    assert list(part.index) == ["s2"] and part.notna().all()


def test_choose_options_uses_a_fixed_target():
    df = _synthetic(n=120)
    df["both_fail"] = np.arange(len(df)) % 7 == 0
    df["score"] = np.where(df.y == 1, 2, 5)
    df.loc[df.both_fail, "score"] = 3
    df["strong_needed"] = (df.score <= 3).astype(int)
    df["weight"] = 1.0
    emb = df[["x0", "x1"]].to_numpy()
    res = sources.choose_options(df, emb, lengths=np.full(len(df), 10), new_sources=("s2",),
                                 target_sources=("s0", "s1"))
    assert len(res) == 2 * len(pool_labels.BOTH_FAIL_POLICIES)
    assert res["LOSO AUC (row-weighted)"].between(0, 1).all()
    assert res[res["new sources on"] == "none"]["AUC s2"].isna().all()


def test_per_source_sample_spreads_over_sources():
    pool = pd.DataFrame({"source": ["a"] * 50 + ["b"] * 10, "x": range(60)})
    out = sources.per_source_sample(pool, 20, seed=1)
    assert out.source.value_counts().to_dict() == {"a": 10, "b": 10} and out.index.is_monotonic_increasing
    assert sources.per_source_sample(pool, None) is pool
