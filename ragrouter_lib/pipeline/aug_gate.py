"""The augmentation's quality gate: which rewritten questions may become training rows (thesis:
Table 3's "with augmentation" keeps ~50k *high-quality* new rows; the thesis filters by an LLM
judge's scores, which cannot run offline).

Every new row inherits its source's routing label, so a variant is kept only if it reads as well as
its source and says the same thing. Three gates, all parameters in ``GATE`` (their one home; the
augmentation cache key covers this module's code, and ``training_data`` puts ``GATE`` in the key):

- **sense** (before a WordNet operator may touch a word, ``clear_sense``): the word's most frequent
  WordNet sense carries >= ``min_sense_share`` of its tagged uses (SemCor counts) and >=
  ``min_sense_count`` of them, its lexicographer file is not a place, person or group (no
  "state -> province of Nevada"), no proper noun or named entity is its head, child or neighbour;
  a synonym (nouns and verbs only, not before a preposition) must itself be used mostly in that
  sense (same thresholds, >= ``min_sub_len`` letters);
  a hypernym gloss ("X (a kind of Y)") only on concrete nouns (``GLOSS_LEXNAMES``) that end their
  phrase, with a specific hypernym (``gloss``) whose words are absent from the question.
- **parse** (``parse_flags``, after ``variants.check``; ``PARSE_CHECKS``): no clause left ending in
  its verb by a fronted predicate ("At the grocery store, Joan is."), no fronting in questions, no
  move in a sentence the question leaves unfinished (cloze stems), no
  phrase moved to the end of a sentence that ends inside a subordinate clause, no conjunct swap at
  the sentence start, in a list of three or in a "respectively" sentence, no sentence-initial word
  left capitalised inside the sentence ("In holes in trees, Screech owls nest.").
  Rules added after the reading audit (``aug_check``) found such variants among the accepted ones.
- **fluency** (``lm_pass``): SmolLM2-135M perplexity of the variant's changed sentences over the
  source's same sentences <= ``max_ppl_ratio`` (the pipeline's perplexity, ``sampling.perplexities``,
  window ``ppl_max_len`` tokens, cached per text; batches of ``ppl_batch``: the spans' lengths vary,
  and ``encoders.length_batches`` fills every batch to its size with repeats of one length).

The gate never reads MiniLM or Gemma: those measure it (``pipeline.aug_check``).
"""
from __future__ import annotations

import re

import numpy as np

from .sampling import perplexities

GATE = dict(min_sense_share=0.7, min_sense_count=5, min_sub_len=4, min_gloss_depth=6, max_ppl_ratio=1.15,
            ppl_max_len=96, ppl_batch=1)
BLOCKED_LEXNAMES = {"noun.location", "noun.person", "noun.group", "noun.communication", "noun.relation",
                    "noun.Tops", "verb.stative"}
GLOSS_LEXNAMES = {"noun.animal", "noun.plant", "noun.artifact", "noun.food", "noun.substance", "noun.object"}
SYNONYM_POS = {"n", "v"}  # adjectives swap collocations ("too huge" -> "too vast"): not substituted


# ----------------------------------------------------------------------------- sense
def _uses(synsets, word: str) -> list[int]:
    return [sum(lm.count() for lm in s.lemmas() if lm.name().lower() == word) for s in synsets]


def dominant(wn, word: str, pos: str, gate: dict = GATE):
    """The word's most frequent sense if it is clearly dominant (``GATE`` shares/counts), else None."""
    syns = wn.synsets(word, pos=pos)
    if not syns:
        return None
    uses = _uses(syns, word.lower())
    if uses[0] < gate["min_sense_count"] or uses[0] < gate["min_sense_share"] * max(sum(uses), 1):
        return None
    return syns[0]


def near_name(tok, window: int = 2) -> bool:
    """A proper noun or named entity is the token's head, a child or within ``window`` tokens."""
    doc = tok.doc
    near = [doc[i] for i in range(max(0, tok.i - window), min(len(doc), tok.i + window + 1)) if i != tok.i]
    near += [tok.head, *tok.children]
    return bool(tok.ent_type_) or any(t.pos_ == "PROPN" or t.ent_type_ for t in near if t.i != tok.i)


def clear_sense(tok, wn, pos: str, gate: dict = GATE):
    """The WordNet synset the operators may use for ``tok`` (see module docstring), or None."""
    if near_name(tok):
        return None
    s0 = dominant(wn, tok.lower_, pos, gate)
    if s0 is None or s0.lexname() in BLOCKED_LEXNAMES:
        return None
    return s0


def synonym(tok, s0, wn, pos: str, gate: dict = GATE) -> str | None:
    """A one-word lemma of ``s0`` whose own dominant sense is ``s0``, or None; none for adjectives
    and for words followed by a preposition or particle ("effect on" -> "consequence on",
    "happen to" -> "occur to": the collocation breaks)."""
    nxt = tok.doc[tok.i + 1] if tok.i + 1 < len(tok.doc) else None
    if pos not in SYNONYM_POS or (nxt is not None and nxt.pos_ in ("ADP", "PART")) or any(
            c.dep_ in ("prep", "prt") for c in tok.children):
        return None
    for lm in sorted(s0.lemmas(), key=lambda x: -x.count()):
        name = lm.name()
        if (name.lower() == tok.lower_ or not name.isalpha() or len(name) < gate["min_sub_len"]
                or name[0].isupper()):
            continue
        if dominant(wn, name, pos, gate) == s0:
            return name
    return None


