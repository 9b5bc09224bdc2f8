"""RouteLLM's four routers, re-trained on the offline pool (``offline`` profile).

Thesis step: the baselines of Tables 1-2. Each follows RouteLLM's algorithm; what this world
forces is listed per router (README, "Deviations"):

- ``sw_ranking``: per-query Bradley-Terry over model tiers, every training battle weighted by the
  similarity of its prompt to the query (RouteLLM: ``10 * 10 ** (sim / max_sim)``; the base is tuned
  here). Embeddings: MiniLM instead of OpenAI's text-embedding-3-small.
- ``mf``: RouteLLM's ``MFModel`` (normalised model embeddings x projected prompt embedding, a
  linear classifier, win probability = sigmoid of the logit difference), trained on the battles
  with Adam; MiniLM prompt embeddings instead of OpenAI's.
- ``bert``: a 3-class encoder classifier (strong wins / tie / weak wins; strong-win = P(class 0)).
  BERT-base full fine-tuning does not fit this CPU budget: MiniLM-L6's top layer, mean pooling and
  the classifier are fine-tuned, the five frozen layers below run once (cached token states).
- ``causal_llm``: RouteLLM fine-tunes Llama-3-8B to emit the 1-5 score; here SmolLM2-135M's hidden
  state after its first 16 layers (prompt capped at 48 tokens, computed once) feeds a trained 5-class
  head; strong-win = 1 - P(score >= 4).
"""
from __future__ import annotations

import copy
import time

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..features import encoders
from ..labels import alignment, pairwise, pool_labels
from .base import register
from .selection import within_source_auc
from .training import HeadTrainer, TrainableRouter, train_epochs, val_auc


# ----------------------------------------------------------------------------- SW ranking
@register("sw_ranking")
class SWRankingRouter(TrainableRouter):
    defaults = {"gamma": 10.0, "n_tiers": 3, "encoder": "minilm", "max_len": 128, "alignment": "none"}
    grid = [{"gamma": 10.0}, {"gamma": 100.0}, {"gamma": 1000.0}]

    def fit(self, train, valid=None):
        t0 = time.time()
        battles = pd.concat([pairwise.panel_battles(train), pairwise.pair_battles(train)], ignore_index=True)
        elo = pairwise.bradley_terry(battles)
        tier = pairwise.tiers(elo, self.hp["n_tiers"])
        T = self.hp["n_tiers"]
        ta, tb = battles.model_a.map(tier).to_numpy(), battles.model_b.map(tier).to_numpy()
        keep = ta != tb
        rows = pd.Index(train.index).get_indexer(battles.row[keep])
        win_a = battles.winner[keep].map({"a": 1.0, "b": 0.0, "tie": 0.5}).to_numpy()
        C = np.zeros((len(train), T, T), np.float32)
        np.add.at(C, (rows, ta[keep], tb[keep]), win_a)
        np.add.at(C, (rows, tb[keep], ta[keep]), 1 - win_a)
        variant = alignment.check(self.hp.get("alignment", "none"))
        if variant == "source_fe":
            raise ValueError("sw_ranking: source_fe has no counterpart in per-query Bradley-Terry")
        C *= alignment.sample_weights(train, variant)[:, None, None].astype(np.float32)
        self.counts = C.reshape(len(train), T * T)
        self.emb = self.embed(train.prompt)
        self.strong_tier, self.weak_tier = int(tier[pool_labels.STRONG]), int(tier[pool_labels.WEAK])
        if self.strong_tier == self.weak_tier:
            raise ValueError(f"strong and weak model share tier {self.strong_tier}: use more tiers")
        self.elo, self.tier = elo, tier
        self.fit_seconds = time.time() - t0
        if valid is not None:
            self.history.append({"val_auc": val_auc(self.score(valid.prompt), valid.strong_needed)})
        return self

    def score(self, prompts):
        q = self.embed(prompts)
        T, out = self.hp["n_tiers"], []
        for s in range(0, len(q), 512):
            sims = q[s:s + 512] @ self.emb.T
            w = self.hp["gamma"] ** (sims / sims.max(1, keepdims=True))
            pi = pairwise.bt_mm((w @ self.counts).reshape(-1, T, T), iters=60, prior=0.5)
            out.append(pi[:, self.strong_tier] / (pi[:, self.strong_tier] + pi[:, self.weak_tier]))
        return np.concatenate(out)

    def state(self):
        return {"counts": self.counts, "emb": self.emb, "strong_tier": self.strong_tier,
                "weak_tier": self.weak_tier, "elo": self.elo.to_dict(), "tier": self.tier.to_dict()}

    def set_state(self, st):
        self.counts, self.emb = st["counts"], st["emb"]
        self.strong_tier, self.weak_tier = st["strong_tier"], st["weak_tier"]
        self.elo, self.tier = pd.Series(st["elo"]), pd.Series(st["tier"])


