"""Dependency parses as graphs, with node features that mean something (RAGRouter's H_syn input).

Thesis step: "dependency parse -> dependency graph -> GraphSAGE -> node embeddings". The thesis's
draft code used random node features; here each node (a spaCy token) carries
  - its semantic vector: the mean of the encoder's contextual word-piece states that overlap the
    token's characters (alignment by character offsets), and
  - learned embeddings of its part of speech and of its dependency relation (ids from this module).
Edges connect each token with its syntactic head, both directions. Tokens past the encoder's
truncation (``max_len`` word-pieces) are dropped with their edges, so both views cover the same text.

Parses are cached per text (``encoders.cached``, kind ``parse``, keyed by the parser). Two parsers,
one graph format: ``graph_of`` turns a spaCy ``Doc`` or a Stanza ``Document`` into the same arrays
(token texts and character spans, 0-based document-level heads with a root its own head, UPOS, the
dependency label, sentence ids), ``pack`` into the rows ``parses`` stores. The thesis parses with
Stanza: the ``paper`` profile does (``PROFILE_PARSER``, overridable by the profile parameter
``parser``), stopping with one line when Stanza or its English models cannot be had; ``offline`` and
``smoke`` keep spaCy ``en_core_web_sm`` (deviation: Stanza's models download from the Hub at first
use, which this machine cannot reach; the paper dry run keeps spaCy for the same reason).
"""
from __future__ import annotations

from functools import lru_cache
from types import SimpleNamespace

import numpy as np
import torch

from ..core import text
from ..data import hub
from ..data.models import CACHE, spacy_nlp
from . import encoders

UPOS = ["ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN",
        "PUNCT", "SCONJ", "SYM", "VERB", "X", "SPACE"]


# Universal Dependencies relations (v2) and the subtypes of English UD (EWT), the labels Stanza's
# English depparse emits; "root" is stored as "ROOT" (spaCy's name), an unknown subtype as its base.
UD_DEPRELS = ["acl", "acl:relcl", "advcl", "advmod", "amod", "appos", "aux", "aux:pass", "case", "cc", "cc:preconj",
              "ccomp", "clf", "compound", "compound:prt", "conj", "cop", "csubj", "csubj:pass", "dep", "det",
              "det:predet", "discourse", "dislocated", "expl", "fixed", "flat", "flat:foreign", "goeswith", "iobj",
              "list", "mark", "nmod", "nmod:npmod", "nmod:poss", "nmod:tmod", "nsubj", "nsubj:pass", "nummod", "obj",
              "obl", "obl:npmod", "obl:tmod", "orphan", "parataxis", "punct", "reparandum", "vocative", "xcomp"]
PARSERS = ("spacy", "stanza")
PROFILE_PARSER = {"smoke": "spacy", "offline": "spacy", "paper": "stanza"}  # module docstring: why
_CHOICE = {"parser": "spacy"}  # the process's parser (``use_parser``); spaCy unless a profile says otherwise


class ParserUnavailable(RuntimeError):
    """The profile's parser cannot run here (one line says what to do)."""


def parser_for(cfg) -> str:
    """The parser of a run: the profile parameter ``parser`` if set, else ``PROFILE_PARSER``; the
    ``paper`` dry run (stand-ins) keeps spaCy (Stanza's models are not obtainable offline)."""
    name = cfg.params.get("parser") or PROFILE_PARSER.get(cfg.profile, "spacy")
    if name == "stanza" and "parser" not in cfg.params and hub.standins() is not None:
        return "spacy"
    if name not in PARSERS:
        raise ValueError(f"parser {name!r}: choose one of {PARSERS}")
    return name


def use_parser(name: str) -> str:
    """Make ``name`` the process's parser (``parses``/``dep_labels`` without an explicit parser);
    ``stanza`` is loaded at once, so a missing package or model stops the run here."""
    if name not in PARSERS:
        raise ValueError(f"parser {name!r}: choose one of {PARSERS}")
    if name == "stanza":
        stanza_nlp()
    _CHOICE["parser"] = name
    return name


def dep_labels(parser: str | None = None) -> list[str]:
    """Dependency-label vocabulary of ``parser`` (default: the process's): ids 0 = unknown, 1 = ROOT."""
    return _dep_labels(parser or _CHOICE["parser"])


@lru_cache(maxsize=2)
def _dep_labels(parser: str) -> list[str]:
    if parser == "stanza":
        return ["<unk>", "ROOT"] + sorted(UD_DEPRELS)
    return ["<unk>", "ROOT"] + sorted(spacy_nlp().get_pipe("parser").labels)


def _dep_index(label: str, dep_id: dict) -> int:
    label = "ROOT" if label == "root" else label
    return dep_id.get(label, dep_id.get(label.split(":")[0], 0))


