"""RAGRouter's knowledge base (FAISS) and the cross-fit folds its final model trains with.

Thesis step: the retrieval half of RAGRouter: every training row's fused vector with its label in
a FAISS index, searched for a query's K nearest neighbours. ``KnowledgeBase``: ``IndexIVFFlat``
(L2), nlist ~ sqrt(N), nprobe the smallest reaching tie-aware recall@K >= 0.95 for queries that are
not in the KB. Deviation (ours, see ``routers.ragrouter``): cross-fitting. ``crossfit_folds`` puts
rows in folds grouped by origin (``origin_groups``: a row, its augmented variants and sampled
duplicates share one fold), so a row never reads a copy of its own label; ``aligned_labels`` gives
the neighbours' within-source centred scores (the label alignment).

>>> df = pd.DataFrame({"pool_id": ["a", "a", "b"], "prompt": ["x?", "X ?", "y"], "source_id": [None, "a", None]})
>>> f = crossfit_folds(df, n_folds=2); bool(f[0] == f[1])
True
"""
from __future__ import annotations

import hashlib
import time

import numpy as np
import pandas as pd

from ..data import leakage


# ----------------------------------------------------------------------------- the KB
class KnowledgeBase:
    """FAISS IVF (L2) index of KB vectors with their scores (k-means seeded by ``seed``)."""

    def __init__(self, vectors: np.ndarray, scores: np.ndarray, nlist: int | None = None, seed: int = 0):
        import faiss  # heavy optional package: imported only when this runs
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.scores = np.asarray(scores, dtype=np.int64)
        n, d = self.vectors.shape
        self.nlist = nlist or max(1, min(int(np.sqrt(n)), n // 39))  # faiss wants >= 39 points per list
        self.seed = int(seed) % (2**31 - 1)
        quant = faiss.IndexFlatL2(d)
        self.index = faiss.IndexIVFFlat(quant, d, self.nlist, faiss.METRIC_L2)
        self.index.cp.seed = self.seed
        self.index.train(self.vectors)
        self.index.add(self.vectors)
        self.nprobe = 1
        self._quant = quant

    def search(self, q: np.ndarray, k: int, nprobe: int | None = None):
        self.index.nprobe = nprobe or self.nprobe
        dist, idx = self.index.search(np.ascontiguousarray(q, dtype=np.float32), k)
        idx = np.where(idx < 0, 0, idx)  # too few vectors probed: pad with row 0 (rare)
        return dist, idx

    def exact(self, q: np.ndarray, k: int):
        import faiss  # heavy optional package: imported only when this runs
        flat = faiss.IndexFlatL2(self.vectors.shape[1])
        flat.add(self.vectors)
        return flat.search(np.ascontiguousarray(q, dtype=np.float32), k)

    def recall(self, q: np.ndarray, k: int, nprobes=None, eps: float = 1e-4) -> pd.DataFrame:
        """Recall@k of the IVF search against exact search, per nprobe (default: powers of two up to
        nlist, and nlist). ``recall@k``: the share of exact ids found (ties at equal distance make it
        arbitrary); ``recall@k_ties``: a retrieved row counts when its true distance is within ``eps``
        (relative) of the k-th exact distance, so equally near rows are not counted as misses.
        ``dup_share``: share of queries whose k-th and (k+1)-th exact distances tie."""
        q = np.ascontiguousarray(q, dtype=np.float32)
        k = min(k, len(self.vectors))
        tdist, truth = self.exact(q, min(k + 1, len(self.vectors)))
        kth = tdist[:, k - 1]
        ties = (tdist[:, k] - kth <= eps * np.maximum(kth, 1e-6)) if tdist.shape[1] > k else np.zeros(len(q), bool)
        if nprobes is None:
            nprobes = sorted({*(2 ** i for i in range(int(np.log2(self.nlist)) + 1)), self.nlist})
        rows = []
        for p in [p for p in nprobes if p <= self.nlist]:
            self.index.nprobe = p
            t0 = time.perf_counter()
            _, got = self.index.search(q, k)
            ms = 1000 * (time.perf_counter() - t0) / len(q)
            strict = np.mean([len(set(a) & set(b)) / k for a, b in zip(got, truth[:, :k])])
            gd = ((self.vectors[np.where(got < 0, 0, got)] - q[:, None, :]) ** 2).sum(-1)
            fair = np.mean((got >= 0) & (gd <= kth[:, None] + eps * np.maximum(kth[:, None], 1e-6)))
            rows.append({"nprobe": p, f"recall@{k}": strict, f"recall@{k}_ties": fair, "ms_per_query": ms,
                         "dup_share": float(ties.mean())})
        self.index.nprobe = self.nprobe
        return pd.DataFrame(rows)

    def choose_nprobe(self, q, k, target=0.95) -> pd.DataFrame:
        """The smallest nprobe whose tie-aware recall reaches ``target`` (else nlist: exact)."""
        table = self.recall(q, k)
        ok = table[table[f"recall@{min(k, len(self.vectors))}_ties"] >= target]
        self.nprobe = int(ok.nprobe.iloc[0] if len(ok) else self.nlist)
        return table

    def choose_nprobe_held_out(self, held: np.ndarray, k: int, rng, target=0.95, n_queries=500,
                               rest: KnowledgeBase | None = None) -> pd.DataFrame:
        """``choose_nprobe`` for queries that are not in the KB: probing with KB rows inflates recall
        (each finds itself at distance 0 in its own list). A KB of the rows outside ``held`` (a mask
        over this KB's rows, e.g. one cross-fit fold) is probed with up to ``n_queries`` held rows;
        its nprobe, as a share of its nlist, is applied to this KB. ``rest``: that KB, when the
        caller has built it already (a cross-fit fold's out-of-fold KB); else it is built here."""
        rows = np.flatnonzero(held)
        if rest is None:
            rest = KnowledgeBase(self.vectors[~held], self.scores[~held], seed=self.seed)
        elif len(rest.vectors) != int((~held).sum()):
            raise ValueError(f"rest: a KB of the {int((~held).sum())} rows outside held, got {len(rest.vectors)}")
        q = self.vectors[rng.choice(rows, size=min(len(rows), n_queries), replace=False)]
        table = rest.choose_nprobe(q, k, target)
        self.nprobe = min(self.nlist, int(np.ceil(rest.nprobe * self.nlist / rest.nlist)))
        return table

    def state(self):
        return {"vectors": self.vectors, "scores": self.scores, "nlist": self.nlist, "nprobe": self.nprobe,
                "seed": self.seed}

    @classmethod
    def from_state(cls, st, seed=0):
        kb = cls(st["vectors"], st["scores"], st["nlist"], st.get("seed", seed))
        kb.nprobe = st["nprobe"]
        return kb


# ----------------------------------------------------------------------------- cross-fit folds
def origin_groups(df: pd.DataFrame) -> pd.Series:
    """The group of each row: its origin (``origin_id``; if missing, ``source_id`` for augmented rows
    else ``pool_id``), merged with every other origin whose prompt is equal after normalisation."""
    sid = df.source_id if "source_id" in df else pd.Series(np.nan, index=df.index)
    aug = df.panel.eq("augmented") & sid.notna() if "panel" in df else sid.notna()
    origin = df.pool_id.astype(str).where(~aug, sid.astype(str))
    if "origin_id" in df:  # rows that carry their origin use it; the rest fall back as above
        origin = df.origin_id.where(df.origin_id.notna(), origin).astype(str)
    own = df.pool_id.astype(str) == origin  # original rows: their text names the origin's text
    text_of = dict(zip(origin[own], df.prompt[own].map(leakage.normalize)))
    return origin.map(lambda o: "t:" + text_of[o] if o in text_of else "o:" + o).rename("group")


def crossfit_folds(df: pd.DataFrame, n_folds: int = 5, seed: int = 0) -> np.ndarray:
    """Fold 0..n_folds-1 per row by a seeded hash of its ``origin_groups`` group (one group, one fold)."""
    g = origin_groups(df)
    return g.map(lambda t: int(hashlib.sha256(f"fold{seed}:{t}".encode()).hexdigest()[:8], 16) % n_folds).to_numpy()


def aligned_labels(df: pd.DataFrame, means: dict | None = None) -> tuple[np.ndarray, dict]:
    """(n, 2) within-source centred (score / 4, strong_needed): the label alignment of neighbours.
    ``means``: per-source (score, strong_needed) means (computed from ``df`` when None)."""
    if means is None:
        m = df.groupby("source")[["score", "strong_needed"]].mean()
        means = {s: (float(r.score), float(r.strong_needed)) for s, r in m.iterrows()}
    glob = (float(df.score.mean()), float(df.strong_needed.mean()))
    mu = np.array([means.get(s, glob) for s in df.source], np.float32).reshape(-1, 2)
    vals = df[["score", "strong_needed"]].to_numpy(np.float32)
    out = vals - mu
    out[:, 0] /= 4.0
    return out, means
