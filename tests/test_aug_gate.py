"""The augmentation's quality gate (``pipeline.aug_gate``), its independent check and the reading
audit (``pipeline.aug_check``): planted broken variants must be stopped, a missing judgment flagged."""
import numpy as np
import pandas as pd
import pytest

from ragrouter_lib.data import models
from ragrouter_lib.pipeline import aug_check, aug_gate, augmentation, variants


@pytest.fixture(scope="module")
def nlp():
    return variants.spacy_nlp()


@pytest.fixture(scope="module")
def wn():
    return models.wordnet()


FRAGMENTS = [("Joan is at the grocery store.", "At the grocery store, Joan is.", "prep_front", "predicate fronted"),
             ("Screech owls nest in holes in trees.", "In holes in trees, Screech owls nest.", "prep_front",
              "capital kept inside"),
             ("What part of the digestive system first causes chemical changes to food?",
              "To food, what part of the digestive system first causes chemical changes?", "prep_front", "question fronting"),
             ("Thomas Edison most likely invented the light bulb by using",
              "By using, Thomas Edison most likely invented the light bulb", "prep_front", "move in an unfinished stem"),
             ("At the estate sale, John saw the hammer was cheaper than the screwdriver, because the _ was used.",
              "John saw the hammer was cheaper than the screwdriver, because the _ was used at the estate sale.", "prep_back",
              "moved into a clause"),
             ("The speed and general direction of motion of a galaxy can be determined by",
              "General direction and the speed of motion of a galaxy can be determined by", "conjunct_swap",
              "swap at sentence start"),
             ("She bought pecans, walnuts and cashews in a ratio by weight of 2:3:1, respectively.",
              "She bought pecans, cashews and walnuts in a ratio by weight of 2:3:1, respectively.", "conjunct_swap",
              "swap in a list or respectively")]
GOOD_MOVES = [("The boy read the book in the library.", "In the library, the boy read the book.", "prep_front"),
              ("After a rain, a puddle of water remains on a sidewalk.", "A puddle of water remains on a sidewalk after a rain.",
               "prep_back"),
              ("Which statement describes asteroids and comets?", "Which statement describes comets and asteroids?",
               "conjunct_swap")]


def test_parse_gate_stops_fragments_and_keeps_good_moves(nlp):
    for src, var, op, flag in FRAGMENTS:
        assert flag in aug_gate.parse_flags(nlp(src), nlp(var), op), var
    for src, var, op in GOOD_MOVES:
        assert aug_gate.parse_flags(nlp(src), nlp(var), op) == [], var


def test_candidates_never_offer_a_fragment(nlp, wn):
    r = pd.Series({"pool_id": "p", "prompt": "Joan is at the grocery store.", "source": "s"})
    good, rejected = augmentation.candidates(r, wn, nlp)
    assert not any(v.text.startswith("At the grocery store") for v, _ in good)
    assert any(x["reason"] == "predicate fronted" for x in rejected)


WRONG_SENSE = {  # source stem -> substitutes a wrong WordNet sense would bring in (seen in the old run)
    "The most common source of nonrenewable resources used to generate electricity in the state of Nevada is":
        {"province", "origin", "beginning", "root"},
    "Which form of energy is produced when a rubber band vibrates?": {"signifier", "descriptor"},
    "What is the most likely effect on gulf sturgeons?": {"consequence"},  # a collocation with "on"
    "The teenager chose a pin, but the _ was too huge.": {"vast"},  # adjectives are not substituted
    "Which of the following could help to reduce a home heating bill in winter?": {"multitude", "followers"},
}
# pairs that pass WordNet (process.n.01 is procedure.n.01) or the parse, and that the fluency gate must stop
READ_WORSE = [("Which example best demonstrates the process of conduction?",
               "Which example best demonstrates the procedure of conduction?"),
              ("Joan is at the grocery store.", "At the grocery store, Joan is."),
              ("Which form of energy is produced when a rubber band vibrates?",
               "Which signifier of energy is produced when a rubber band vibrates?"),
              ("The most common source of nonrenewable resources used to generate electricity in the state of Nevada is",
               "The most common origin of nonrenewable resources used to generate electricity in the province of Nevada is")]


def test_sense_gate_refuses_unclear_senses_and_names(nlp, wn):
    for stem, wrong in WRONG_SENSE.items():
        for seed in range(4):
            for v in variants.semantic_variants(stem, wn, nlp, rng=np.random.default_rng(seed), check_result=False):
                words = {w.strip(".,?()").lower() for w in v.text.split()}
                assert not words & wrong, v.text
    doc = nlp("The most common source of energy in the state of Nevada is coal.")
    state = [t for t in doc if t.text == "state"][0]
    assert aug_gate.clear_sense(state, wn, "n") is None  # near a name, and a place sense
    doc = nlp("A student measured the temperature of the water.")
    assert aug_gate.clear_sense(doc[4], wn, "n").name() == "temperature.n.01"  # one dominant sense: allowed
    assert aug_gate.clear_sense(nlp("The boy read the book.")[4], wn, "n") is None  # book: no dominant sense