# ----------------------------------------------------------------------------- matrix factorisation
class MFModel(nn.Module):
    """RouteLLM's MFModel architecture (routellm/routers/matrix_factorization/model.py)."""

    def __init__(self, dim, num_models, text_dim):
        super().__init__()
        self.P = nn.Embedding(num_models, dim)
        self.text_proj = nn.Linear(text_dim, dim, bias=False)
        self.classifier = nn.Linear(dim, 1, bias=False)

    def forward(self, model_id, prompt_embed):
        m = nn.functional.normalize(self.P(model_id), p=2, dim=-1)
        return self.classifier(m * self.text_proj(prompt_embed)).squeeze(-1)

    def win_logit(self, a, b, prompt_embed):
        return self.forward(a, prompt_embed) - self.forward(b, prompt_embed)


@register("mf")
class MFRouter(TrainableRouter):
    defaults = {"dim": 128, "lr": 3e-3, "weight_decay": 1e-5, "epochs": 30, "pair_weight": 1.0,
                "batch_size": 2048, "encoder": "minilm", "max_len": 128, "alignment": "none"}
    grid = [{"dim": 128, "pair_weight": 1.0}, {"dim": 128, "pair_weight": 5.0}, {"dim": 64, "pair_weight": 5.0}]

    def fit(self, train, valid=None):
        t0 = time.time()
        b = pd.concat([pairwise.panel_battles(train).assign(w=1.0),
                       pairwise.pair_battles(train).assign(w=self.hp["pair_weight"])], ignore_index=True)
        b = b[b.winner != "tie"]  # RouteLLM's MF trains on decisive battles
        self.models = sorted(set(b.model_a) | set(b.model_b))
        mid = {m: i for i, m in enumerate(self.models)}
        emb = torch.from_numpy(self.embed(train.prompt))
        rows = torch.as_tensor(pd.Index(train.index).get_indexer(b.row))
        A = torch.as_tensor(b.model_a.map(mid).to_numpy())
        B = torch.as_tensor(b.model_b.map(mid).to_numpy())
        y = torch.as_tensor((b.winner == "a").to_numpy(np.float32))
        variant = alignment.check(self.hp.get("alignment", "none"))
        row_w = alignment.sample_weights(train, variant).astype(np.float32)
        w = torch.as_tensor(b.w.to_numpy(np.float32) * row_w[rows.numpy()])
        codes, names = alignment.source_codes(train)
        src = torch.as_tensor(codes)[rows]
        self.seed_step("init")  # weight init from (seed, "mf/init"), after the feature pass
        self.net = MFModel(self.hp["dim"], len(self.models), emb.shape[1])
        # source fixed effects: a per-(source, model) strength offset, training only
        off = alignment.source_offsets(len(names) * len(self.models) if variant == "source_fe" else 1, 1)
        M = len(self.models)
        groups = [{"params": self.net.parameters()}] + (  # offsets learn 10x faster (start at 0)
            [{"params": off.parameters(), "lr": 10 * self.hp["lr"]}] if variant == "source_fe" else [])
        opt = torch.optim.Adam(groups, lr=self.hp["lr"], weight_decay=self.hp["weight_decay"])
        fe = variant == "source_fe"

        def loss_fn(i):
            i = torch.as_tensor(i)
            logit = self.net.win_logit(A[i], B[i], emb[rows[i]])
            if fe:
                logit = logit + (off(src[i] * M + A[i]) - off(src[i] * M + B[i])).squeeze(-1)
            return (nn.functional.binary_cross_entropy_with_logits(logit, y[i], reduction="none") * w[i]).mean()

        def val_fn():
            vs = self.score(valid.prompt)
            return {"val_auc": val_auc(vs, valid.strong_needed), "val_within_auc": within_source_auc(vs, valid)[0]}
        # the training core: shuffles from (seed, "mf/loop"), early stopping on validation AUC
        train_epochs(self.net, loss_fn, len(y), opt, self.hp["epochs"], self.hp["batch_size"],
                     self.seed_step("loop"), val_fn=None if valid is None else val_fn,
                     tag={"stage": "mf"}, history=self.history)
        self.fit_seconds = time.time() - t0
        return self

    @torch.no_grad()
    def score(self, prompts):
        self.net.eval()
        e = torch.from_numpy(self.embed(prompts))
        s, w = self.models.index(pool_labels.STRONG), self.models.index(pool_labels.WEAK)
        n = len(e)
        return torch.sigmoid(self.net.win_logit(torch.full((n,), s), torch.full((n,), w), e)).numpy()

    def state(self):
        return {"net": self.net.state_dict(), "models": self.models}

    def set_state(self, st):
        self.models = st["models"]
        sd = st["net"]
        self.net = MFModel(sd["P.weight"].shape[1], len(self.models), sd["text_proj.weight"].shape[1])
        self.net.load_state_dict(sd)


