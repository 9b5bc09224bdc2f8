"""RAGRouter's networks and structural features: the extractor, the source bias, the final model.

Thesis step: the feature extractor (H_sem + H_syn fused by cross-modal attention, two GraphSAGE
layers over the dependency graph) and the final model that reads the query and its retrieved
neighbours. Deviations (CPU scale, also in ``routers.ragrouter``'s docstring): MiniLM-L6 word-piece
states instead of DeBERTa-v3; a small attention + MLP final model instead of a LoRA-tuned LLM
(that form: ``routers.ragrouter_llm``); structural features of the parse (``structural_features``)
as an extra input of the final model (our extension).

>>> structural_features(["What is 2 + 3?"]).shape
(1, 7)
"""
from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..features import syntax

STRUCT_NAMES = ("log_tokens", "parse_depth", "clauses", "sentences", "log_digits", "log_operators", "log_chars")
CLAUSE_DEPS = ("advcl", "ccomp", "xcomp", "relcl", "acl", "csubj", "csubjpass")
OPERATORS = re.compile(r"[+\-*/=^<>%]")

# Rows per forward pass when the extractor embeds texts (``encoders.length_batches``: one token length,
# exactly this many rows, no padding, so a text's vector does not depend on its batch mates; the number
# of rows is part of the vector's definition: the CPU kernels may change the last bits with it).
# 32, not 8: on 2,000 MMLU prompts with a trained extractor 11.0 s against 14.8 s (64: 13.2 s, the
# filler rows of short length groups cost more than larger passes save).
EMBED_BATCH = 32


class RowGraphs:
    """``syntax.build_graphs``' memo for one input set: row index -> every row's graph
    (``syntax.row_graph``), kept for the process by (encoder, layer, window, text). A row's graph is a
    function of its text's token states and parse only (no trained weight), so every fit's epochs, the
    selection folds, the final fits and every seed's scoring of the same prompts build it once.
    ``MAX_ROWS`` bounds the memory (~80 kB a row with MiniLM: MMLU's 14,037 prompts ~1.1 GB): past it
    the store starts again."""

    MAX_ROWS = 30_000
    store: dict = {}

    def __init__(self, prompts, hp):
        self.keys = [(hp["encoder"], hp["layer"], hp["max_len"], t) for t in prompts]

    def get(self, i):
        return self.store.get(self.keys[i])

    def __setitem__(self, i, graph):
        if len(self.store) >= self.MAX_ROWS:
            self.store.clear()
        self.store[self.keys[i]] = graph


# ----------------------------------------------------------------------------- the extractor
class FeatureExtractor(nn.Module):
    def __init__(self, d_sem=384, d_syn=128, d_fuse=256, heads=4, n_pos=len(syntax.UPOS), n_dep=64,
                 d_tag=16, dropout=0.1, n_sources=0):
        super().__init__()
        from dgl.nn import SAGEConv  # heavy optional package: imported only when this runs
        self.pos = nn.Embedding(n_pos, d_tag)
        self.dep = nn.Embedding(n_dep, d_tag)
        self.sage1 = SAGEConv(d_sem + 2 * d_tag, d_syn, "mean")
        self.sage2 = SAGEConv(d_syn, d_syn, "mean")
        self.q = nn.Linear(d_sem, d_fuse)
        self.kv = nn.Linear(d_syn, d_fuse)
        self.attn = nn.MultiheadAttention(d_fuse, heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(d_fuse)
        self.head = nn.Linear(d_fuse, 5)  # training signal for the extractor (5-class score)
        self.source_bias = SourceBias(n_sources)

    def h_syn(self, g, sem, pos, dep):
        x = torch.cat([sem, self.pos(pos), self.dep(dep)], -1)
        h = torch.relu(self.sage1(g, x))
        return self.sage2(g, h)

    def forward(self, sem_tok, sem_mask, g, node_sem, pos, dep, counts):
        """h_fuse_global (B, 256) from padded semantic tokens (Q) and the batched graph's GraphSAGE
        nodes (K/V)."""
        q = self.q(sem_tok)
        kv, kv_mask = pad_nodes(self.h_syn(g, node_sem, pos, dep), counts)
        kv = self.kv(kv)
        fused, _ = self.attn(q, kv, kv, key_padding_mask=kv_mask == 0)
        fused = self.norm(q + fused)
        m = sem_mask.unsqueeze(-1)
        return (fused * m).sum(1) / m.sum(1)


class SourceBias(nn.Module):
    """Source fixed effects: a learned 5-logit bias per training source, added only in training
    (``source`` ids given); scoring passes no source, so the bias is zero."""

    def __init__(self, n_sources: int):
        super().__init__()
        self.bias = nn.Embedding(max(n_sources, 1), 5)
        nn.init.zeros_(self.bias.weight)
        self.active = n_sources > 0

    def forward(self, logits, source=None):
        return logits if source is None or not self.active else logits + self.bias(source)


def pad_nodes(nodes, counts):
    T = max(counts)
    out = nodes.new_zeros((len(counts), T, nodes.shape[1]))
    mask = nodes.new_zeros((len(counts), T))
    start = 0
    for i, c in enumerate(counts):
        out[i, :c] = nodes[start:start + c]
        mask[i, :c] = 1
        start += c
    return out, mask


class FinalInputs(NamedTuple):
    """One side's final-model inputs (training rows or validation rows): query vectors (n, d: 256
    h_fuse_global, or the plain sentence embedding's width with ``features="plain"``),
    standardised structural features (None: ``features="plain"``) and neighbours (a
    ``RAGRouter.neighbours`` dict; None until the KB is built)."""
    vec: np.ndarray
    struct: np.ndarray | None
    nb: dict | None = None


class FinalModel(nn.Module):
    """Query vector (+ structural features) + retrieved neighbours -> 5 logits.

    Neighbour input: vector, one-hot score, aligned labels (within-source centred score and
    strong-needed), distance; a distance-weighted vote of the labels is a direct input too."""

    N_ALIGNED = 2

    def __init__(self, d=256, hidden=128, heads=4, rag=True, dropout=0.2, n_struct=0, n_sources=0):
        super().__init__()
        self.rag, self.n_struct = rag, n_struct
        self.qp = nn.Linear(d, hidden)
        self.sp = nn.Linear(n_struct, hidden) if n_struct else None
        self.np_ = nn.Linear(d + 5 + self.N_ALIGNED + 1, hidden)
        self.attn = nn.MultiheadAttention(hidden, heads, batch_first=True)
        vote = 5 + self.N_ALIGNED
        self.mlp = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden * (2 if rag else 1) + (vote if rag else 0), hidden),
                                 nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, 5))
        self.source_bias = SourceBias(n_sources)

    def forward(self, q, struct=None, nb=None, nb_score=None, nb_aligned=None, nb_dist=None, source=None):
        hq = self.qp(q)
        if self.sp is not None:
            hq = hq + self.sp(struct)
        if not self.rag:
            return self.source_bias(self.mlp(hq), source)
        onehot = nn.functional.one_hot(nb_score - 1, 5).float()
        lab = torch.cat([onehot, nb_aligned], -1)
        hn = self.np_(torch.cat([nb, lab, nb_dist.unsqueeze(-1)], -1))
        att, _ = self.attn(hq.unsqueeze(1), hn, hn)
        w = torch.softmax(-nb_dist, -1).unsqueeze(-1)  # distance-weighted label vote
        return self.source_bias(self.mlp(torch.cat([hq, att.squeeze(1), (w * lab).sum(1)], -1)), source)


