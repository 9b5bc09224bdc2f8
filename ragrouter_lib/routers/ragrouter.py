"""RAGRouter (the thesis's method), ``offline`` profile: a CPU-sized, faithful rebuild.

Pipeline, per training seed (``fit(train, valid)``):
1. training data = ``training_data.prepare_split`` (augmentation, sampling; switches ``augment``,
   ``sample``); split ~70% -> knowledge base (KB), ~30% -> the final model (by prompt hash);
2. H_sem: contextual word-piece states of MiniLM-L6 (384-d; layer 5 of 6, the states the cache
   already holds; the thesis's DeBERTa-v3-base is the ``paper`` profile's choice);
3. H_syn: spaCy dependency graph, node = token with [aligned semantic vector; POS embedding;
   dependency-label embedding], two GraphSAGE layers (DGL ``SAGEConv``, mean) -> 128-d;
4. fusion: cross-modal multi-head attention, Q = H_sem, K/V = H_syn (both projected to 256-d,
   4 heads, residual + LayerNorm) -> fused token features -> mean pool -> h_fuse_global (256-d).
   The extractor (2-4) is trained end to end on the KB rows with a 5-class head (Adam) in
   length-bucketed batches, at most 6 epochs, stopping one epoch after the validation AUC last
   improved (best epoch kept); ``features="semantic"`` replaces the syntactic branch by the
   semantic tokens themselves (same attention, K/V = H_sem). Trained extractors are cached by
   data, seed, settings and code, so variants differing only in ``k`` or ``rag`` share one;
5. KB: h_fuse_global of every KB row with its score in a FAISS ``IndexIVFFlat`` (L2); nlist ~
   sqrt(N), nprobe the smallest reaching recall@K >= 0.95 against exact search on validation rows;
6. final model: for each query its top-K KB neighbours (vector, one-hot score, distance) are read
   by attention from the query vector (``rag="off"``: the query alone); an MLP gives the 5-class
   weak-quality score; strong-win = P(score <= 3). Trained with Adam on the final-model rows
   (at most 40 epochs, stopping 8 after the last validation improvement).

The ``paper`` profile replaces step 6 by a Qwen-class LLM fine-tuned with LoRA on the textual
augmented prompt (``routers/ragrouter_llm.py``).
"""
from __future__ import annotations

import hashlib
import importlib
import inspect
import sys
import time

import numpy as np
import pandas as pd
import torch
from torch import nn

from .. import features, labels, syntax, training_data
from ..config import ROOT, content_hash
from .base import register
from .routellm_baselines import HeadTrainer, TrainableRouter, _set_seed

DATA_CACHE = ROOT / "outputs" / "cache" / "data"
EXTRACTOR_CACHE = ROOT / "outputs" / "cache" / "routers" / "extractors"
# what the feature extractor's training depends on (k, rag and the final model's settings do not)
EXTRACTOR_HP = ("seed", "augment", "sample", "factor", "size_frac", "features", "kb_frac", "encoder", "layer",
                "max_len", "extractor_epochs", "extractor_lr", "batch_size", "weight_decay", "extractor_patience")