# ----------------------------------------------------------------------------- classifiers with a head
def _three_class(score):
    """RouteLLM's BERT labels: 0 strong wins (score <= 3), 1 tie (4), 2 weak wins (5)."""
    return np.select([np.asarray(score) <= 3, np.asarray(score) == 4], [0, 1], default=2)


class TopLayerClassifier(nn.Module):
    def __init__(self, layer: nn.Module, d: int, n_classes: int = 3, dropout: float = 0.1):
        super().__init__()
        self.layer = layer
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(d, n_classes)

    def forward(self, x, mask):
        ext = (1.0 - mask[:, None, None, :]) * torch.finfo(x.dtype).min
        h = self.layer(x, attention_mask=ext)
        h = h[0] if isinstance(h, tuple) else h
        m = mask.unsqueeze(-1)
        return self.head(self.drop((h * m).sum(1) / m.sum(1)))


@register("bert")
class BertRouter(TrainableRouter):
    defaults = {"encoder": "minilm", "layer": 5, "max_len": 128, "lr": 2e-5, "head_lr_mult": 20.0,
                "epochs": 2, "batch_size": 32, "weight_decay": 0.01, "alignment": "none"}
    grid = [{"lr": 2e-5}, {"lr": 5e-5}, {"lr": 1e-4}]

    def _states(self, prompts):
        return encoders.token_states(list(prompts), self.hp["encoder"], layer=self.hp["layer"],
                                     max_len=self.hp["max_len"], progress=False)

    def _build(self):
        _, enc, _ = encoders.load_encoder(self.hp["encoder"])
        if self.hp["layer"] != enc.config.num_hidden_layers - 1:
            raise ValueError("only the top layer is fine-tuned: layer must be the last one")
        self.seed_step("init")  # weight init from (seed, "<router>/init")
        self.net = TopLayerClassifier(copy.deepcopy(enc.encoder.layer[self.hp["layer"]]),
                                      enc.config.hidden_size)

    def fit(self, train, valid=None):
        t0 = time.time()
        self._build()
        packed = self._states(train.prompt)
        hp = self.hp
        groups = [{"params": self.net.layer.parameters(), "lr": hp["lr"]},  # the new head learns
                  {"params": self.net.head.parameters(), "lr": hp["lr"] * hp["head_lr_mult"]}]  # faster
        variant = alignment.check(hp.get("alignment", "none"))
        rows = alignment.resample(alignment.sample_weights(train, variant), hp["seed"])
        codes, names = alignment.source_codes(train)
        off = alignment.source_offsets(len(names), 3, alignment.class_log_ratios(
            codes, _three_class(train.score), len(names), 3))  # source fixed effects (training only)
        if variant == "source_fe":
            groups.append({"params": off.parameters(), "lr": hp["lr"] * hp["head_lr_mult"]})

        def batch_logits(idx):
            x, m = encoders.unpack(packed, rows[idx])
            logits = self.net(x, m)
            return logits + off(torch.as_tensor(codes[rows[idx]])) if variant == "source_fe" else logits
        HeadTrainer.run(self, self.net, batch_logits, len(rows), _three_class(train.score)[rows], valid,
                        hp["epochs"], groups, hp["weight_decay"], hp["batch_size"], hp["seed"])
        # random batches, not length buckets: bucketing was 2.5x faster but cost this router
        # 0.004-0.008 validation AUC (measured, notebook 03 run of commit ed8af31)
        self.fit_seconds = time.time() - t0
        return self

    @torch.no_grad()
    def score(self, prompts):
        self.net.eval()
        packed = self._states(prompts)
        n = len(packed["offsets"]) - 1
        lengths = np.diff(packed["offsets"])
        out = np.zeros(n, np.float32)
        for b in encoders.length_batches(lengths, 8):  # fixed shape: no batch-mate effect
            x, m = encoders.unpack(packed, b)
            out[b] = torch.softmax(self.net(x, m), -1)[:, 0].numpy()
        return out

    def state(self):
        return {"net": self.net.state_dict()}

    def set_state(self, st):
        self._build()
        self.net.load_state_dict(st["net"])


