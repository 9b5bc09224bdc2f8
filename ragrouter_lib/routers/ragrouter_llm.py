"""RAGRouter's final model as the thesis describes it (``paper`` profile): an LLM over the textual
retrieval-augmented prompt.

The same feature extractor and FAISS knowledge base as ``ragrouter`` retrieve the top-K similar KB
queries; the query, those queries and their labels are written into one prompt; a causal LM
(thesis: Qwen-7B, full fine-tune; here LoRA adapters, and 4-bit QLoRA weights when CUDA is
present) reads it and a fully connected layer maps the last token's hidden state to 5 logits
(softmax; strong-win = P(score <= 3)); optimiser Adam (bitsandbytes' 8-bit Adam when installed).

``llm_path`` names a local folder or, with the Hub reachable, a model id (e.g. ``Qwen/Qwen2.5-7B``).
It never runs in the ``offline`` or ``smoke`` profiles; tests use a tiny randomly initialised
stand-in written to a temporary folder.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch
from torch import nn

from .base import register
from .ragrouter import RAGRouter
from .routellm_baselines import _set_seed


def augmented_prompt(query: str, neighbours, max_chars: int = 300) -> str:
    """The textual augmented input: the query, then each retrieved query with its label."""
    lines = ["Rate how well a small model would answer the query (1 = poorly, 5 = perfectly).",
             f"Query: {query[:max_chars]}", "Similar queries with their ratings:"]
    lines += [f"- ({score}) {text[:max_chars]}" for text, score in neighbours]
    return "\n".join(lines) + "\nRating:"


class LoRALinear(nn.Module):
    """y = W x + (alpha / r) B A x, with W frozen (Hu et al., 2021)."""

    def __init__(self, base: nn.Linear, r: int = 8, alpha: int = 16):
        super().__init__()
        self.base = base
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.A = nn.Parameter(torch.empty(r, base.in_features))
        self.B = nn.Parameter(torch.zeros(base.out_features, r))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        self.scale = alpha / r

    def forward(self, x):
        return self.base(x) + (x @ self.A.T @ self.B.T) * self.scale


def add_lora(model: nn.Module, r: int = 8, alpha: int = 16, targets=("q_proj", "v_proj")) -> int:
    """Freeze ``model`` and wrap its target linear layers with LoRA; returns how many were wrapped."""
    for p in model.parameters():
        p.requires_grad_(False)
    n = 0
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if child_name in targets and isinstance(child, nn.Linear):
                setattr(module, child_name, LoRALinear(child, r, alpha))
                n += 1
    return n


class LLMScorer(nn.Module):
    def __init__(self, backbone: nn.Module, hidden: int):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(hidden, 5)

    def forward(self, input_ids, attention_mask):
        h = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        last = attention_mask.sum(1) - 1
        return self.head(h[torch.arange(len(h)), last].float())


def load_llm(path: str, load_4bit: bool | None = None):
    """Tokenizer and LoRA-wrapped backbone; 4-bit weights (QLoRA) by default only on CUDA."""
    from transformers import AutoModel, AutoTokenizer
    load_4bit = torch.cuda.is_available() if load_4bit is None else load_4bit
    kw = {}
    if load_4bit:
        from transformers import BitsAndBytesConfig
        kw["quantization_config"] = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                       bnb_4bit_compute_dtype=torch.bfloat16)
    tok = AutoTokenizer.from_pretrained(path)
    tok.padding_side = "right"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    backbone = AutoModel.from_pretrained(path, **kw)
    return tok, backbone


def adam(params, lr):
    try:
        import bitsandbytes as bnb
        return bnb.optim.Adam8bit(params, lr=lr)
    except Exception:  # bitsandbytes missing or unsupported here: plain Adam
        return torch.optim.Adam(params, lr=lr)


@register("ragrouter_llm")
class RAGRouterLLM(RAGRouter):
    defaults = {**RAGRouter.defaults, "llm_path": "", "lora_r": 8, "llm_epochs": 1, "llm_lr": 2e-4,
                "llm_batch_size": 4, "llm_max_len": 512, "load_4bit": None}

    def fit(self, train, valid=None):
        t0 = time.time()
        super().fit(train, valid)  # extractor, KB and the vector final model (kept as a fallback)
        hp = self.hp
        rng = _set_seed(hp["seed"])
        tok, backbone = load_llm(hp["llm_path"], hp["load_4bit"])
        add_lora(backbone, hp["lora_r"])
        self.tok = tok
        self.llm = LLMScorer(backbone, backbone.config.hidden_size)
        texts = self._prompts(list(self._final_rows.prompt))
        y = torch.as_tensor(self._final_rows.score.to_numpy() - 1)
        opt = adam([p for p in self.llm.parameters() if p.requires_grad], hp["llm_lr"])
        for epoch in range(hp["llm_epochs"]):
            self.llm.train()
            perm, total = rng.permutation(len(texts)), 0.0
            for s in range(0, len(perm), hp["llm_batch_size"]):
                idx = perm[s:s + hp["llm_batch_size"]]
                enc = tok([texts[i] for i in idx], truncation=True, max_length=hp["llm_max_len"],
                          padding=True, return_tensors="pt")
                loss = nn.functional.cross_entropy(self.llm(enc["input_ids"], enc["attention_mask"]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
            self.history.append({"stage": "llm", "epoch": epoch + 1, "train_loss": total / len(texts)})
        self.fit_seconds = time.time() - t0
        return self

    def _prompts(self, prompts):
        vec = self.embed(prompts)
        _, idx = self.kb.search(vec, self.hp["k"])
        return [augmented_prompt(p, [(self._kb_texts[j], int(self.kb.scores[j])) for j in row])
                for p, row in zip(prompts, idx)]

    @torch.no_grad()
    def score(self, prompts):
        self.llm.eval()
        texts = self._prompts(list(prompts))
        out = []
        for s in range(0, len(texts), 16):
            enc = self.tok(texts[s:s + 16], truncation=True, max_length=self.hp["llm_max_len"],
                           padding=True, return_tensors="pt")
            out.append(torch.softmax(self.llm(enc["input_ids"], enc["attention_mask"]), -1)[:, :3].sum(1))
        return torch.cat(out).numpy()

    def state(self):
        raise NotImplementedError("ragrouter_llm saves through the LLM's own save_pretrained on a GPU server")
