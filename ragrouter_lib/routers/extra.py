"""Extra reference rows, marked as extra in every table (not part of the thesis's comparison).

- ``knn``, ``kmeans``, ``svm``: the three ML selectors of vLLM's semantic router, on MiniLM query
  embeddings. The selector picks the model whose training neighbours / cluster / class show it is
  needed; with two models that is the quality-weighted (similarity-weighted) share of training
  queries that needed the strong model.
- ``logreg``: logistic regression on MiniLM embeddings, "strong needed" as the label (a simple
  reference: a trained router far below it is under-trained).
- ``length``: LLM Compass's first rule: longer prompt (tokens) -> strong model. No training; its
  direction is not learnable from the pool, so it is never tuned.
"""
from __future__ import annotations

import time

import numpy as np

from ..core.seeding import step_seed
from ..features.encoders import load_encoder
from ..labels import alignment
from .base import register
from .training import TrainableRouter, val_auc


class _SklearnRouter(TrainableRouter):
    def fit(self, train, valid=None):
        t0 = time.time()
        variant = alignment.check(self.hp.get("alignment", "none"))
        self._fit(self.embed(train.prompt), np.asarray(train.strong_needed), train, variant)
        self.fit_seconds = time.time() - t0
        if valid is not None:
            self.history.append({"val_auc": val_auc(self.score(valid.prompt), valid.strong_needed)})
        return self

    def _with_sources(self, x, frame=None, variant="none"):
        """Source fixed effects: one-hot source columns at training, zeros at scoring."""
        if frame is not None:
            codes, names = alignment.source_codes(frame)
            self.m_nsrc = len(names) if variant == "source_fe" else 0
            return np.hstack([x, alignment.one_hot(codes, len(names))]) if self.m_nsrc else x
        n = getattr(self, "m_nsrc", 0)
        return np.hstack([x, np.zeros((len(x), n), x.dtype)]) if n else x

    def state(self):
        return {k: v for k, v in self.__dict__.items() if k.startswith("m_")}

    def set_state(self, st):
        self.__dict__.update(st)


@register("knn")
class KNNRouter(_SklearnRouter):
    defaults = {"k": 10, "encoder": "minilm", "max_len": 128, "alignment": "none"}
    grid = [{"k": 10}, {"k": 30}, {"k": 100}]

    def _fit(self, x, y, frame, variant):
        yc = alignment.centred_labels(frame, y) if variant == "source_fe" else y
        self.m_x, self.m_y = x, yc.astype(np.float32)
        self.m_w = alignment.sample_weights(frame, variant).astype(np.float32)

    def score(self, prompts):
        q, k, out = self.embed(prompts), self.hp["k"], []
        for s in range(0, len(q), 1024):
            sims = q[s:s + 1024] @ self.m_x.T
            idx = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            w = np.maximum(np.take_along_axis(sims, idx, 1), 0) + 1e-6
            w = w * getattr(self, "m_w", np.ones(len(self.m_y), np.float32))[idx]
            out.append((w * self.m_y[idx]).sum(1) / w.sum(1))
        return np.concatenate(out)


@register("kmeans")
class KMeansRouter(_SklearnRouter):
    defaults = {"n_clusters": 8, "encoder": "minilm", "max_len": 128, "alignment": "none"}
    grid = [{"n_clusters": 8}, {"n_clusters": 16}, {"n_clusters": 32}]

    def _fit(self, x, y, frame, variant):
        from sklearn.cluster import KMeans  # heavy optional package: imported only when this runs
        km = KMeans(self.hp["n_clusters"], n_init=4, random_state=step_seed(self.hp["seed"], "kmeans/fit")).fit(x)
        yc = alignment.centred_labels(frame, y) if variant == "source_fe" else y.astype(float)
        w = alignment.sample_weights(frame, variant)
        counts = np.bincount(km.labels_, weights=w, minlength=km.n_clusters)
        pos = np.bincount(km.labels_, weights=w * yc, minlength=km.n_clusters)
        self.m_centers = km.cluster_centers_.astype(np.float32)
        prior = (w * yc).sum() / w.sum()
        self.m_rate = (pos + prior) / (counts + 1)  # one pseudo-count towards the base rate

    def score(self, prompts):
        d = ((self.embed(prompts)[:, None, :] - self.m_centers[None]) ** 2).sum(-1)
        w = np.exp(-(d - d.min(1, keepdims=True)) / 0.05)  # soft assignment, quality-weighted
        return (w * self.m_rate).sum(1) / w.sum(1)


@register("svm")
class SVMRouter(_SklearnRouter):
    defaults = {"C": 0.3, "encoder": "minilm", "max_len": 128, "alignment": "none"}
    grid = [{"C": 0.3}, {"C": 1.0}, {"C": 3.0}]

    def _fit(self, x, y, frame, variant):
        from sklearn.svm import SVC  # heavy optional package: imported only when this runs
        self.m_svc = SVC(C=self.hp["C"], kernel="rbf", random_state=step_seed(self.hp["seed"], "svm/fit")).fit(
            self._with_sources(x, frame, variant), y, sample_weight=alignment.sample_weights(frame, variant))

    def score(self, prompts):  # logistic squashing of the margin: same order as Platt scaling
        return 1.0 / (1.0 + np.exp(-self.m_svc.decision_function(self._with_sources(self.embed(prompts)))))


@register("logreg")
class LogRegRouter(_SklearnRouter):
    defaults = {"C": 0.1, "encoder": "minilm", "max_len": 128, "alignment": "none"}
    grid = [{"C": 0.1}, {"C": 0.3}, {"C": 1.0}]

    def _fit(self, x, y, frame, variant):
        from sklearn.linear_model import LogisticRegression  # heavy optional package: imported only when this runs
        self.m_lr = LogisticRegression(C=self.hp["C"], max_iter=2000).fit(
            self._with_sources(x, frame, variant), y, sample_weight=alignment.sample_weights(frame, variant))

    def score(self, prompts):
        return self.m_lr.predict_proba(self._with_sources(self.embed(prompts)))[:, 1]


@register("length")
class LengthRouter(TrainableRouter):
    """Strong-win score = token count / (token count + 100): monotone in length, in [0, 1)."""
    defaults = {"encoder": "minilm"}

    def fit(self, train, valid=None):
        self.fit_seconds = 0.0
        return self

    def score(self, prompts):
        tok = load_encoder(self.hp["encoder"])[0]
        n = np.array([len(t) for t in tok(list(prompts), truncation=False, verbose=False)["input_ids"]], float)
        return n / (n + 100.0)

    def state(self):
        return {}

    def set_state(self, st):
        pass