def gloss(tok, s0, context: set, gate: dict = GATE) -> str | None:
    """The hypernym word for "X (a kind of Y)" when ``tok`` is a concrete noun ending its phrase
    (no right or compound children, not modifying a noun after it, followed by a space or a closing
    mark, not by "-"): a hypernym
    in the word's own lexicographer file, >= ``min_gloss_depth`` below WordNet's root (no "a kind
    of artifact"), whose words are not in the question already."""
    nxt = tok.doc[tok.i + 1].text if tok.i + 1 < len(tok.doc) else ""
    if (s0.lexname() not in GLOSS_LEXNAMES or any(c.i > tok.i or c.dep_ == "compound" for c in tok.children)
            or not (tok.whitespace_ or nxt[:1] in ",.;:?!)") or (tok.head.i > tok.i and tok.head.pos_ in ("NOUN", "PROPN"))):
        return None
    for h in sorted(s0.hypernyms(), key=lambda h: h.name()):
        name = h.lemmas()[0].name().replace("_", " ")
        if (h.lexname() == s0.lexname() and h.min_depth() >= gate["min_gloss_depth"] and name.lower() != tok.lower_
                and not set(name.lower().split()) & context):
            return name
    return None


# ----------------------------------------------------------------------------- parse
PARSE_CHECKS = {
    "predicate fronted": "a fronted phrase leaves its clause ending in the verb or auxiliary "
                         "(At the grocery store, Joan is.)",
    "capital kept inside": "the source's sentence-initial word stays capitalised inside the variant's "
                           "sentence although the source did not parse it as a named entity (In holes in trees, Screech owls nest.)",
    "question fronting": "a phrase fronted before a question's wh-word (To food, what part ...?)",
    "move in an unfinished stem": "a phrase moved in a sentence the question leaves unfinished (a cloze stem "
                                  "such as '... invented the light bulb by using' -> 'By using, Thomas Edison ...')",
    "moved into a clause": "a phrase moved to the end, where the sentence ends inside a subordinate or "
                           "coordinated clause that would swallow it (... because the _ was used at the estate sale.)",
    "swap at sentence start": "a conjunct swap of the sentence's subject-initial phrase (The speed and general "
                              "direction -> General direction and the speed)",
    "swap in a list or respectively": "a conjunct swap inside a list of three or more or a 'respectively' "
                                      "sentence (pecans, walnuts and cashews ... 2:3:1, respectively)",
}
CLAUSE_DEPS = {"advcl", "ccomp", "relcl", "conj", "xcomp", "acl", "pcomp"}


def parse_flags(sd, vd, op: str) -> list[str]:
    """Which ``PARSE_CHECKS`` the variant parse ``vd`` fails against its source parse ``sd``."""
    out = []
    vs, ss = list(vd.sents)[0], list(sd.sents)[0]
    body = [t for t in vs if not t.is_punct]
    if op.endswith("_front"):
        if body and (body[-1].i == vs.root.i or body[-1].pos_ == "AUX" or body[-1].head.i == vs.root.i
                     and body[-1].dep_ in ("aux", "auxpass", "neg")):
            out.append("predicate fronted")
        if ss.text.rstrip().endswith("?"):
            out.append("question fronting")
    if (op.endswith(("_front", "_back"))) and not re.search(r"[.?!][\"')\]]*$", ss.text.strip()):
        out.append("move in an unfinished stem")
    if op.endswith("_back"):
        last = [t for t in ss if not t.is_punct][-1]
        up = []
        while last.i != ss.root.i and last.head.i != last.i:
            up.append(last.dep_)
            last = last.head
        if set(up) & CLAUSE_DEPS:
            out.append("moved into a clause")
    if op == "conjunct_swap":
        if vs[0].lower_ != ss[0].lower_:
            out.append("swap at sentence start")
        if "respectively" in ss.text.lower() or any(t.dep_ == "conj" and t.head.dep_ == "conj" for t in ss):
            out.append("swap in a list or respectively")
    first = sd[0]
    if first.text[:1].isupper() and not first.ent_type_ and first.text != "I" and not first.text.isupper():
        if any(t.text == first.text and not t.is_sent_start for t in vd):
            out.append("capital kept inside")
    return out


# ----------------------------------------------------------------------------- fluency
def changed_sentences(sd, vd) -> tuple[str, str]:
    """The sentences where source and variant differ (their sentence counts agree after ``check``)."""
    ss, vs = [s.text for s in sd.sents], [s.text for s in vd.sents]
    if len(ss) != len(vs):
        return sd.text, vd.text
    pairs = [(a, b) for a, b in zip(ss, vs) if a != b] or [(sd.text, vd.text)]
    return " ".join(a for a, _ in pairs), " ".join(b for _, b in pairs)


def ppl_ratios(pairs, gate: dict = GATE) -> np.ndarray:
    """SmolLM2 perplexity of each variant span over its source span (``pairs``: (source, variant))."""
    if not len(pairs):
        return np.zeros(0)
    src, var = [a for a, _ in pairs], [b for _, b in pairs]
    p = perplexities(src + var, max_len=gate["ppl_max_len"], batch_size=gate["ppl_batch"], progress=False)
    return p[len(src):] / p[: len(src)]


def lm_pass(ratios, gate: dict = GATE) -> np.ndarray:
    return np.asarray(ratios) <= gate["max_ppl_ratio"]
