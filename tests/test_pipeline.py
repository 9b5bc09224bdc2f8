"""RAGRouter's data pipeline: augmentation outputs, the leakage check on augmented rows and the
on/off switches (the sampler's levels and weights: test_sampling_levels.py)."""
import numpy as np
import pandas as pd
import pytest

from ragrouter_lib.core.config import setup
from ragrouter_lib.data import leakage, models
from ragrouter_lib.runs import experiments
from ragrouter_lib.pipeline import augmentation, training_data, variants

SENTENCES = ["The boy read the book in the library.",
             "In 1990, the company moved its headquarters to Texas.",
             "Cats and dogs are common household pets.",
             "A student measured the temperature of the water every hour during the experiment.",
             "Question:Which part of a sunflower plant absorbs nutrients and water?\nAnswer:"]


@pytest.fixture(scope="module")
def nlp():
    return variants.spacy_nlp()


def test_syntactic_variants_parse_and_differ(nlp):
    found = 0
    for s in SENTENCES:
        for v in variants.syntactic_variants(s, nlp):
            assert v.ok, (v.text, v.reason)
            assert v.text != s and v.method == "syntactic"
            src, var = nlp(variants.split_stem(s)[1]), nlp(variants.split_stem(v.text)[1])
            assert sorted(t.lower_ for t in src if t.is_alpha) == sorted(t.lower_ for t in var if t.is_alpha)
            found += 1
    assert found >= 4


def test_semantic_variants_follow_wordnet(nlp):
    wn = models.wordnet()
    sentence = "Which tool would a student use to measure the length of a leaf?"  # leaf: one clear sense
    vs = {v.op: v for v in variants.semantic_variants(sentence, wn, nlp)}
    assert vs and all(v.ok for v in vs.values())
    if "hypernym" in vs:
        assert "(a kind of " in vs["hypernym"].text
    if "synonym" in vs:
        changed = [(a.strip(".?").lower(), b.strip(".?").lower())
                   for a, b in zip(sentence.split(), vs["synonym"].text.split()) if a != b]
        assert changed
        for word, substitute in changed:  # each substitute is a WordNet synonym of the word
            assert substitute in {lm.name().lower() for s in wn.synsets(word) for lm in s.lemmas()}


def test_check_rejects_broken_outputs(nlp):
    src = "The boy read the book in the library."
    bad = {"The boy read , , the book in the library.": "broken punctuation",
           "the boy read the book in the library.": "lost sentence capital",
           "The boy read the book. In the library.": "sentence count changed",
           src: "identical to source"}
    for text, reason in bad.items():
        v = variants.check(src, variants.Variant(text, "syntactic", "test"), nlp)
        assert not v.ok and v.reason == reason
    v = variants.check("Sam has 3 apples and eats one.", variants.Variant("Sam has 4 apples and eats one.", "semantic", "x"), nlp)
    assert v.reason == "numbers changed"
    v = variants.check("Question:Why is the sky blue at noon?\nAnswer:",
                       variants.Variant("Inquiry:Why is the sky blue at noon?\nAnswer:", "semantic", "x"), nlp)
    assert not v.ok


def test_augmented_planted_evaluation_prompt_is_caught():
    cfg = setup("smoke", verbose=False)
    evals = {b: ev.head(30) for b, ev in experiments.load_evals(cfg).items()}
    pool = experiments.load_pool(cfg).head(40)
    planted = pd.concat([pool.head(1)] * 8, ignore_index=True).assign(  # the gate is strict: plant several
        pool_id=[f"planted{i}" for i in range(8)], prompt=evals["gsm8k"].prompt.iloc[:8].to_numpy(),
        source="gsm8k-train", panel="routerbench")
    aug, _ = augmentation.augment_pool(planted, factor=1.0, progress=False)
    assert len(aug) >= 1 and not aug.prompt.isin(planted.prompt).any()
    with pytest.raises(leakage.LeakageError):
        experiments.check_leakage(pd.concat([pool, aug], ignore_index=True), evals)