# ----------------------------------------------------------------------------- structural features
def structural_features(prompts, parsed: dict | None = None) -> np.ndarray:
    """Cheap features the syntactic branch implies, per prompt (columns ``STRUCT_NAMES``): log token
    count, dependency-parse depth (longest head chain), clause count (advcl/ccomp/xcomp/relcl/acl/
    csubj), sentence count (roots), log digits, log operator characters, log characters. Parses come
    from ``syntax.parses`` (cached per text).

    >>> f = structural_features(["Tom has 3 apples and eats 1.", "What is 12 + 30 * 2?"])
    >>> f.shape, int(np.expm1(f[1, 4]).round()), int(np.expm1(f[1, 5]).round())
    ((2, 7), 5, 2)
    """
    prompts = list(prompts)
    parsed = parsed or syntax.parses(prompts, progress=False)
    deps = syntax.dep_labels()
    clause_ids = np.array([deps.index(d) for d in CLAUSE_DEPS if d in deps])
    off, st = parsed["offsets"], parsed["states"]
    out = np.zeros((len(prompts), len(STRUCT_NAMES)), np.float32)
    for i, text in enumerate(prompts):
        toks = st[off[i]:off[i + 1]]
        n = len(toks)
        depth, roots = 0, 0
        if n:
            heads = np.clip(toks[:, 2], 0, n - 1)  # spaCy: a root is its own head
            roots = int((heads == np.arange(n)).sum())
            cur, d = np.arange(n), np.zeros(n, int)
            for _ in range(64):
                nxt = heads[cur]
                moved = nxt != cur
                if not moved.any():
                    break
                d += moved
                cur = nxt
            depth = int(d.max())
        out[i] = [np.log1p(n), depth, np.isin(toks[:, 4], clause_ids).sum() if n else 0, roots,
                  np.log1p(sum(c.isdigit() for c in text)), np.log1p(len(OPERATORS.findall(text))),
                  np.log1p(len(text))]
    return out


# ----------------------------------------------------------------------------- the worked example
def worked_example(router, prompt: str, width: int = 90) -> pd.DataFrame:
    """One query through a fitted RAGRouter's RAG step: row 0 the query with the model's strong-win probability,
    then its K retrieved training queries (rank, text, score, strong_needed, source, L2 distance)."""
    vec = router.embed([prompt])
    nb = router.neighbours(vec)
    p = float(router.strong_win(vec, router.structure([prompt]), nb)[0])
    rows = [{"rank": 0, "role": "query", "prompt": prompt[:width], "score": np.nan, "strong_needed": np.nan,
             "source": "", "distance": 0.0, "strong_win_prob": p}]
    for r, (j, d) in enumerate(zip(nb["idx"][0], nb["dist"][0] * 100.0), 1):
        m = router.kb_meta.iloc[int(j)]
        rows.append({"rank": r, "role": "neighbour", "prompt": str(m.prompt)[:width], "score": int(m.score),
                     "strong_needed": int(m.strong_needed), "source": m.source, "distance": float(d),
                     "strong_win_prob": np.nan})
    return pd.DataFrame(rows)