# ----------------------------------------------------------------------------- the extractor
class FeatureExtractor(nn.Module):
    def __init__(self, d_sem=384, d_syn=128, d_fuse=256, heads=4, n_pos=len(syntax.UPOS), n_dep=64,
                 d_tag=16, syntactic=True, dropout=0.1):
        super().__init__()
        from dgl.nn import SAGEConv
        self.syntactic = syntactic
        self.pos = nn.Embedding(n_pos, d_tag)
        self.dep = nn.Embedding(n_dep, d_tag)
        self.sage1 = SAGEConv(d_sem + 2 * d_tag, d_syn, "mean")
        self.sage2 = SAGEConv(d_syn, d_syn, "mean")
        self.q = nn.Linear(d_sem, d_fuse)
        self.kv = nn.Linear(d_syn if syntactic else d_sem, d_fuse)
        self.attn = nn.MultiheadAttention(d_fuse, heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(d_fuse)
        self.head = nn.Linear(d_fuse, 5)  # training signal for the extractor (5-class score)

    def h_syn(self, g, sem, pos, dep):
        x = torch.cat([sem, self.pos(pos), self.dep(dep)], -1)
        h = torch.relu(self.sage1(g, x))
        return self.sage2(g, h)

    def forward(self, sem_tok, sem_mask, g=None, node_sem=None, pos=None, dep=None, counts=None):
        """h_fuse_global (B, 256) from padded semantic tokens and (optionally) the batched graph."""
        q = self.q(sem_tok)
        if self.syntactic:
            nodes = self.h_syn(g, node_sem, pos, dep)
            kv, kv_mask = _pad(nodes, counts)
        else:
            kv, kv_mask = sem_tok, sem_mask
        kv = self.kv(kv)
        fused, _ = self.attn(q, kv, kv, key_padding_mask=kv_mask == 0)
        fused = self.norm(q + fused)
        m = sem_mask.unsqueeze(-1)
        return (fused * m).sum(1) / m.sum(1)


def _pad(nodes, counts):
    T = max(counts)
    out = nodes.new_zeros((len(counts), T, nodes.shape[1]))
    mask = nodes.new_zeros((len(counts), T))
    start = 0
    for i, c in enumerate(counts):
        out[i, :c] = nodes[start:start + c]
        mask[i, :c] = 1
        start += c
    return out, mask


class FinalModel(nn.Module):
    """Query vector + retrieved neighbours (vector, one-hot score, distance) -> 5 logits."""

    def __init__(self, d=256, hidden=128, heads=4, rag=True, dropout=0.2):
        super().__init__()
        self.rag = rag
        self.qp = nn.Linear(d, hidden)
        self.np_ = nn.Linear(d + 5 + 1, hidden)
        self.attn = nn.MultiheadAttention(hidden, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden * (2 if rag else 1) + (5 if rag else 0), hidden),
                                 nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, 5))

    def forward(self, q, nb=None, nb_score=None, nb_dist=None):
        hq = self.qp(q)
        if not self.rag:
            return self.mlp(hq)
        onehot = nn.functional.one_hot(nb_score - 1, 5).float()
        hn = self.np_(torch.cat([nb, onehot, nb_dist.unsqueeze(-1)], -1))
        att, _ = self.attn(hq.unsqueeze(1), hn, hn)
        w = torch.softmax(-nb_dist, -1).unsqueeze(-1)  # distance-weighted label distribution
        return self.mlp(torch.cat([hq, att.squeeze(1), (w * onehot).sum(1)], -1))