def graph_of(doc) -> SimpleNamespace:
    """One parse as arrays, from a spaCy ``Doc`` or a Stanza ``Document`` (``.sentences[i].words[j]``
    with 1-based ``id`` and ``head`` within the sentence, head 0 = root): ``text``, ``start``/``end``
    (character span), ``head`` (0-based index into the document's tokens; a root is its own head, as in
    spaCy), ``pos`` (UPOS), ``dep`` (label; Stanza's "root" -> "ROOT") and ``sent`` (sentence id)."""
    rows = []
    if hasattr(doc, "sentences"):  # Stanza
        base = 0
        for si, sent in enumerate(doc.sentences):
            for w in sent.words:
                parent = getattr(w, "parent", None)  # a multi-word token's words share its span
                start = w.start_char if getattr(w, "start_char", None) is not None else parent.start_char
                end = w.end_char if getattr(w, "end_char", None) is not None else parent.end_char
                head = base + (w.head - 1 if w.head else w.id - 1)
                rows.append((w.text, start, end, head, w.upos, "ROOT" if w.deprel == "root" else w.deprel, si))
            base += len(sent.words)
    else:  # spaCy
        sent_of = {t.i: si for si, s in enumerate(doc.sents) for t in s} if doc.has_annotation("DEP") else {}
        rows = [(t.text, t.idx, t.idx + len(t.text), t.head.i, t.pos_, t.dep_, sent_of.get(t.i, 0)) for t in doc]
    cols = list(zip(*rows)) if rows else [()] * 7
    return SimpleNamespace(text=list(cols[0]), start=np.array(cols[1], np.int32), end=np.array(cols[2], np.int32),
                           head=np.array(cols[3], np.int32), pos=list(cols[4]), dep=list(cols[5]),
                           sent=np.array(cols[6], np.int32))


def pack(g, dep_id: dict, pos_id: dict) -> np.ndarray:
    """(n, 5) int32 rows (start_char, end_char, head, pos_id, dep_id): what ``parses`` stores."""
    other = len(UPOS) - 2  # "X"
    return np.array([[s, e, h, pos_id.get(p, other), _dep_index(d, dep_id)]
                     for s, e, h, p, d in zip(g.start, g.end, g.head, g.pos, g.dep)], dtype=np.int32).reshape(-1, 5)


def stanza_dir():
    return CACHE.parent / "stanza_resources"


@lru_cache(maxsize=1)
def stanza_nlp():
    """Stanza's English pipeline (tokenize, mwt, pos, lemma, depparse), models under outputs/cache."""
    try:
        import stanza  # here, not at the top: only `setup.sh --cuda` (paper) installs it; offline never imports it
    except ImportError as e:
        raise ParserUnavailable("parser 'stanza' (paper profile): the stanza package is not installed; "
                                "run `bash setup.sh --cuda`, or set the profile parameter parser='spacy'") from e
    try:
        return stanza.Pipeline("en", dir=str(stanza_dir()), processors="tokenize,mwt,pos,lemma,depparse",
                               logging_level="WARN", download_method=stanza.DownloadMethod.REUSE_RESOURCES)
    except Exception as e:  # noqa: BLE001 - any download/load failure gets the same one-line answer
        raise ParserUnavailable(f"parser 'stanza': its English models could not be downloaded or loaded into "
                                f"{stanza_dir()} ({type(e).__name__}: {str(e)[:200]}); check the network, or set "
                                "the profile parameter parser='spacy'") from None


def _parse_stanza(texts, progress):
    nlp = stanza_nlp()
    dep_id = {d: i for i, d in enumerate(dep_labels("stanza"))}
    pos_id = {p: i for i, p in enumerate(UPOS)}
    rows = []
    chunks = [[t[:2000] for t in texts[i:i + 64]] for i in range(0, len(texts), 64)]
    for docs in encoders.progress_bar(map(nlp.bulk_process, chunks), len(chunks), "stanza parse (batches)", progress):
        rows += [pack(graph_of(d), dep_id, pos_id) for d in docs]
    return {"states": np.concatenate(rows) if rows else np.zeros((0, 5), np.int32),
            "offsets": np.concatenate([[0], np.cumsum([len(r) for r in rows])])}


def parse_uncached(texts, progress) -> dict:
    """spaCy parses of ``texts`` packed as in ``parses``, not cached (``parses`` caches them)."""
    nlp = spacy_nlp()
    dep_id = {d: i for i, d in enumerate(dep_labels("spacy"))}
    pos_id = {p: i for i, p in enumerate(UPOS)}
    rows, lengths = [], []
    unused = [p for p in ("ner", "lemmatizer") if p in nlp.pipe_names]  # pos/dep do not read them:
    with nlp.select_pipes(disable=unused):  # identical parses, 1.6x faster (measured on MMLU prompts)
        docs = nlp.pipe([t[:2000] for t in texts], batch_size=64)  # the encoder never sees further
        for doc in encoders.progress_bar(docs, len(texts), "spacy parse", progress):
            arr = pack(graph_of(doc), dep_id, pos_id)
            rows.append(arr)
            lengths.append(len(arr))
    return {"states": np.concatenate(rows) if rows else np.zeros((0, 5), np.int32),
            "offsets": np.concatenate([[0], np.cumsum(lengths)])}


