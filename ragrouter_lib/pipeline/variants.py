"""Question variants for the augmentation step: syntactic rewrites, WordNet expansion, the check.

Thesis step: the two rewriting operators of multi-source augmentation (Table 3's "with
augmentation"): (a) dependency-parse-based syntactic variants and (b) knowledge-graph-guided
semantic expansion (ConceptNet in the thesis).

Deviations (also in README): parser spaCy ``en_core_web_sm`` (Stanza's models are not obtainable
offline); knowledge graph WordNet 3.0 (Debian's files through nltk) instead of ConceptNet, used
only where a word's sense is clearly dominant (``aug_gate``'s sense gate; no Lesk guessing).
Only the question stem (``split_stem``: the first real question line, without instruction lines
or a "Question:" label) is rewritten; options and the rest stay as they are. A variant is kept only
if it passes ``check``: it differs from the source, re-parses into the same number of sentences
with the same root verb, keeps the same multiset of content words (syntactic variants) or of
numbers (semantic ones), and has no broken punctuation. Rejected variants are returned with their
reason. The pipeline step that picks sources and labels the variants: ``pipeline.augmentation``.

>>> nlp = spacy_nlp()
>>> [v.text for v in syntactic_variants("The boy read the book in the library.", nlp)]
['In the library, the boy read the book.']
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import numpy as np

from ..core.seeding import step_seed
from ..data.models import spacy_nlp as shared
from . import aug_gate

CONTENT_POS = {"NOUN", "PROPN", "VERB", "ADJ", "NUM", "ADV"}
MOVABLE_DEPS = {"prep", "advcl", "npadvmod", "advmod"}


@dataclass
class Variant:
    text: str
    method: str  # "syntactic" or "semantic"
    op: str      # which transformation
    ok: bool = True
    reason: str = ""


def spacy_nlp():
    """The shared spaCy pipeline (``models.spacy_nlp``)."""
    return shared()


# ----------------------------------------------------------------------------- the question stem
_LABEL = re.compile(r"^\s*(question|q)\s*:\s*", re.I)


def split_stem(text: str) -> tuple[str, str, str]:
    r"""(prefix, stem, suffix): the stem is the first line with >= 5 words that is not an
    instruction ("Please answer ..."), without a leading "Question:" label; only it is rewritten.

    >>> split_stem("Please answer with the letter.\n\nQuestion:Why is the sky blue today?\nA) x")
    ('Please answer with the letter.\n\nQuestion:', 'Why is the sky blue today?', '\nA) x')
    """
    lines = text.split("\n")
    for i, line in enumerate(lines):
        body = _LABEL.sub("", line)
        if len(body.split()) >= 5 and not body.lower().startswith(("please", "answer")):
            label = line[: len(line) - len(body)]
            prefix = "\n".join(lines[:i]) + ("\n" if i else "") + label
            suffix = ("\n" if i < len(lines) - 1 else "") + "\n".join(lines[i + 1:])
            return prefix, body, suffix
    return "", "", text


# ----------------------------------------------------------------------------- syntactic variants
def _subtree_span(tok):
    left, right = tok.left_edge.i, tok.right_edge.i
    return left, right + 1


def _join(tokens_ws) -> str:
    return re.sub(r"\s+([,.;:?!])", r"\1", "".join(tokens_ws)).strip()


def _decap(tok) -> str:
    keep = tok.pos_ == "PROPN" or tok.text == "I" or (len(tok.text) > 1 and tok.text.isupper())
    return tok.text if keep else tok.text.lower()


def _front(sent, span) -> str | None:
    """Move the span (a subtree at the end of the sentence) to its front, followed by a comma."""
    a, b = span
    toks = list(sent)
    end_punct = toks[-1] if toks[-1].is_punct else None
    body_end = len(toks) - (1 if end_punct else 0)
    a, b = a - sent.start, b - sent.start
    if b != body_end or a == 0:
        return None
    moved = "".join(t.text_with_ws for t in toks[a:b]).strip()
    rest = toks[:a]
    if not rest or rest[-1].text == "," or any(t.text == "," and t.i < sent.root.i for t in rest):
        return None  # something is fronted already: a second fronting reads badly
    head = _decap(rest[0]) + rest[0].whitespace_
    body = head + "".join(t.text_with_ws for t in rest[1:])
    return _join([moved[0].upper() + moved[1:], ", ", body.rstrip(" ,"), end_punct.text if end_punct else ""])


def _back(sent, span) -> str | None:
    """Move a fronted subtree ("In 1990, ...") to the end of the sentence."""
    a, b = span
    toks = list(sent)
    a, b = a - sent.start, b - sent.start
    if a != 0 or b >= len(toks) - 1 or toks[b].text != ",":
        return None
    end_punct = toks[-1] if toks[-1].is_punct else None
    rest = toks[b + 1: len(toks) - (1 if end_punct else 0)]
    if not rest or any(t.pos_ == "PRON" and t.lower_ in ("it", "he", "she", "they", "its", "his",
                                                          "her", "their", "them") for t in rest):
        return None  # a pronoun would precede the noun it refers to
    moved = "".join(t.text_with_ws for t in toks[a:b]).strip()
    moved = _decap(toks[0]) + moved[len(toks[0].text):]
    first = rest[0].text[0].upper() + rest[0].text[1:] + rest[0].whitespace_
    return _join([first, "".join(t.text_with_ws for t in rest[1:]).rstrip(), " ", moved,
                  end_punct.text if end_punct else ""])


def _swap_conjuncts(sent) -> str | None:
    """"A and B" -> "B and A" for two coordinated noun phrases without nested coordination."""
    for tok in sent:
        if tok.dep_ != "conj" or tok.head.pos_ not in ("NOUN", "PROPN") or tok.pos_ not in ("NOUN", "PROPN"):
            continue
        cc = [c for c in tok.head.children if c.dep_ == "cc" and c.lower_ in ("and", "or")]
        if not cc or any(c.dep_ == "conj" for c in tok.children):
            continue
        h = tok.head
        a0 = h.left_edge.i
        a1 = cc[0].i  # head phrase ends before the conjunction (excluding its conj subtree)
        b0, b1 = tok.left_edge.i, tok.right_edge.i + 1
        if not (a0 < a1 < b0) or any(t.dep_ == "punct" for t in sent.doc[a0:b1]):
            continue
        doc = sent.doc
        A = doc[a0:a1].text
        B = doc[b0:b1].text
        if a0 == sent.start:
            A, B = (_decap(doc[a0]) + A[len(doc[a0].text):], B[0].upper() + B[1:])
        pre = doc[sent.start:a0].text_with_ws
        post = doc[b1:sent.end].text
        return _join([pre, B, " ", cc[0].text, " ", A, doc[b1 - 1].whitespace_, post])
    return None


def syntactic_variants(text: str, nlp=None, check_result: bool = True) -> list[Variant]:
    """Grammatical rewrites of the question stem's first sentence that keep its meaning."""
    nlp = nlp or spacy_nlp()
    prefix, stem, suffix = split_stem(text)
    if not stem:
        return []
    doc = nlp(stem)
    sents = list(doc.sents)
    if not sents:
        return []
    sent = sents[0]
    rest = stem[sent.end_char:]
    out = []
    root = sent.root
    for child in root.children:
        if child.dep_ not in MOVABLE_DEPS or child.pos_ == "PART":
            continue
        if child.dep_ == "advmod" and child.right_edge.i == child.left_edge.i and not child.text.endswith("ly"):
            continue
        op = "clause_front" if child.dep_ == "advcl" else f"{child.dep_}_front"
        new = _front(sent, _subtree_span(child))
        if new is None:
            op = "clause_back" if child.dep_ == "advcl" else f"{child.dep_}_back"
            new = _back(sent, _subtree_span(child))
        if new and op == "clause_front" and any(t.pos_ == "PRON" for t in child.subtree):
            continue  # a fronted clause's pronoun would precede the noun it refers to
        if new:
            out.append(Variant(prefix + new + rest + suffix, "syntactic", op))
    swapped = _swap_conjuncts(sent)
    if swapped:
        out.append(Variant(prefix + swapped + rest + suffix, "syntactic", "conjunct_swap"))
    seen, uniq = {text}, []
    for v in out:
        if v.text not in seen:
            seen.add(v.text)
            uniq.append(v)
    return [check(text, v, nlp) for v in uniq] if check_result else uniq