# ----------------------------------------------------------------------------- the KB
class KnowledgeBase:
    """FAISS IVF (L2) index of KB vectors with their scores."""

    def __init__(self, vectors: np.ndarray, scores: np.ndarray, nlist: int | None = None, seed: int = 0):
        import faiss
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.scores = np.asarray(scores, dtype=np.int64)
        n, d = self.vectors.shape
        self.nlist = nlist or max(1, min(int(np.sqrt(n)), n // 39))  # faiss wants >= 39 points per list
        quant = faiss.IndexFlatL2(d)
        self.index = faiss.IndexIVFFlat(quant, d, self.nlist, faiss.METRIC_L2)
        self.index.cp.seed = seed
        self.index.train(self.vectors)
        self.index.add(self.vectors)
        self.nprobe = 1
        self._quant = quant

    def search(self, q: np.ndarray, k: int):
        self.index.nprobe = self.nprobe
        dist, idx = self.index.search(np.ascontiguousarray(q, dtype=np.float32), k)
        idx = np.where(idx < 0, 0, idx)  # too few vectors probed: pad with row 0 (rare)
        return dist, idx

    def recall(self, q: np.ndarray, k: int, nprobes=(1, 2, 4, 8, 16, 32)) -> pd.DataFrame:
        import faiss
        exact = faiss.IndexFlatL2(self.vectors.shape[1])
        exact.add(self.vectors)
        _, truth = exact.search(np.ascontiguousarray(q, dtype=np.float32), k)
        rows = []
        for p in [p for p in nprobes if p <= self.nlist]:
            self.index.nprobe = p
            t0 = time.time()
            _, got = self.index.search(np.ascontiguousarray(q, dtype=np.float32), k)
            dt = time.time() - t0
            rec = np.mean([len(set(a) & set(b)) / k for a, b in zip(got, truth)])
            rows.append({"nprobe": p, f"recall@{k}": rec, "ms_per_query": 1000 * dt / len(q)})
        return pd.DataFrame(rows)

    def choose_nprobe(self, q, k, target=0.95) -> pd.DataFrame:
        table = self.recall(q, k)
        ok = table[table[f"recall@{k}"] >= target]
        self.nprobe = int(ok.nprobe.iloc[0] if len(ok) else table.nprobe.iloc[-1])
        return table

    def state(self):
        return {"vectors": self.vectors, "scores": self.scores, "nlist": self.nlist, "nprobe": self.nprobe}

    @classmethod
    def from_state(cls, st, seed=0):
        kb = cls(st["vectors"], st["scores"], st["nlist"], seed)
        kb.nprobe = st["nprobe"]
        return kb


# ----------------------------------------------------------------------------- the router
def kb_split(df: pd.DataFrame, kb_frac: float = 0.7, seed: int = 0) -> np.ndarray:
    """True for knowledge-base rows, by a seeded hash of the normalised prompt (duplicates together)."""
    u = df.prompt.map(lambda t: int(hashlib.sha256(f"kb{seed}:{labels.normalize(t)}".encode())
                                    .hexdigest()[:8], 16) / 2**32)
    return (u < kb_frac).to_numpy()


@register("ragrouter")
class RAGRouter(TrainableRouter):
    defaults = {"augment": True, "sample": True, "factor": 0.3, "size_frac": 0.5,
                "features": "semantic+syntactic", "rag": "on", "k": 10, "kb_frac": 0.7,
                "encoder": "minilm", "layer": 5, "max_len": 128, "extractor_epochs": 6,
                "extractor_lr": 1e-3, "final_epochs": 40, "final_lr": 1e-3, "batch_size": 64,
                "weight_decay": 1e-4, "extractor_patience": 1, "final_patience": 8}
    # modules whose source code keys the trained-router cache (besides this one)
    source_modules = ("syntax", "training_data", "augmentation", "sampling", "features")

    # -- inputs
    def _inputs(self, prompts):
        prompts = list(prompts)
        tok = features.token_states(prompts, self.hp["encoder"], layer=self.hp["layer"],
                                    max_len=self.hp["max_len"], progress=False)
        if self.hp["features"] == "semantic":
            return {"prompts": prompts, "tok": tok}
        return {"prompts": prompts, "tok": tok, "parse": syntax.parses(prompts, progress=False),
                "wp": syntax.wordpiece_offsets(prompts, self.hp["encoder"], self.hp["max_len"])}

    def _batch(self, inp, idx):
        x, m = features.unpack(inp["tok"], idx)
        if self.hp["features"] == "semantic":
            return (x, m)
        g, node_sem, pos, dep, counts = syntax.build_graphs(inp["parse"], idx, [inp["wp"][i] for i in idx],
                                                            inp["tok"]["states"], inp["tok"]["offsets"])
        return (x, m, g, node_sem, pos, dep, counts)

    def embed(self, prompts) -> np.ndarray:
        """h_fuse_global (n, 256) of ``prompts``; once the extractor is final, cached per text under
        its key (same key = same data, seed, settings and code, so the same weights: the ``k``
        and ``rag`` variants of one extractor embed each prompt once)."""
        prompts = list(prompts)

        def compute(t):
            return {"h": self._embed(self._inputs(t))}
        if getattr(self, "extractor_key", None) is None:
            return compute(prompts)["h"]
        return features.cached("hfuse", {"extractor": self.extractor_key}, prompts, compute, verbose=False)["h"]

    def _embed(self, inp, bs=256) -> np.ndarray:
        self.extractor.eval()
        n = len(inp["prompts"])
        out = np.zeros((n, 256), np.float32)
        lengths = np.diff(inp["tok"]["offsets"])
        with torch.no_grad():
            for b in features._batches(lengths, bs):
                out[b] = self.extractor(*self._batch(inp, b)).numpy()
        return out

    # -- training
    def fit(self, train, valid=None):
        t0 = time.time()
        hp = self.hp
        _set_seed(hp["seed"])
        td = training_data.prepare_split(train, valid, hp["seed"], DATA_CACHE, augment=hp["augment"],
                                         sample=hp["sample"], factor=hp["factor"], size_frac=hp["size_frac"],
                                         log=lambda *_: None)
        data = td.train.reset_index(drop=True)
        is_kb = kb_split(data, hp["kb_frac"], hp["seed"])
        kb_rows, fin_rows = data[is_kb].reset_index(drop=True), data[~is_kb].reset_index(drop=True)
        self._kb_texts, self._final_rows = list(kb_rows.prompt), fin_rows  # for ragrouter_llm
        self.data_summary = {"training_rows": len(data), "kb_rows": len(kb_rows), "final_rows": len(fin_rows),
                             "augmented_rows": int((data.panel == "augmented").sum()),
                             "valid_rows": 0 if valid is None else len(valid)}
        self.extractor = FeatureExtractor(d_sem=384, syntactic=hp["features"] != "semantic",
                                          n_dep=len(syntax.dep_labels()))
        kb_in = self._inputs(kb_rows.prompt)
        va_in = self._inputs(valid.prompt) if valid is not None else None
        ex = self.extractor

        def val_extractor():
            with torch.no_grad():
                ex.eval()
                return torch.softmax(ex.head(torch.from_numpy(self._embed(va_in))), -1)[:, :3].sum(1).numpy()
        self.extractor_key = None  # set once the extractor is final (keys the embedding cache)
        key = self._extractor_key(kb_rows, valid)
        path = EXTRACTOR_CACHE / f"extractor-{key}.pt"
        if path.exists():  # same data, seed, extractor hyper-parameters and code (k / rag differ)
            st = torch.load(path, weights_only=False)
            ex.load_state_dict(st["state"])
            self.history += st["history"]
        else:
            HeadTrainer.run(self, ex, lambda idx: ex.head(ex(*self._batch(kb_in, idx))), len(kb_rows),
                            kb_rows.score.to_numpy() - 1, valid, hp["extractor_epochs"], hp["extractor_lr"],
                            hp["weight_decay"], hp["batch_size"], hp["seed"], val_scores=val_extractor,
                            tag={"stage": "extractor"}, lengths=np.diff(kb_in["tok"]["offsets"]),
                            patience=hp["extractor_patience"])
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save({"state": ex.state_dict(), "history": list(self.history)}, path)
        self.extractor_key = key
        # knowledge base
        kb_vec = self.embed(kb_rows.prompt)
        self.kb = KnowledgeBase(kb_vec, kb_rows.score.to_numpy(), seed=hp["seed"])
        va_vec = self.embed(valid.prompt) if va_in is not None else kb_vec[:256]
        self.kb_recall = self.kb.choose_nprobe(va_vec, hp["k"])
        # final model (re-seeded: the same start whether the extractor was trained or loaded)
        _set_seed(hp["seed"])
        self.final = FinalModel(rag=hp["rag"] == "on")
        fin_vec = self.embed(fin_rows.prompt)
        fin_nb = self._neighbours(fin_vec)
        va_nb = self._neighbours(va_vec) if va_in is not None else None
        HeadTrainer.run(self, self.final, lambda idx: self._final_logits(fin_vec, fin_nb, idx), len(fin_rows),
                        fin_rows.score.to_numpy() - 1, valid, hp["final_epochs"], hp["final_lr"],
                        hp["weight_decay"], hp["batch_size"], hp["seed"],
                        val_scores=lambda: self._strong_win(va_vec, va_nb), tag={"stage": "final"},
                        patience=hp["final_patience"])
        self.fit_seconds = time.time() - t0
        return self

    def _extractor_key(self, kb_rows, valid) -> str:
        src = "".join(inspect.getsource(m) for m in (sys.modules[__name__], HeadTrainer,
                                                     *(importlib.import_module(f"ragrouter_lib.{n}") for n in self.source_modules)))
        return content_hash({"hp": {k: self.hp[k] for k in EXTRACTOR_HP}, "src": content_hash(src),
                             "kb": features.texts_digest(kb_rows.prompt + "\x01" + kb_rows.score.astype(str)),
                             "valid": None if valid is None else features.texts_digest(
                                 valid.prompt + "\x01" + valid.strong_needed.astype(str))}, 16)

    def _neighbours(self, vec):
        dist, idx = self.kb.search(vec, self.hp["k"])
        return {"vec": self.kb.vectors[idx], "score": self.kb.scores[idx], "dist": dist / 100.0}

    def _final_logits(self, vec, nb, idx):
        q = torch.from_numpy(vec[idx])
        if self.hp["rag"] != "on":
            return self.final(q)
        return self.final(q, torch.from_numpy(nb["vec"][idx]), torch.from_numpy(nb["score"][idx]),
                          torch.from_numpy(nb["dist"][idx].astype(np.float32)))

    def _strong_win(self, vec, nb) -> np.ndarray:
        self.final.eval()
        with torch.no_grad():
            p = torch.softmax(self._final_logits(vec, nb, np.arange(len(vec))), -1)
        return p[:, :3].sum(1).numpy()

    def score(self, prompts):
        vec = self.embed(prompts)
        return self._strong_win(vec, self._neighbours(vec))

    # -- persistence
    def state(self):
        return {"extractor": self.extractor.state_dict(), "final": self.final.state_dict(),
                "kb": self.kb.state(), "kb_recall": self.kb_recall, "data_summary": self.data_summary,
                "n_dep": self.extractor.dep.num_embeddings, "extractor_key": self.extractor_key}

    def set_state(self, st):
        self.extractor = FeatureExtractor(d_sem=384, syntactic=self.hp["features"] != "semantic", n_dep=st["n_dep"])
        self.extractor.load_state_dict(st["extractor"])
        self.final = FinalModel(rag=self.hp["rag"] == "on")
        self.final.load_state_dict(st["final"])
        self.kb = KnowledgeBase.from_state(st["kb"], self.hp["seed"])
        self.kb_recall, self.data_summary = st["kb_recall"], st["data_summary"]
        self.extractor_key = st.get("extractor_key")