@register("causal_llm")
class CausalLLMRouter(TrainableRouter):
    defaults = {"n_layers": 16, "max_len": 48, "hidden": 0, "lr": 1e-3, "epochs": 40,
                "batch_size": 128, "weight_decay": 1e-4, "dropout": 0.2, "alignment": "none"}
    grid = [{"hidden": 0, "weight_decay": 1e-4}, {"hidden": 256, "weight_decay": 1e-4},
            {"hidden": 256, "weight_decay": 1e-2}]

    def _x(self, prompts):
        x = encoders.lm_states(list(prompts), self.hp["n_layers"], self.hp["max_len"], progress=False)
        return torch.from_numpy((x - self.mu) / self.sd)

    def _build(self, d):
        h = self.hp["hidden"]
        self.net = (nn.Sequential(nn.Dropout(self.hp["dropout"]), nn.Linear(d, 5)) if h == 0 else
                    nn.Sequential(nn.Dropout(self.hp["dropout"]), nn.Linear(d, h), nn.GELU(),
                                  nn.Dropout(self.hp["dropout"]), nn.Linear(h, 5)))

    def fit(self, train, valid=None):
        t0 = time.time()
        raw = encoders.lm_states(list(train.prompt), self.hp["n_layers"], self.hp["max_len"], progress=False)
        self.mu, self.sd = raw.mean(0), raw.std(0) + 1e-6
        x = torch.from_numpy((raw - self.mu) / self.sd)
        self.seed_step("init")  # weight init from (seed, "<router>/init")
        self._build(x.shape[1])
        variant = alignment.check(self.hp.get("alignment", "none"))
        rows = alignment.resample(alignment.sample_weights(train, variant), self.hp["seed"])
        codes, names = alignment.source_codes(train)
        off = alignment.source_offsets(len(names), 5, alignment.class_log_ratios(
            codes, np.asarray(train.score) - 1, len(names), 5))  # source fixed effects (training only)
        lr = [{"params": self.net.parameters(), "lr": self.hp["lr"]}]
        if variant == "source_fe":  # within estimator: source-demeaned inputs + per-source offsets
            lr.append({"params": off.parameters(), "lr": alignment.OFFSET_LR_MULT * self.hp["lr"]})
            x = torch.from_numpy(alignment.within_centre(x.numpy(), codes))

        def batch_logits(idx):
            out = self.net(x[rows[idx]])
            return out + off(torch.as_tensor(codes[rows[idx]])) if variant == "source_fe" else out
        HeadTrainer.run(self, self.net, batch_logits, len(rows),
                        (np.asarray(train.score) - 1)[rows], valid, self.hp["epochs"], lr,
                        self.hp["weight_decay"], self.hp["batch_size"], self.hp["seed"])
        self.fit_seconds = time.time() - t0
        return self

    @torch.no_grad()
    def score(self, prompts):
        self.net.eval()
        p = torch.softmax(self.net(self._x(prompts)), -1).numpy()
        return 1.0 - p[:, 3:].sum(1)  # 1 - P(score >= 4)

    def state(self):
        return {"net": self.net.state_dict(), "mu": self.mu, "sd": self.sd}

    def set_state(self, st):
        self.mu, self.sd = st["mu"], st["sd"]
        self._build(len(self.mu))
        self.net.load_state_dict(st["net"])