# ----------------------------------------------------------------------------- semantic expansion
def _wn_pos(tag: str):
    return {"NN": "n", "VB": "v", "JJ": "a"}.get(tag)


def semantic_variants(text: str, wn, nlp=None, max_subs: int = 2, rng=None, check_result: bool = True) -> list[Variant]:
    """WordNet-guided rewrites: synonym substitution and hypernym ("a kind of ...") expansion.

    Only base-form tokens (tags NN, VB, JJ) outside named entities and compounds are touched, and
    only where the sense gate (``aug_gate.clear_sense``) finds one clearly dominant sense; the
    synonym is a lemma of that sense used mostly in it (``aug_gate.synonym``), the gloss a hypernym
    of a concrete noun ending its phrase (``aug_gate.gloss``).
    """
    nlp = nlp or spacy_nlp()
    rng = rng or np.random.default_rng(step_seed(0, "semantic-variants"))
    prefix, stem, suffix = split_stem(text)
    if not stem:
        return []
    doc = nlp(stem)
    context = {t.lower_ for t in doc if t.is_alpha and not t.is_stop}
    cands = []
    for tok in doc:
        pos = _wn_pos(tok.tag_)
        if (pos is None or tok.ent_type_ or tok.is_stop or len(tok.text) < 4 or not tok.is_alpha
                or tok.dep_ == "compound" or tok.pos_ == "PROPN"):
            continue
        s0 = aug_gate.clear_sense(tok, wn, pos)
        if s0 is None:
            continue
        cands.append((tok, aug_gate.synonym(tok, s0, wn, pos), aug_gate.gloss(tok, s0, context) if pos == "n" else None))
    out = []
    subs = [(t, syn) for t, syn, _ in cands if syn]
    if subs:
        pick = sorted(rng.choice(len(subs), size=min(max_subs, len(subs)), replace=False))
        words = [t.text_with_ws for t in doc]
        for k in pick:
            t, syn = subs[k]
            words[t.i] = (syn.capitalize() if t.text[0].isupper() else syn) + t.whitespace_
        out.append(Variant(prefix + "".join(words) + suffix, "semantic", "synonym"))
    hyps = [(t, h) for t, _, h in cands if h]
    if hyps:
        t, h = hyps[int(rng.integers(len(hyps)))]
        words = [x.text_with_ws for x in doc]
        words[t.i] = f"{t.text} (a kind of {h})" + t.whitespace_
        out.append(Variant(prefix + "".join(words) + suffix, "semantic", "hypernym"))
    return [check(text, v, nlp) for v in out] if check_result else out


