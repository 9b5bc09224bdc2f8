"""The one training core: step seeding, mini-batch loop, early stopping, training history.

Pipeline role: every trainable router (MF, BERT, causal-LLM, RAGRouter's extractor and final
model, the paper profile's LLM scorer with its gradient accumulation) trains through
``train_epochs`` (directly, or via ``HeadTrainer.run`` for classifiers with a cross-entropy head),
and persists through ``TrainableRouter``.

Seeding: every random draw of a step derives from ``(seed, step name)``
(``core.seeding.seed_step``), never from process history or cache state. Call ``seed_step``
*immediately before* the draws it governs (a module's weight init, the loop's shuffles and
dropout): anything run in between (a model loaded on a cold cache, a feature pass) could otherwise
consume the global torch RNG. The loop also runs validation scoring under
``torch.random.fork_rng``, so a validation pass that computes features on a cold cache cannot
shift the dropout masks of the following epochs.

Early stopping: the selection criterion is validation ROC-AUC (``val_auc``) of the strong-win
score; the best epoch's weights are restored. ``fit(train, valid=None)`` trains the fixed number of
epochs in the hyper-parameters without early stopping (the selection protocol's final retrain).

History rows: ``{..tag, "stage", "epoch", "train_loss", "val_auc", "seconds"}`` (the curves of
notebook 03/05). ``set_verbose(True)`` (or env ``RAGROUTER_VERBOSE=1``) prints one line per epoch.
"""
from __future__ import annotations

import contextlib
import copy
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..core import cache
from ..core.seeding import seed_step
from ..features import encoders
from .base import Router

_VERBOSE = {"on": os.environ.get("RAGROUTER_VERBOSE", "") == "1", "log": print, "context": ""}


def set_verbose(on: bool = True, log=print) -> None:
    """Print one line per training epoch (the fit's name, stage, epoch, loss, validation AUC, seconds)."""
    _VERBOSE["on"], _VERBOSE["log"] = bool(on), log


@contextlib.contextmanager
def log_context(label: str):
    """Name the fit on every epoch line printed inside (e.g. "bert seed 0 final"; nested: joined)."""
    before = _VERBOSE["context"]
    _VERBOSE["context"] = f"{before} / {label}" if before else label
    try:
        yield
    finally:
        _VERBOSE["context"] = before


def val_auc(scores, y) -> float:
    """Validation criterion shared by all routers: ROC-AUC of strong-win scores vs the label."""
    from sklearn.metrics import roc_auc_score  # heavy optional package: imported only when this runs
    return float(roc_auc_score(np.asarray(y), np.asarray(scores)))