BROKEN = [("Which of the following is NOT a mixture?", "Which of the followers is NOT a mixture?", "semantic"),
          ("What must architects consider for a new concert hall?",
           "What must architects consider for a new concert hallway?", "semantic"),
          ("The Moon revolves around Earth about once every", "About once every, the Moon revolves around Earth",
           "syntactic"),
          ("The boy read the book in the library.", "In the library, The boy read the book.", "syntactic")]
GOOD = [("The boy read the book in the library.", "In the library, the boy read the book.", "syntactic"),
        ("In 1990, the company moved its headquarters to Texas.",
         "The company moved its headquarters to Texas in 1990.", "syntactic"),
        ("A student measured the temperature of the water every hour.",
         "A student measured the temperature of the water every hour.".replace("measured", "measured"), "x")]


def test_tightened_filter_rejects_what_the_old_one_accepted(nlp):
    for i, (src, var, method) in enumerate(BROKEN):
        if i != 2:  # the old filter let these in
            assert variants.check(src, variants.Variant(var, method, "t"), nlp, strict=False).ok, var
        v = variants.check(src, variants.Variant(var, method, "t"), nlp)
        assert not v.ok and (v.reason in variants.STRUCTURE_CHECKS or i == 2), (var, v.reason)
    for src, var, method in GOOD[:2]:
        assert variants.check(src, variants.Variant(var, method, "t"), nlp).ok, var


def test_quality_check_flags_planted_broken_variants(nlp):
    pairs = pd.DataFrame([{"source_text": s, "variant": v, "method": m, "broken": True} for s, v, m in BROKEN] +
                         [{"source_text": s, "variant": v, "method": m, "broken": False} for s, v, m in GOOD[:2]])
    q = augmentation.quality_check(pairs, n=100, seed=0, nlp=nlp, lm=False, encoder=False)
    assert len(q) == len(pairs)
    truth = pairs.set_index("variant").broken
    assert (q.error.to_numpy() == truth.loc[q.variant].to_numpy()).all()
    assert q.attrs["summary"]["error_rate"] == pytest.approx(len(BROKEN) / len(pairs))
    aug = pd.DataFrame({"source_id": ["p1", "p2"], "prompt": ["v1", "v2"], "method": "syntactic", "op": "x"})
    got = augmentation.variant_pairs(aug, pd.DataFrame({"pool_id": ["p2", "p1"], "prompt": ["s2", "s1"]}))
    assert got.source_text.tolist() == ["s1", "s2"] and got.variant.tolist() == ["v1", "v2"]


def test_switches_remove_exactly_their_step(tmp_path):
    cfg = setup("smoke", verbose=False)
    pool = experiments.load_pool(cfg).head(150)
    full = training_data.prepare(pool, 0, tmp_path, augment=True, sample=True, log=lambda *_: None)
    no_sample = training_data.prepare(pool, 0, tmp_path, augment=True, sample=False, log=lambda *_: None)
    no_aug = training_data.prepare(pool, 0, tmp_path, augment=False, sample=True, log=lambda *_: None)
    none = training_data.prepare(pool, 0, tmp_path, augment=False, sample=False, log=lambda *_: None)
    assert none.train.pool_id.tolist() == none.original.pool_id.tolist()
    assert no_sample.train.pool_id.tolist() == pd.concat([no_sample.original, no_sample.augmented]).pool_id.tolist()
    assert no_aug.augmented.empty and set(no_aug.train.pool_id) <= set(no_aug.original.pool_id)
    assert full.augmented.pool_id.tolist() == no_sample.augmented.pool_id.tolist()
    assert len(full.original) < len(full.train) < len(full.both)
    for td in (full, no_sample, no_aug, none):  # validation rows never change
        assert td.valid.pool_id.tolist() == full.valid.pool_id.tolist()
        assert not set(td.train.pool_id) & set(td.valid.pool_id)