def hypernyms(synset) -> list:
    """A synset's hypernyms in name order. NLTK keeps a synset's pointers in a set of
    (pos, offset) tuples, so ``synset.hypernyms()`` follows Python's per-process string-hash seed:
    taking its first item made the expansion differ between runs.

    >>> from ragrouter_lib.data import models
    >>> [h.name() for h in hypernyms(models.wordnet().synset("tank.n.01"))]
    ['armored_vehicle.n.01', 'military_vehicle.n.01', 'tracked_vehicle.n.01']
    """
    return sorted(synset.hypernyms(), key=lambda h: h.name())


# ----------------------------------------------------------------------------- the check
def _content(doc, pos=CONTENT_POS):
    return sorted(t.lower_ for t in doc if t.pos_ in pos)


def check(source: str, v: Variant, nlp=None, strict: bool = True) -> Variant:
    """Reject broken or meaning-changing outputs (reason recorded on the variant). ``strict``
    (default) adds ``structure_flags``: the filter as tightened after the quality check
    (``quality_check``) found broken accepted variants; ``strict=False`` is the earlier filter."""
    nlp = nlp or spacy_nlp()
    s_pre, s_stem, s_suf = split_stem(source)
    v_pre, v_stem, v_suf = split_stem(v.text)
    reason = ""
    if (s_pre, s_suf) != (v_pre, v_suf):
        reason = "template outside the question changed"
    if reason:
        pass
    elif v.text.strip() == source.strip():
        reason = "identical to source"
    elif re.search(r",\s*,|\s[,.;:?!]|\(\s*\)|^\W", v_stem):
        reason = "broken punctuation"
    elif not v_stem[:1].isupper() and s_stem[:1].isupper():
        reason = "lost sentence capital"
    else:
        sd, vd = nlp(s_stem), nlp(v_stem)
        if len(list(sd.sents)) != len(list(vd.sents)):
            reason = "sentence count changed"
        elif v.method == "syntactic" and _content(sd) != _content(vd):
            reason = "content words changed"
        elif v.method == "syntactic" and list(sd.sents)[0].root.lemma_ != list(vd.sents)[0].root.lemma_:
            reason = "root verb changed"
        elif sorted(re.findall(r"\d+(?:\.\d+)?", s_stem)) != sorted(re.findall(r"\d+(?:\.\d+)?", v_stem)):
            reason = "numbers changed"
        elif strict:
            flags = structure_flags(sd, vd, v.method)
            reason = flags[0] if flags else ""
    v.ok, v.reason = not reason, reason
    return v