def _batches(n, batch_size, rng, lengths=None):
    perm = rng.permutation(n)
    if lengths is None:
        return [perm[s:s + batch_size] for s in range(0, n, batch_size)]
    # length buckets: sort the shuffled rows by length, cut, shuffle the batches
    order = perm[np.argsort(np.asarray(lengths)[perm], kind="stable")]
    batches = [order[s:s + batch_size] for s in range(0, n, batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def train_epochs(module: nn.Module, loss_fn, n: int, opt, epochs: int, batch_size: int,
                 rng: np.random.Generator, *, val_fn=None, patience=None, lengths=None,
                 tag=None, history=None, accum_steps: int = 1, backward=None, epoch_end=None) -> list[dict]:
    """The mini-batch loop: ``loss_fn(idx)`` -> mean loss of rows ``idx``; returns history rows.

    ``val_fn()`` -> validation AUC after each epoch, or a dict of validation numbers with key
    ``val_auc`` (the criterion) added to the history row (None: no validation, no early stopping; the
    fixed ``epochs`` are trained). The best epoch's weights are restored; ``patience`` stops after
    that many epochs without improvement. Rows are appended to ``history`` (a list) if given.

    ``accum_steps`` = a: gradient accumulation, one optimiser step per a consecutive batches; each
    batch's loss is weighted by its share of the group's rows, so a steps of batch b give the
    gradient of one batch of a*b rows (also for a short last group). a = 1: a step per batch.
    ``backward(loss)`` replaces ``loss.backward()`` (e.g. ``accelerator.backward``).
    ``epoch_end(row)`` -> a dict of extra numbers for the epoch's history row (e.g. throughput),
    called once the row has its loss, validation and seconds.
    """
    tag = dict(tag or {})
    tag.setdefault("stage", "train")
    history = [] if history is None else history
    backward = backward or (lambda loss: loss.backward())
    rows = []
    best, best_state, best_epoch = -np.inf, None, 0
    for epoch in range(epochs):
        t0 = time.time()
        module.train()
        total = 0.0
        batches = _batches(n, batch_size, rng, lengths)
        for i, idx in enumerate(batches):
            loss = loss_fn(idx)
            if accum_steps == 1:
                opt.zero_grad()
                backward(loss)
                opt.step()
            else:
                first = i - i % accum_steps
                if i == first:
                    opt.zero_grad()
                backward(loss * (len(idx) / sum(len(b) for b in batches[first:first + accum_steps])))
                if i == min(first + accum_steps, len(batches)) - 1:
                    opt.step()
            total += loss.item() * len(idx)
        rec = {**tag, "epoch": epoch + 1, "train_loss": total / max(n, 1)}
        if val_fn is not None:
            with torch.random.fork_rng(devices=[]):  # a cold feature pass must not move the RNG
                got = val_fn()
            rec.update(got if isinstance(got, dict) else {"val_auc": float(got)})
            if rec["val_auc"] > best:
                best, best_state, best_epoch = rec["val_auc"], copy.deepcopy(module.state_dict()), epoch
        rec["seconds"] = time.time() - t0
        if epoch_end is not None:
            rec.update(epoch_end(rec))
        history.append(rec)
        rows.append(rec)
        if _VERBOSE["on"]:
            auc = f"{rec['val_auc']:.4f}" if "val_auc" in rec else "-"
            _VERBOSE["log"](f"{_VERBOSE['context'] or 'fit'} [{tag['stage']}] epoch {epoch + 1}/{epochs} "
                            f"loss={rec['train_loss']:.4f} val_auc={auc} {rec['seconds']:.1f}s")
        if patience is not None and val_fn is not None and epoch - best_epoch >= patience:
            break
    if best_state is not None:
        module.load_state_dict(best_state)
    return rows


class HeadTrainer:
    """Cross-entropy classifiers: Adam + ``train_epochs`` (early stopping on validation AUC)."""

    @staticmethod
    def run(router, module, batches_fn, n, targets, valid, epochs, lr, weight_decay, batch_size, seed,
            *, val_scores=None, tag=None, lengths=None, patience=None):
        """``lr``: a float, or Adam parameter groups [{"params": ..., "lr": ...}, ...].

        ``batches_fn(idx)`` gives the logits of rows ``idx``; ``val_scores()`` the validation
        strong-win scores (default: ``router.score`` of the validation prompts); ``tag`` (a dict)
        is added to every history record (its ``stage`` names the seeding step, default the
        router's name). ``lengths`` (per example) makes batches of similar length, in a shuffled
        order (less padding); ``patience`` stops after that many epochs without a better AUC.
        Shuffles and dropout are seeded here from (seed, router name / stage).
        """
        val_scores = val_scores or (lambda: router.score(valid.prompt))
        stage = (tag or {}).get("stage", "train")
        rng = seed_step(seed, f"{router.name}/{stage}/loop")
        groups = lr if isinstance(lr, list) else [{"params": module.parameters(), "lr": lr}]
        opt = torch.optim.Adam(groups, weight_decay=weight_decay)
        y = torch.as_tensor(targets)
        val_fn = None if valid is None else (lambda: val_auc(val_scores(), valid.strong_needed))
        return train_epochs(module, lambda idx: nn.functional.cross_entropy(batches_fn(idx), y[idx]), n, opt,
                            epochs, batch_size, rng, val_fn=val_fn, patience=patience, lengths=lengths,
                            tag=tag, history=router.history)


class TrainableRouter(Router):
    """Common pieces: hyper-parameters in ``self.hp``, a training ``history``, checksummed save/load."""

    defaults: dict = {}

    def __init__(self, **hp):
        unknown = set(hp) - set(self.defaults) - {"seed"}
        if unknown:
            raise TypeError(f"{self.name}: unknown hyper-parameter(s) {sorted(unknown)}")
        self.hp = {**self.defaults, "seed": 0, **hp}
        self.history: list[dict] = []
        self.fit_seconds = None

    def params(self):
        return self.hp

    def seed_step(self, step: str) -> np.random.Generator:
        """``seed_step(self.hp['seed'], '<router name>/<step>')``."""
        return seed_step(self.hp["seed"], f"{self.name}/{step}")

    def save(self, path):
        path = super().save(path)
        cache.save_torch(path / "state.pt", self.state())
        (path / "history.json").write_text(json.dumps(self.history))
        return path

    @classmethod
    def load(cls, path):
        r = super().load(path)
        st = cache.load_torch(Path(path) / "state.pt")
        if st is None:
            raise FileNotFoundError(f"{path}: state.pt missing or corrupt")
        r.set_state(st)
        hist = Path(path) / "history.json"
        r.history = json.loads(hist.read_text()) if hist.exists() else []
        return r

    def state(self) -> dict:
        raise NotImplementedError

    def set_state(self, state: dict) -> None:
        raise NotImplementedError

    def embed(self, prompts) -> np.ndarray:
        return encoders.sentence_embeddings(list(prompts), self.hp.get("encoder", "minilm"),
                                            max_len=self.hp.get("max_len", 128), progress=False)