def parses(texts, progress: bool = True, parser: str | None = None) -> dict:
    """Packed parses: states[:, :] = (start_char, end_char, head, pos_id, dep_id) per token, by
    ``parser`` (default: the process's, ``use_parser``)."""
    if (parser or _CHOICE["parser"]) == "stanza":
        stanza_nlp()  # one clear line if Stanza or its English models cannot be had
        import stanza  # installed: stanza_nlp() imported it (lazy, see there)
        params = {"parser": f"stanza-{stanza.__version__}-en-default", "max_chars": 2000}
        return encoders.cached("parse", params, list(texts), lambda t: _parse_stanza(t, progress), verbose=progress,
                               modules=[__name__])
    nlp = spacy_nlp()
    params = {"parser": f"{nlp.meta['name']}-{nlp.meta['version']}", "max_chars": 2000}
    return encoders.cached("parse", params, list(texts), lambda t: parse_uncached(t, progress), verbose=progress,
                           modules=[__name__])


@lru_cache(maxsize=2)
def _tokenizer(name):
    return encoders.load_encoder(name)[0]


def wordpiece_offsets(texts, name: str = "minilm", max_len: int = 128) -> list[np.ndarray]:
    """Character span of each word-piece (as in ``encoders.token_states``; specials = (0, 0))."""
    _, spans = text.encode_window(_tokenizer(name), texts, max_len, offsets=True)  # the window token_states use
    return [np.asarray(o, dtype=np.int32).reshape(-1, 2) for o in spans]


def row_graph(parse_packed, i, wp, sem_states, sem_offsets):
    """Row ``i``'s dependency graph and node inputs: (graph, node_sem (n, d) float32, pos ids, dep ids).
    A node is a parse token with its overlapping word-pieces' mean state; a row whose tokens all fall
    past the truncation keeps one node: its [CLS] state."""
    import dgl  # heavy optional package: imported only when this runs
    off = parse_packed["offsets"]
    toks = parse_packed["states"][off[i]:off[i + 1]]
    states = sem_states[sem_offsets[i]:sem_offsets[i + 1]].astype(np.float32)
    real = wp[:, 1] > wp[:, 0]
    # hit[t, w]: word-piece w overlaps token t's characters (one matrix, no loop over tokens)
    hit = (real[None, :] & (wp[None, :, 0] < toks[:, 1:2]) & (wp[None, :, 1] > toks[:, 0:1]))[:, : len(states)]
    keep = np.flatnonzero(hit.any(1))
    if not len(keep):
        return dgl.graph(([], []), num_nodes=1), states[:1], np.array([UPOS.index("X")]), np.array([0])
    h = hit[keep].astype(np.float32)
    vecs = (h @ states) / h.sum(1, keepdims=True)  # mean of the overlapping word-pieces
    new = np.full(len(toks), -1)
    new[keep] = np.arange(len(keep))
    heads = toks[keep, 2]
    ok = (new[heads] >= 0) & (heads != keep)
    src, dst = new[keep[ok]], new[heads[ok]]
    g = dgl.graph((np.concatenate([src, dst]), np.concatenate([dst, src])), num_nodes=len(keep))
    return g, vecs, toks[keep, 3], toks[keep, 4]


def build_graphs(parse_packed, idx, wp_offsets, sem_states, sem_offsets, memo: dict | None = None):
    """A batched DGL graph and node inputs for rows ``idx`` (``row_graph`` per row).

    Returns (graph, node_sem (N, d) float32, pos_ids (N,), dep_ids (N,), n_nodes per row).
    ``memo`` ({row index: ``row_graph``}, filled here): a caller that batches the same rows again (a
    training epoch after the first) reuses each row's graph; the batch is the same, bit for bit.
    """
    import dgl  # heavy optional package: imported only when this runs
    rows = []
    for r, i in enumerate(idx):
        got = memo.get(i) if memo is not None else None
        if got is None:
            got = row_graph(parse_packed, i, wp_offsets[r], sem_states, sem_offsets)
            if memo is not None:
                memo[i] = got
        rows.append(got)
    graphs, sem, pos, dep = zip(*rows)
    return (dgl.batch(list(graphs)), torch.from_numpy(np.concatenate(sem)),
            torch.from_numpy(np.concatenate(pos).astype(np.int64)),
            torch.from_numpy(np.concatenate(dep).astype(np.int64)), [g.num_nodes() for g in graphs])