# ----------------------------------------------------------------------------- structure flags
SUBJECT_DEPS = {"nsubj", "nsubjpass", "csubj", "csubjpass", "expl"}
STRUCTURE_CHECKS = {
    "root count changed": "the variant's parse has a different number of ROOT tokens than the source's",
    "dangling punctuation": "a comma/colon before the final mark, a mark after a comma, or a stem "
                            "starting with punctuation",
    "brackets unbalanced": "the (, ), quote balance differs from the source's",
    "subject lost": "fewer subject dependents (nsubj, nsubjpass, csubj, expl) than the source",
    "unattached token": "more tokens the parser could not attach (dep 'dep') than the source",
    "misplaced capital": "a capitalised common word inside a sentence that the source had only "
                         "sentence-initially (e.g. 'In 1990, The company')",
    "dangling function word": "more determiners, prepositions or conjunctions right before a punctuation "
                              "mark inside the text than the source (About once every, the Moon ...)",
    "substitution changed tag": "a substituted word has another fine POS tag (following -> followers)",
    "compound head substituted": "the substituted word heads a compound (concert hall -> concert hallway)",
}


def _caps_inside(doc) -> set:
    return {t.text for t in doc if not t.is_sent_start and t.text[:1].isupper() and t.pos_ != "PROPN"
            and t.text != "I" and not t.text.isupper()}


FUNCTION_WORDS = {"a", "an", "the", "every", "each", "of", "to", "for", "with", "in", "on", "at", "by", "from",
                  "and", "or", "but", "than", "as"}


def _dangling(doc) -> int:
    """Function words right before a comma/colon/semicolon inside the text (a cut phrase)."""
    fn = {"DET", "ADP", "CCONJ", "SCONJ"}
    return sum((t.pos_ in fn or t.lower_ in FUNCTION_WORDS) and t.i + 1 < len(doc) and doc[t.i + 1].text in ",;:"
               for t in doc)


def structure_flags(sd, vd, method: str) -> list[str]:
    """Which ``STRUCTURE_CHECKS`` a variant's parse ``vd`` fails against its source's ``sd``."""
    s, v = sd.text, vd.text
    out = []
    if sum(t.dep_ == "ROOT" for t in vd) != sum(t.dep_ == "ROOT" for t in sd):
        out.append("root count changed")
    if re.search(r"^[^\w\"'(\[$\\“‘]|[,;:]\s*[.?!]\s*$|[,;:]\s*$|[,;:]\s*[,;:.?!]", v.strip()):
        out.append("dangling punctuation")
    if any(v.count(a) - v.count(b) != s.count(a) - s.count(b) for a, b in ("()", "[]", "“”")) or \
            v.count('"') % 2 != s.count('"') % 2:
        out.append("brackets unbalanced")
    if sum(t.dep_ in SUBJECT_DEPS for t in vd) < sum(t.dep_ in SUBJECT_DEPS for t in sd):
        out.append("subject lost")
    if sum(t.dep_ == "dep" for t in vd) > sum(t.dep_ == "dep" for t in sd):
        out.append("unattached token")
    if _caps_inside(vd) - _caps_inside(sd):
        out.append("misplaced capital")
    if _dangling(vd) > _dangling(sd):
        out.append("dangling function word")
    if method == "semantic":
        a, b = [t.lower_ for t in sd], [t.lower_ for t in vd]
        for op, i0, i1, j0, j1 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
            if op != "replace":
                continue
            if i1 - i0 == j1 - j0 and any(sd[i].tag_ != vd[j].tag_ for i, j in zip(range(i0, i1), range(j0, j1))):
                out.append("substitution changed tag")
            if any(c.dep_ == "compound" for i in range(i0, i1) for c in sd[i].children):
                out.append("compound head substituted")
    return list(dict.fromkeys(out))