def test_gloss_is_specific_and_ends_its_phrase(nlp, wn):
    doc = nlp("Two forces act on a block.")  # block.n.01's only hypernym: artifact (too generic)
    assert aug_gate.gloss(doc[5], wn.synsets("block", "n")[0], set()) is None
    doc = nlp("The rock fell on the water.")  # water: liquid (depth 4) refused, binary compound (7) allowed
    assert aug_gate.gloss(doc[5], wn.synsets("water", "n")[0], set()) == "binary compound"
    doc = nlp("Two forces act on a wood block.")  # a compound head: the gloss would split the phrase
    assert aug_gate.gloss(doc[6], wn.synsets("block", "n")[0], set()) is None
    doc = nlp("Students saw a bird of prey.")
    bird = [t for t in doc if t.text == "bird"][0]
    assert aug_gate.gloss(bird, wn.synsets("bird", "n")[0], set()) is None  # a right child: not phrase-final
    doc = nlp("The students saw a bird.")
    assert aug_gate.gloss(doc[4], wn.synsets("bird", "n")[0], set()) == "vertebrate"


def test_fluency_gate_stops_wrong_senses_and_fragments_with_smollm2():
    ratios = aug_gate.ppl_ratios(READ_WORSE + [("The boy read the book in the library.",
                                                "In the library, the boy read the book.")])
    assert not aug_gate.lm_pass(ratios[:-1]).any() and aug_gate.lm_pass(ratios[-1])


def test_lm_gate_drops_candidates_that_read_worse(monkeypatch, nlp, wn):
    pool = pd.DataFrame({"pool_id": ["a", "b"], "prompt": ["The boy read the book in the library today.",
                                                         "Which statement describes asteroids and comets?"],
                         "source": "s", "score": 5, "strong_needed": 0})
    monkeypatch.setattr(augmentation, "source_quality", lambda df: pd.Series(True, index=df.index))
    monkeypatch.setattr(aug_gate, "ppl_ratios", lambda pairs, gate=None: np.full(len(pairs), 3.0))
    aug, rej = augmentation.augment_pool(pool, factor=1.0, progress=False, nlp=nlp, wn=wn)
    assert aug.empty and set(rej.source_id[rej.stage == "gate: LM"]) == {"a", "b"} and "not scored" not in set(rej.stage)
    monkeypatch.setattr(aug_gate, "ppl_ratios", lambda pairs, gate=None: np.full(len(pairs), 1.0))
    aug, rej = augmentation.augment_pool(pool, factor=1.0, progress=False, nlp=nlp, wn=wn)
    assert len(aug) == 2
    acc = augmentation.acceptance(aug, rej)
    assert acc.kept.sum() == 2 and (acc.pass_rate.dropna() <= 1).all()
    assert augmentation.acceptance(aug, rej, "source").rows_gained.sum() == 2


def test_audit_flags_a_sampled_variant_without_judgment(tmp_path):
    aug = pd.DataFrame({"pool_id": [f"aug:p{i}:synonym" for i in range(5)], "source_id": [f"p{i}" for i in range(5)],
                        "prompt": [f"Variant number {i} of a question here?" for i in range(5)], "op": "synonym"})
    orig = pd.DataFrame({"pool_id": [f"p{i}" for i in range(5)], "prompt": [f"Source {i} of a question here?" for i in range(5)]})
    sample = aug_check.audit_sample(aug, orig, n=5)
    assert sample.equals(aug_check.audit_sample(aug.iloc[::-1], orig, n=5))  # the same draw, any row order
    first3 = aug[aug.pool_id.isin(sample.pool_id[:3])]  # a run that stopped earlier: the same first rows
    assert aug_check.audit_sample(first3, orig, n=3).equals(sample.head(3))
    judged = sample.iloc[:4].assign(verdict=["ok", "ok", "broken", "meaning changed"], note="")
    path = tmp_path / "audit.csv"
    judged[["pool_id", "variant", "verdict", "note"]].to_csv(path, index=False)
    out = aug_check.load_audit(sample, path, target_ok=2)
    assert out.verdict.tolist().count("unjudged") == 1 and out.attrs["summary"]["unjudged"] == 1
    assert out.attrs["summary"]["ok"] == 2 and out.attrs["summary"]["met"]
    assert (aug_check.load_audit(sample, tmp_path / "none.csv").verdict == "unjudged").all()


def test_committed_audit_uses_the_three_verdicts():
    path = aug_check.AUDIT["path"]
    if not path.exists():
        pytest.skip("no committed audit")
    a = pd.read_csv(path, keep_default_na=False)
    assert set(a.verdict) <= set(aug_check.VERDICTS) and len(a) >= aug_check.AUDIT["n"]
    assert not a.duplicated(["pool_id", "variant"]).any()


def test_independent_check_says_when_gemma_is_missing(monkeypatch):
    pairs = pd.DataFrame({"source_text": ["The boy read the book in the library."] * 3,
                          "variant": ["In the library, the boy read the book.", "The boy read the book in the library today.",
                                      "Purple engines sing loudly under the ocean."],
                          "method": "syntactic", "op": ["prep_front", "x", "y"]})

    def broken(*a, **k):
        raise RuntimeError("no gemma here")
    monkeypatch.setattr(aug_check, "gemma_perplexities", broken)
    q = aug_check.independent_check(pairs, n=3, seed=0)
    assert q.attrs["summary"]["lm"].startswith("unavailable") and "reads worse (Gemma)" not in q
    assert q.set_index("variant").loc["Purple engines sing loudly under the ocean.", "error"]
    assert not q.set_index("variant").loc["In the library, the boy read the book.", "error"]
