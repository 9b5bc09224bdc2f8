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

from ..core.seeding import step_seed
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


# ----------------------------------------------------------------------------- KB rows beyond the training rows
def extra_row_folds(train: pd.DataFrame, extra: pd.DataFrame, n_folds: int, seed: int = 0) -> np.ndarray:
    """Cross-fit fold of each KB-only row (``extra``: rows the final model does not train on): -1
    (in every fold's out-of-fold KB) unless it shares an ``origin_groups`` group (same origin, or a
    prompt equal after normalisation) with a training row, then that row's fold, so a training row
    never reads it. ``train``'s folds are ``crossfit_folds(train, n_folds, seed)``."""
    both = pd.concat([train, extra], ignore_index=True)
    groups = origin_groups(both).to_numpy()
    folds = crossfit_folds(both, n_folds, seed)
    own = set(groups[: len(train)])
    g_extra, f_extra = groups[len(train):], folds[len(train):]
    return np.array([f if g in own else -1 for g, f in zip(g_extra, f_extra)], dtype=np.int64)


# ----------------------------------------------------------------------------- the kNN vote (exact search)
def per_source_topk(q: np.ndarray, kb: np.ndarray, kb_source, k: int, q_groups=None, kb_groups=None,
                    chunk: int = 1024) -> dict:
    """Exact cosine top-``k`` of each query row within each KB source: {source: (sim (n, k), idx
    (n, k) into ``kb``, -1 = none)}. A KB row of the query's own origin group (``q_groups`` /
    ``kb_groups``, e.g. ``origin_groups`` of one frame: the query itself, its variants, an equal
    prompt in another source) is never returned. The top-k over any union of sources is the
    top-k of the union of these lists (``vote_from_topk``), so one pass serves every KB choice."""
    q = np.ascontiguousarray(q, np.float32)
    kb = np.ascontiguousarray(kb, np.float32)
    kb_source = np.asarray(kb_source)
    out = {}
    for s in sorted(set(kb_source)):
        cols = np.flatnonzero(kb_source == s)
        kk = min(k, len(cols))
        sims, idx = np.full((len(q), k), -np.inf, np.float32), np.full((len(q), k), -1, np.int64)
        for a in range(0, len(q), chunk):
            S = q[a:a + chunk] @ kb[cols].T
            if q_groups is not None:
                S[np.asarray(q_groups)[a:a + chunk, None] == np.asarray(kb_groups)[cols][None, :]] = -np.inf
            top = np.argpartition(-S, kk - 1, axis=1)[:, :kk]
            ts = np.take_along_axis(S, top, 1)
            o = np.argsort(-ts, axis=1, kind="stable")
            sims[a:a + chunk, :kk] = np.take_along_axis(ts, o, 1)
            idx[a:a + chunk, :kk] = np.where(np.isfinite(sims[a:a + chunk, :kk]), cols[np.take_along_axis(top, o, 1)], -1)
        out[s] = (sims, idx)
    return out


def vote_from_topk(topk: dict, sources, labels, k: int, rows=None) -> dict:
    """The kNN vote with the KB = the rows of ``sources``: for each query (``rows``: a subset of
    the queries; default all), the ``k`` most similar KB rows among those sources' lists of
    ``per_source_topk``; ``vote`` = their mean ``labels`` (strong needed), ``sim`` (n, k), ``idx``."""
    sources = [s for s in sources if s in topk]
    if not sources:
        raise ValueError("vote_from_topk: no KB source")
    sl = slice(None) if rows is None else rows
    S = np.concatenate([topk[s][0][sl] for s in sources], 1)
    idx = np.concatenate([topk[s][1][sl] for s in sources], 1)
    o = np.argsort(-S, axis=1, kind="stable")[:, :k]
    S, idx = np.take_along_axis(S, o, 1), np.take_along_axis(idx, o, 1)
    y = np.where(idx >= 0, np.asarray(labels, float)[np.maximum(idx, 0)], np.nan)
    return {"vote": np.nanmean(y, 1), "sim": S, "idx": idx}


def out_of_fold_kbs(kb: KnowledgeBase, kb_fold, folds, seed: int) -> dict:
    """One KB per training fold ``f`` (the folds in ``folds``) of the KB rows outside it (``kb_fold``
    != f; a KB-only row of fold -1 is in all): ``{f: (row indices into kb, KnowledgeBase)}``, so a
    row never finds itself or its origin's copies (the cross-fit)."""
    out = {}
    for f in np.unique(folds):
        rest = np.flatnonzero(np.asarray(kb_fold) != f)
        out[int(f)] = rest, KnowledgeBase(kb.vectors[rest], kb.scores[rest], seed=step_seed(seed, f"kb_fold{f}"))
    return out


def out_of_fold_neighbours(fold_kbs: dict, folds, vec, k: int, nprobe: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` nearest KB rows (indices into the whole KB, L2 distances) in its fold's
    out-of-fold KB (``out_of_fold_kbs``)."""
    idx, dist = np.zeros((len(vec), k), np.int64), np.zeros((len(vec), k), np.float32)
    for f, (rest, kbf) in fold_kbs.items():
        inside = folds == f
        d, i = kbf.search(vec[inside], k, nprobe=min(nprobe, kbf.nlist))
        idx[inside], dist[inside] = rest[i], d
    return idx, dist
