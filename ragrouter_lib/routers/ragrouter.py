"""RAGRouter (the thesis's method), ``offline`` profile: a CPU-sized rebuild, cross-fitted.

Pipeline, per training seed (``fit(train, valid=None, prepared=None)``):
1. training data = ``training_data.prepare_split`` (augmentation, sampling; switches ``augment``,
   ``sample``), or the caller's ``prepared`` result (so a selection protocol that already ran it
   does not run it again);
2. H_sem: contextual word-piece states of MiniLM-L6 (384-d; layer 5 of 6; the thesis's DeBERTa-v3
   is the ``paper`` profile's choice);
3. H_syn: spaCy dependency graph, node = token with [aligned semantic vector; POS embedding;
   dependency-label embedding], two GraphSAGE layers (DGL ``SAGEConv``, mean) -> 128-d;
4. fusion: cross-modal multi-head attention, Q = H_sem, K/V = H_syn (256-d, 4 heads, residual +
   LayerNorm) -> mean pool -> h_fuse_global (256-d). The extractor (2-4) is trained on EVERY
   training row with a 5-class head (Adam); with ``alignment="source_fe"`` the head also gets a learned
   per-source bias during training that is dropped at scoring (source fixed effects: the head is not
   rewarded for recognising a source's base rate; started from ``alignment.class_log_ratios``);
   ``alignment="rebalance"``: rows resampled by ``alignment.sample_weights``; "none": pooled labels.
   ``features="plain"`` (Table 5's variant) has no extractor: no parse, GraphSAGE, CM-MHA or
   structural features; the query vector (and KB vector) is the plain MiniLM sentence embedding as
   the baselines read it (``encoders.sentence_embeddings``) times sqrt(d): entries of unit scale
   like h_fuse_global's, same neighbours as the unit vectors.
   Trained extractors are cached (``cache.key``) by data, seed, settings and code;
5. KB: h_fuse_global of every training row (each (prompt, score) once) with its labels in a FAISS
   ``IndexIVFFlat`` (L2), nlist ~ sqrt(N); nprobe = the smallest reaching tie-aware recall@K >= 0.95 against exact search
   (a retrieved row counts when its distance is <= the K-th exact distance + eps), searched up to
   nlist (``KnowledgeBase.recall``), for queries that are not in the KB (held-out sources, or one
   fold's rows against the other folds' KB: a KB row finds itself, which inflates recall);
6. final model: query vector + structural features of its parse (token count, parse depth, clauses,
   sentences, digits, operators, characters) + its top-K neighbours (vector, one-hot score,
   within-source centred score and strong-needed label = the label alignment, distance) read by
   attention -> MLP -> 5 logits; strong-win = P(score <= 3).
   Deviation from the thesis (70 % KB / 30 % final rows): CROSS-FIT. Rows are put in ``n_folds``
   folds grouped by origin (a pool row, its augmented variants and its sampled duplicates share one
   fold; prompts equal after normalisation too); while the final model trains, each row's
   neighbours come only from the other folds (out-of-fold KB), so it never reads a copy of its own
   label; at scoring time the KB holds all training rows. Both the extractor and the final model
   see every row. With ``valid`` the stages stop early on its AUC (best epoch kept); with
   ``valid=None`` they train ``extractor_epochs`` / ``final_epochs``.
Seeding: every stage starts from ``seeding.seed_step(seed, stage)`` (and ``dgl.seed``, FAISS
k-means seeds from ``seeding.step_seed``), so results do not depend on what ran before or on which
stages came from the cache.

The ``paper`` profile replaces step 6 by a Qwen-class LLM fine-tuned with LoRA on the textual
augmented prompt (``routers/ragrouter_llm.py``).
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch

from ..core import cache
from ..core.seeding import step_seed
from ..data import leakage
from ..features import encoders, syntax
from ..labels import alignment
from ..pipeline import training_data
from .base import register
from . import kb_sources as kb_choice
from .kb import (KnowledgeBase, aligned_labels, crossfit_folds, extra_row_folds, origin_groups, out_of_fold_kbs,
                 out_of_fold_neighbours)
from .ragrouter_parts import EMBED_BATCH, FeatureExtractor, FinalInputs, FinalModel, RowGraphs, structural_features
from .training import HeadTrainer, TrainableRouter

MODULES = ["ragrouter_lib.routers.ragrouter"]
# the query vector: h_fuse_global (the thesis's features) or the plain sentence embedding (Table 5)
FEATURES = ("semantic+syntactic", "plain")

# what the feature extractor's training depends on (k, rag, n_folds and the final model's do not)
EXTRACTOR_HP = ("seed", "augment", "sample", "factor", "size_frac", "features", "alignment", "encoder", "layer",
                "max_len", "extractor_epochs", "extractor_lr", "batch_size", "weight_decay", "extractor_patience")


# ----------------------------------------------------------------------------- the router
@register("ragrouter")
class RAGRouter(TrainableRouter):
    # the data settings (augment, sample, factor, size_frac) have one home: the pipeline's defaults
    defaults = {**training_data.DEFAULTS, "features": "semantic+syntactic", "rag": "on", "k": 10, "n_folds": 5, "alignment": "source_fe",
                "encoder": "minilm", "layer": 5, "max_len": 128, "extractor_epochs": 6,
                "extractor_lr": 1e-3, "final_epochs": 40, "final_lr": 1e-3, "batch_size": 64,
                "weight_decay": 1e-4, "extractor_patience": 1, "final_patience": 8}
    grid = [{"k": 10}, {"k": 20}, {"k": 10, "final_lr": 3e-4}]  # grid[0] = the defaults
    # the KB's sources (``routers.kb_sources``): None = the training rows only (inert); a tuple of pool
    # source names = the training rows of those sources plus every row of those sources the final
    # model does not train on (held-out validation sources excluded), e.g. ("mmlu_pro", ...)
    defaults = {**defaults, "kb_sources": None}

    # -- inputs
    @property
    def plain(self) -> bool:
        """Table 5's variant: the plain sentence embedding, no extractor (``FEATURES``)."""
        if self.hp["features"] not in FEATURES:
            raise ValueError(f"features={self.hp['features']!r}: choose one of {FEATURES}")
        return self.hp["features"] == "plain"

    def _inputs(self, prompts, parsed=None):
        prompts = list(prompts)
        tok = encoders.token_states(prompts, self.hp["encoder"], layer=self.hp["layer"],
                                    max_len=self.hp["max_len"], progress=False)
        parsed = parsed or syntax.parses(prompts, progress=False)
        return {"prompts": prompts, "tok": tok, "parse": parsed,
                "wp": syntax.wordpiece_offsets(prompts, self.hp["encoder"], self.hp["max_len"]),
                "graphs": RowGraphs(prompts, self.hp)}

    def _batch(self, inp, idx):
        """One forward pass's inputs; ``inp["graphs"]`` (``RowGraphs``) keeps every row's graph after
        its first batch."""
        x, m = encoders.unpack(inp["tok"], idx)
        g, node_sem, pos, dep, counts = syntax.build_graphs(inp["parse"], idx, [inp["wp"][i] for i in idx],
                                                            inp["tok"]["states"], inp["tok"]["offsets"],
                                                            memo=inp["graphs"])
        return (x, m, g, node_sem, pos, dep, counts)

    def embed(self, prompts, parsed=None) -> np.ndarray:
        """h_fuse_global (n, 256) of ``prompts``; once the extractor is final, cached per text under
        its key (same key = same weights: the ``k``/``rag`` variants embed each prompt once).
        ``parsed``: the prompts' parses when the caller has them. ``features="plain"``: ``plain_vectors``."""
        prompts = list(prompts)
        if self.plain:
            return self.plain_vectors(prompts)

        def compute(t):  # t: the texts not cached (all of them, in order, when the cache is off)
            return {"h": self._embed(self._inputs(t, parsed if t == prompts else None))}
        if getattr(self, "extractor_key", None) is None:
            return compute(prompts)["h"]
        return encoders.cached("hfuse", {"extractor": self.extractor_key}, prompts, compute, verbose=False)["h"]

    def _embed(self, inp, bs=EMBED_BATCH) -> np.ndarray:
        self.extractor.eval()
        n = len(inp["prompts"])
        out = np.zeros((n, 256), np.float32)
        lengths = np.diff(inp["tok"]["offsets"])
        with torch.no_grad():
            for b in encoders.length_batches(lengths, bs):
                out[b] = self.extractor(*self._batch(inp, b)).numpy()
        return out

    def plain_vectors(self, prompts) -> np.ndarray:
        """The plain sentence embedding of ``prompts`` (``encoders.sentence_embeddings``: mean-pooled,
        unit length, cached per text) times sqrt(d): unit-scale entries like h_fuse_global's."""
        v = encoders.sentence_embeddings(list(prompts), self.hp["encoder"], max_len=self.hp["max_len"], progress=False)
        return (v * np.sqrt(v.shape[1])).astype(np.float32)

    def _sem_width(self) -> int:
        """Width of the semantic encoder's states (MiniLM 384, DeBERTa-v3-base 768)."""
        return encoders.load_encoder(self.hp["encoder"])[1].config.hidden_size

    def structure(self, prompts, parsed=None) -> np.ndarray | None:
        """Structural features of ``prompts`` standardised as on the training rows (None:
        ``features="plain"``)."""
        if self.plain:
            return None
        return (structural_features(prompts, parsed) - self.struct_mu) / self.struct_sd

    # -- training, stage by stage
    def fit(self, train, valid=None, prepared=None):
        """Cross-fitted training (module docstring), one method per stage: ``prepare_data`` (rows,
        folds) -> ``fit_extractor`` -> ``embed_rows`` (vectors, structural features) -> ``build_kbs``
        (scoring KB, nprobe, out-of-fold neighbours) -> ``fit_final``. ``prepared``: the result of
        ``training_data.prepare_split(train, valid, seed, ...)`` (or its ``train`` frame) when the
        caller already ran it with this router's data settings; otherwise it is run here."""
        t0 = time.time()
        data = self.prepare_data(train, valid, prepared)
        self.fit_extractor(data, valid)
        tr, va = self.embed_rows(data, valid)
        tr, va = self.build_kbs(data, tr, va, valid)
        self.fit_final(data, tr, va, valid)
        self.fit_seconds = time.time() - t0
        return self

    def prepare_data(self, train, valid=None, prepared=None) -> pd.DataFrame:
        """Stage 1: the training rows (pipeline step 1, then ``alignment="rebalance"``'s seeded
        resample) and their cross-fit folds. Sets ``train_rows`` (the rows every later stage trains
        on; the LLM variant trains its scorer on them), ``train_folds``, ``sources`` and
        ``data_summary``; returns the rows."""
        hp, seed = self.hp, self.hp["seed"]
        if hp["n_folds"] < 2:
            raise ValueError(f"n_folds must be >= 2 (got {hp['n_folds']})")
        if prepared is None:
            prepared = training_data.prepare_split(train, valid, seed, cache.root() / "data", augment=hp["augment"],
                                                   sample=hp["sample"], factor=hp["factor"],
                                                   size_frac=hp["size_frac"], log=lambda *_: None)
        data = (prepared.train if hasattr(prepared, "train") else prepared).reset_index(drop=True)
        alignment.check(hp["alignment"])
        if hp["alignment"] == "rebalance":  # per-source rebalancing, realised by a seeded resample
            w = alignment.sample_weights(data, "rebalance")
            data = data.iloc[alignment.resample(w, step_seed(seed, "rebalance"))].reset_index(drop=True)
        _, self.sources = alignment.source_codes(data)
        self.train_rows, self.train_folds = data, crossfit_folds(data, hp["n_folds"], seed)
        self.data_summary = {"training_rows": len(data), "kb_rows": None, "final_rows": len(data),
                             "augmented_rows": int((data.panel == "augmented").sum()),
                             "origin_groups": int(origin_groups(data).nunique()), "folds": int(hp["n_folds"]),
                             "valid_rows": 0 if valid is None else len(valid)}
        return data

    def _source_effects(self, data):
        """(per-row source ids for the source bias, or None; their closed-form start
        ``alignment.class_log_ratios``), for ``alignment="source_fe"``."""
        codes, _ = alignment.source_codes(data)
        init = torch.as_tensor(alignment.class_log_ratios(codes, data.score.to_numpy() - 1, len(self.sources), 5),
                               dtype=torch.float32)
        return (torch.as_tensor(codes) if self.hp["alignment"] == "source_fe" else None), init

    def fit_extractor(self, data, valid=None) -> None:
        """Stage 2: the feature extractor on every training row (5-class head, Adam), seeded by
        (seed, "extractor"); loaded from the extractor cache when the same data, seed, extractor
        settings and code trained it before. Sets ``extractor`` and ``extractor_key`` (both None with
        ``features="plain"``: no extractor)."""
        hp = self.hp
        self.extractor = self.extractor_key = None
        if self.plain:
            return
        src, fe_init = self._source_effects(data)
        self._seed("extractor")
        ex = self.extractor = FeatureExtractor(d_sem=self._sem_width(), n_dep=len(syntax.dep_labels()),
                                               n_sources=len(self.sources) if src is not None else 0)
        if src is not None:  # closed-form fixed effects as the start (alignment.class_log_ratios)
            ex.source_bias.bias.weight.data.copy_(fe_init)
        self.extractor_key = None  # set once the extractor is final (keys the embedding cache)
        key = self._extractor_key(data, valid)
        path = cache.path("extractors", f"extractor-{key}.pt")
        st = cache.load_torch(path)
        if st is not None:  # same data, seed, extractor settings and code: no inputs rebuilt
            ex.load_state_dict(st["state"])
            self.history += st["history"]
        else:
            inp = self._inputs(data.prompt)
            va_in = self._inputs(valid.prompt) if valid is not None else None

            def val_extractor():
                with torch.no_grad():
                    ex.eval()
                    return torch.softmax(ex.head(torch.from_numpy(self._embed(va_in))), -1)[:, :3].sum(1).numpy()
            start = len(self.history)
            HeadTrainer.run(self, ex, lambda idx: ex.source_bias(ex.head(ex(*self._batch(inp, idx))),
                                                                 None if src is None else src[idx]),
                            len(data), data.score.to_numpy() - 1, valid, hp["extractor_epochs"], hp["extractor_lr"],
                            hp["weight_decay"], hp["batch_size"], hp["seed"],
                            val_scores=val_extractor, tag={"stage": "extractor"},
                            lengths=np.diff(inp["tok"]["offsets"]), patience=hp["extractor_patience"])
            cache.save_torch(path, {"state": ex.state_dict(), "history": list(self.history[start:])})
        self.extractor_key = key

    def embed_rows(self, data, valid=None) -> tuple[FinalInputs, FinalInputs | None]:
        """Stage 3: h_fuse_global and structural features (standardised on the training rows: sets
        ``struct_mu``/``struct_sd``) of the training rows and of ``valid``; no neighbours yet."""
        vec = self.embed(data.prompt)
        if not self.plain:
            raw = structural_features(data.prompt)
            self.struct_mu, self.struct_sd = raw.mean(0), raw.std(0) + 1e-6
            S = (raw - self.struct_mu) / self.struct_sd  # = self.structure(data.prompt), parsed once
        else:
            self.struct_mu = self.struct_sd = S = None
        va = None if valid is None else FinalInputs(self.embed(valid.prompt), self.structure(valid.prompt))
        return FinalInputs(vec, S), va

    def build_kbs(self, data, tr: FinalInputs, va: FinalInputs | None, valid=None, extra=None):
        """Stage 4: the scoring-time KB (every training row, each (prompt, score) once: sampled
        duplicates would fill the K slots with one row and tie at equal distance), one KB per fold
        of the rows outside it (built once, used both to choose nprobe without ``valid`` and for the
        final model's out-of-fold neighbours), and nprobe. Sets ``kb`` and its row data (``kb_rows``,
        ``kb_aligned``, ``kb_texts``, ``kb_meta``, ``source_means``), ``k``, ``kb_recall`` and
        ``train_neighbours``; returns ``tr`` and ``va`` with their neighbours.
        ``kb_sources`` (setting): the KB keeps the training rows of those sources and adds ``extra``
        (default ``kb_choice.kb_rows``: those sources' rows outside the training rows and ``valid``,
        under the leakage guard), embedded by this extractor. ``kb_rows`` indexes the training rows
        (the KB's first rows); ``kb_folds`` gives every KB row's fold (-1: a KB-only row of no
        training origin, in every fold's out-of-fold KB; ``kb.extra_row_folds``)."""
        hp, seed, folds = self.hp, self.hp["seed"], self.train_folds
        aligned, self.source_means = aligned_labels(data)
        once = ~pd.Series(list(zip(data.prompt.map(leakage.normalize), data.score))).duplicated()
        if hp.get("kb_sources") is not None:
            once &= data.source.isin(list(hp["kb_sources"])).to_numpy()
        kb_rows = np.flatnonzero(once.to_numpy())
        cols = ["pool_id", "prompt", "source", "score", "strong_needed"]
        if extra is None and hp.get("kb_sources") is not None:
            held = [] if valid is None else valid.prompt
            extra = kb_choice.kb_rows(hp["kb_sources"], {*data.source, *([] if valid is None else valid.source)}, held)
        extra = extra if extra is not None and len(extra) else None
        kb_vec, kb_fold = tr.vec[kb_rows], folds[kb_rows]
        self.kb_rows, self.kb_aligned = kb_rows, aligned[kb_rows]
        self.kb_meta = data.iloc[kb_rows][cols].reset_index(drop=True)
        if extra is not None:  # KB-only rows: their own within-source centring, this extractor's vectors
            ex_aligned, ex_means = aligned_labels(extra)
            self.source_means = {**ex_means, **self.source_means}
            kb_vec = np.concatenate([kb_vec, self.embed(extra.prompt)])
            kb_fold = np.concatenate([kb_fold, extra_row_folds(data, extra, hp["n_folds"], seed)])
            self.kb_aligned = np.concatenate([self.kb_aligned, ex_aligned])
            self.kb_meta = pd.concat([self.kb_meta, extra[cols]], ignore_index=True)
        self.kb_texts, self.kb_folds = list(self.kb_meta.prompt), kb_fold
        self.kb = KnowledgeBase(kb_vec, self.kb_meta.score.to_numpy(), seed=step_seed(seed, "kb"))
        self.data_summary["kb_rows"] = len(kb_vec)
        self.data_summary["kb_only_rows"] = 0 if extra is None else len(extra)
        self.k = int(min(hp["k"], min((kb_fold != f).sum() for f in np.unique(folds))))
        fold_kbs = out_of_fold_kbs(self.kb, kb_fold, folds, seed)  # built once per fit
        # nprobe for queries outside the KB: the held-out sources while validating, else the first
        # fold's rows against its out-of-fold KB (training rows would each find themselves)
        first = folds[kb_rows].min() if len(kb_rows) else folds.min()
        self.kb_recall = (self.kb.choose_nprobe(va.vec, self.k) if va is not None else
                          self.kb.choose_nprobe_held_out(kb_fold == first, self.k, self._seed("kb_recall"),
                                                         rest=fold_kbs[first][1]))
        nb_idx, nb_dist = out_of_fold_neighbours(fold_kbs, folds, tr.vec, self.k, self.kb.nprobe)
        self.train_neighbours = nb_idx  # diagnostics: which KB rows each row read
        return (FinalInputs(tr.vec, tr.struct, self._pack(nb_idx, nb_dist)),
                None if va is None else FinalInputs(va.vec, va.struct, self.neighbours(va.vec)))

    def fit_final(self, data, tr: FinalInputs, va: FinalInputs | None = None, valid=None) -> None:
        """Stage 5: the final model on every training row with its out-of-fold neighbours, seeded by
        (seed, "final"); early stopping on ``valid``'s AUC when given. Sets ``final``."""
        hp = self.hp
        src, fe_init = self._source_effects(data)
        self._seed("final")
        self.final = FinalModel(d=tr.vec.shape[1], rag=hp["rag"] == "on",
                                n_struct=0 if tr.struct is None else tr.struct.shape[1],
                                n_sources=len(self.sources) if src is not None else 0)
        if src is not None:
            self.final.source_bias.bias.weight.data.copy_(fe_init)
        HeadTrainer.run(self, self.final, lambda idx: self._final_logits(tr.vec, tr.struct, tr.nb, idx,
                                                                          None if src is None else src[idx]),
                        len(data), data.score.to_numpy() - 1, valid, hp["final_epochs"], hp["final_lr"],
                        hp["weight_decay"], hp["batch_size"], hp["seed"],
                        val_scores=None if va is None else (lambda: self.strong_win(va.vec, va.struct, va.nb)),
                        tag={"stage": "final"}, patience=hp["final_patience"])

    def _seed(self, step):
        import dgl  # noqa: F401  (loaded, so seed_step seeds DGL too)
        return self.seed_step(step)

    def _extractor_key(self, data, valid) -> str:
        return cache.key("ragrouter.extractor", {k: self.hp[k] for k in EXTRACTOR_HP},
                         {"train": cache.digest_frame(data, ["prompt", "score", "source"]),
                          "valid": "none" if valid is None else cache.digest_frame(valid, ["prompt", "strong_needed"])},
                         modules=MODULES)

    def _pack(self, idx, dist):
        return {"idx": idx, "vec": self.kb.vectors[idx], "score": self.kb.scores[idx],
                "aligned": self.kb_aligned[idx], "dist": (dist / 100.0).astype(np.float32)}

    def neighbours(self, vec) -> dict:
        """The ``k`` nearest KB rows of each query vector (scoring time: the KB of every training
        row): ``idx`` (KB row indices, into ``kb_meta``/``kb_texts``), and per neighbour ``vec``,
        ``score`` (1-5), ``aligned`` (within-source centred labels) and ``dist`` (L2 / 100)."""
        dist, idx = self.kb.search(vec, self.k)
        return self._pack(idx, dist)

    def _final_logits(self, vec, S, nb, idx, source=None):
        q = torch.from_numpy(vec[idx])
        s = None if S is None else torch.from_numpy(np.asarray(S[idx], np.float32))
        if self.hp["rag"] != "on":
            return self.final(q, s, source=source)
        return self.final(q, s, torch.from_numpy(nb["vec"][idx]), torch.from_numpy(nb["score"][idx]),
                          torch.from_numpy(nb["aligned"][idx]), torch.from_numpy(nb["dist"][idx]), source=source)

    def strong_win(self, vec, S, nb) -> np.ndarray:
        """The final model's P(score <= 3) from query vectors, standardised structural features
        (``structure``) and neighbours (``neighbours``)."""
        self.final.eval()
        with torch.no_grad():
            p = torch.softmax(self._final_logits(vec, S, nb, np.arange(len(vec))), -1)
        return p[:, :3].sum(1).numpy()

    def score(self, prompts):
        prompts = list(prompts)  # one parse per prompt: the extractor and the structural features share it
        parsed = None if self.plain else syntax.parses(prompts, progress=False)
        vec = self.embed(prompts, parsed)
        return self.strong_win(vec, self.structure(prompts, parsed), self.neighbours(vec))

    # -- persistence
    def state(self):
        ex = self.extractor
        return {"extractor": None if ex is None else ex.state_dict(), "final": self.final.state_dict(),
                "kb": self.kb.state(), "kb_aligned": self.kb_aligned, "kb_meta": self.kb_meta.to_dict("list"),
                "source_means": self.source_means, "sources": self.sources, "k": self.k,
                "struct": (self.struct_mu, self.struct_sd), "kb_rows": self.kb_rows, "kb_folds": self.kb_folds,
                "train_neighbours": self.train_neighbours, "train_folds": self.train_folds, "kb_recall": self.kb_recall,
                "data_summary": self.data_summary, "n_dep": None if ex is None else ex.dep.num_embeddings,
                "extractor_key": self.extractor_key, "d": self.final.qp.in_features}

    def set_state(self, st):
        fe = len(st["sources"]) if self.hp["alignment"] == "source_fe" else 0
        self.extractor = None
        if not self.plain:
            self.extractor = FeatureExtractor(d_sem=self._sem_width(), n_dep=st["n_dep"], n_sources=fe)
            self.extractor.load_state_dict(st["extractor"])
        self.struct_mu, self.struct_sd = st["struct"]
        self.final = FinalModel(d=st.get("d", 256), rag=self.hp["rag"] == "on",
                                n_struct=0 if self.struct_mu is None else len(self.struct_mu), n_sources=fe)
        self.final.load_state_dict(st["final"])
        self.kb = KnowledgeBase.from_state(st["kb"])
        self.kb_aligned, self.kb_meta = st["kb_aligned"], pd.DataFrame(st["kb_meta"])
        self.source_means, self.sources, self.k = st["source_means"], st["sources"], st["k"]
        self.kb_recall, self.data_summary = st["kb_recall"], st["data_summary"]
        self.extractor_key = st.get("extractor_key")
        self.kb_texts = list(self.kb_meta.prompt)
        self.kb_rows = st.get("kb_rows")
        self.kb_folds = st.get("kb_folds")
        self.train_neighbours, self.train_folds = st.get("train_neighbours"), st.get("train_folds")
