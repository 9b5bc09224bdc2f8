"""One graph format for both parsers (issue 27 item 8): ``syntax.graph_of`` reads a spaCy ``Doc`` and a
Stanza ``Document`` alike. Stanza is not installed here (its English models download from the Hub), so
the Stanza side is a stand-in with the attributes of ``stanza.Document``: ``.sentences[i].words[j]``
with 1-based ``id`` and ``head`` (0 = root) inside the sentence, ``deprel``, ``upos``, character span."""
from types import SimpleNamespace

import numpy as np
import pytest

from ragrouter_lib.core import config
from ragrouter_lib.features import syntax

TEXT = "The cat sat on the mat. It slept."


def stanza_standin(doc):
    """A Stanza-shaped Document built from a spaCy parse (same tokens, heads, labels, spans)."""
    sentences = []
    for sent in doc.sents:
        words = [SimpleNamespace(id=t.i - sent.start + 1, text=t.text,
                                 head=0 if t.dep_ == "ROOT" else t.head.i - sent.start + 1,
                                 deprel="root" if t.dep_ == "ROOT" else t.dep_, upos=t.pos_,
                                 start_char=t.idx, end_char=t.idx + len(t.text)) for t in sent]
        sentences.append(SimpleNamespace(words=words))
    return SimpleNamespace(sentences=sentences)


def _hand_doc():
    """'Dogs bark. Cats sleep.' parsed by hand, Stanza style."""
    w = lambda i, text, head, rel, upos, s, e: SimpleNamespace(id=i, text=text, head=head, deprel=rel,  # noqa: E731
                                                                 upos=upos, start_char=s, end_char=e)
    return SimpleNamespace(sentences=[
        SimpleNamespace(words=[w(1, "Dogs", 2, "nsubj", "NOUN", 0, 4), w(2, "bark", 0, "root", "VERB", 5, 9),
                               w(3, ".", 2, "punct", "PUNCT", 9, 10)]),
        SimpleNamespace(words=[w(1, "Cats", 2, "nsubj", "NOUN", 11, 15), w(2, "sleep", 0, "root", "VERB", 16, 21),
                               w(3, ".", 2, "punct", "PUNCT", 21, 22)])])


def _same(a, b):
    return (a.text == b.text and a.pos == b.pos and a.dep == b.dep and
            all(np.array_equal(getattr(a, k), getattr(b, k)) for k in ("start", "end", "head", "sent")))


def test_stanza_document_gives_spacys_graph():
    from ragrouter_lib.data.models import spacy_nlp
    doc = spacy_nlp()(TEXT)
    assert len(list(doc.sents)) == 2  # the document-level head offsets are exercised
    g_spacy, g_stanza = syntax.graph_of(doc), syntax.graph_of(stanza_standin(doc))
    assert _same(g_spacy, g_stanza)
    dep_id = {d: i for i, d in enumerate(syntax.dep_labels("spacy"))}
    pos_id = {p: i for i, p in enumerate(syntax.UPOS)}
    assert np.array_equal(syntax.pack(g_spacy, dep_id, pos_id), syntax.pack(g_stanza, dep_id, pos_id))


def test_hand_parsed_stanza_document():
    g = syntax.graph_of(_hand_doc())
    assert g.text == ["Dogs", "bark", ".", "Cats", "sleep", "."]
    assert g.head.tolist() == [1, 1, 1, 4, 4, 4]  # 0-based over the document, a root is its own head
    assert g.sent.tolist() == [0, 0, 0, 1, 1, 1]
    assert g.dep == ["nsubj", "ROOT", "punct", "nsubj", "ROOT", "punct"]
    assert list(zip(g.start.tolist(), g.end.tolist()))[3:] == [(11, 15), (16, 21), (21, 22)]
    labels = syntax.dep_labels("stanza")
    rows = syntax.pack(g, {d: i for i, d in enumerate(labels)}, {p: i for i, p in enumerate(syntax.UPOS)})
    assert [labels[i] for i in rows[:, 4]] == g.dep and rows[:, 2].tolist() == g.head.tolist()
    # a subtype the vocabulary lacks falls back to its base relation, never to <unk>
    assert syntax._dep_index("obl:unmarked", {d: i for i, d in enumerate(labels)}) == labels.index("obl")


def test_the_comparison_sees_unconverted_heads():
    """Stanza's heads copied as they are (1-based, per sentence, root = 0) give another graph: the
    check above would fail on an adapter that skipped the conversion."""
    from ragrouter_lib.data.models import spacy_nlp
    doc = spacy_nlp()(TEXT)
    raw = stanza_standin(doc)
    faulty = syntax.graph_of(raw)
    faulty.head = np.array([w.head for s in raw.sentences for w in s.words], np.int32)
    assert not _same(syntax.graph_of(doc), faulty)


def test_profiles_choose_the_parser(monkeypatch):
    monkeypatch.delenv("RAGROUTER_PAPER_STANDINS", raising=False)
    off = config.Config("offline", 0, "outputs", dict(config.PROFILES["offline"]))
    paper = config.Config("paper", 0, "outputs", dict(config.PROFILES["paper"]))
    assert syntax.parser_for(off) == "spacy" and syntax.parser_for(paper) == "stanza"
    assert syntax.parser_for(config.Config("paper", 0, "outputs", {"parser": "spacy"})) == "spacy"
    with pytest.raises(ValueError, match="choose one of"):
        syntax.parser_for(config.Config("paper", 0, "outputs", {"parser": "corenlp"}))


def test_stanza_missing_stops_with_one_line(monkeypatch):
    import builtins
    real = builtins.__import__

    def no_stanza(name, *a, **k):
        if name == "stanza":
            raise ImportError("No module named 'stanza'")
        return real(name, *a, **k)
    monkeypatch.setattr(builtins, "__import__", no_stanza)
    syntax.stanza_nlp.cache_clear()
    with pytest.raises(syntax.ParserUnavailable) as e:
        syntax.use_parser("stanza")
    assert "\n" not in str(e.value) and "setup.sh --cuda" in str(e.value)
    assert syntax._CHOICE["parser"] == "spacy"  # the process keeps spaCy