def test_prepare_accepts_the_notebook_call(tmp_path):
    """Notebook 04 passes the switches positionally: keep that call working."""
    cfg = setup("smoke", verbose=False)
    pool = experiments.load_pool(cfg).head(60)
    td = training_data.prepare(pool, 0, tmp_path, False, False, 0.3, 0.5)
    assert td.switches == {"augment": False, "sample": False} and len(td.train) == len(td.original)


def test_ablation_tables_use_the_thesis_names_and_pair_seeds():
    from ragrouter_lib.data import loading
    from ragrouter_lib.runs import ablations
    thesis = set(loading.load_reference("paper_tables").query("table >= 3").model)
    ours = {n for a in ablations.ABLATIONS.values() for n in (a.with_, a.without)}
    assert ours == thesis
    def rows(apgr, cpt, crit):
        return pd.DataFrame({"seed": [0, 1, 2], "benchmark": "mmlu", "cpt50": cpt, "cpt80": cpt,
                             "apgr": apgr, "criterion": crit, "hp": '{"k": 10}'})
    full = rows([0.60, 0.62, 0.61], [40.0, 41.0, 39.0], 0.62)
    worse = rows([0.55, 0.58, 0.57], [45.0, 44.0, 46.0], 0.58).assign(table=3, model=ablations.ABLATIONS[3].without)
    tab = ablations.table(full, worse, 3)
    assert list(tab.model) == [ablations.ABLATIONS[3].without, ablations.ABLATIONS[3].with_]
    assert list(tab.columns[:8]) == ["model", "cpt50", "cpt80", "apgr", "cpt50_sd", "cpt80_sd", "apgr_sd", "n_seeds"]
    d = ablations.paired(full, worse, 3)
    np.testing.assert_allclose(d.apgr, [0.05, 0.04, 0.04])
    assert list(tab.criterion) == [0.58, 0.62]


def test_a_rows_variant_does_not_depend_on_the_other_rows_and_the_memo_computes_it_once(monkeypatch):
    cfg = setup("smoke", verbose=False)
    pool = experiments.load_pool(cfg)
    pool = pool[augmentation.source_quality(pool)].head(24)
    memo = {}
    whole, _ = augmentation.augment_pool(pool, factor=1.0, progress=False, memo=memo)
    part, _ = augmentation.augment_pool(pool.iloc[::-2], factor=1.0, progress=False)  # reversed subset, fresh memo
    assert len(whole) > 0 and len(part) > 0
    got = whole.set_index("pool_id").prompt
    assert all(got.get(p) == t for p, t in zip(part.pool_id, part.prompt))
    calls = []
    monkeypatch.setattr(augmentation, "gate_rows", lambda *a, **k: calls.append(1) or [])
    again, _ = augmentation.augment_pool(pool.iloc[::-2], factor=1.0, progress=False, memo=memo)
    assert calls == [] and again.prompt.tolist() == part.prompt.tolist()


HASH_PROBE = """
import json
from ragrouter_lib.data import models
from ragrouter_lib.pipeline import variants
wn = models.wordnet()
print(json.dumps({w: [h.name() for h in variants.hypernyms(wn.synsets(w)[0])] for w in ("tank", "rainstorm")}))
"""


def test_hypernym_order_does_not_depend_on_the_process_hash_seed():
    """NLTK keeps a synset's hypernyms in a set, whose order follows Python's per-process string
    hash ("tank" has three); the semantic expansion takes the first, so it must be fixed. Under hash
    seeds 1, 2 and 6 the raw ``synset.hypernyms()`` order of "tank" and "rainstorm" differs."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path
    out = []
    for seed in ("1", "2", "6"):
        res = subprocess.run([sys.executable, "-c", HASH_PROBE], env={**os.environ, "PYTHONHASHSEED": seed},
                             capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1], check=True)
        out.append(json.loads(res.stdout.strip().splitlines()[-1]))
    assert len(out[0]["tank"]) == 3 and out[0] == out[1] == out[2], out
