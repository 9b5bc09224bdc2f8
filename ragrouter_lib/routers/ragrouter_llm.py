"""RAGRouter's final model as the thesis describes it (``paper`` profile): an LLM over the textual
retrieval-augmented prompt.

Thesis step: "augmented input -> final model". The same feature extractor and FAISS knowledge base
as ``ragrouter`` retrieve the top-K similar KB queries; the query, those queries and their labels
are written into one prompt (``augmented_prompt``); a causal LM reads it and a fully connected layer
maps the last token's hidden state to 5 logits (softmax; strong-win = P(score <= 3)); Adam.

Deviations from the thesis (stated in docs/PAPER.md):
- the thesis fine-tunes *all* of Qwen-7B's parameters; on one 24 GB card that does not fit, so the
  default here is LoRA through ``peft`` (``lora_r > 0``), with 4-bit NF4 weights through
  ``bitsandbytes`` (QLoRA) only when CUDA is present. ``lora_r=0`` trains every parameter: that is
  the multi-GPU mode run by ``accelerate launch --config_file configs/fsdp_full_finetune.yaml
  scripts/finetune_llm.py`` (FSDP), never on one card;
- the optimiser is bitsandbytes' 8-bit Adam when the router's device is CUDA and bitsandbytes is
  present, else torch Adam.

One device per model: hp ``device`` (default the run's: "cuda" if present, else "cpu") holds every
parameter, buffer and input of the LLM scorer after ``fit`` and after a reload (``set_state``,
``ragrouter-score --device``); ``place`` moves and checks (a mix raises). The vector half runs on the CPU.
Bounded memory: a reloaded router builds its scorer when it first scores; ``release`` frees it once
its scores are computed (weights kept on the CPU), so the selection and ablation loops hold one LLM.
Training prompts are out-of-fold (``training_prompts``): the other cross-fit folds' KB, as the
vector final model reads it, never a copy of the row's own label.

``llm_path`` names a local folder or, with the Hub reachable (``paper`` profile), a model id such as
``Qwen/Qwen2.5-7B``. Tests and the dry run use tiny randomly initialised stand-ins
(``hub.stand_ins``); ``train_scorer``/``score_texts`` are shared by this router, the distributed
script and the small real-data run (``paper.small_llm_row``).
"""
from __future__ import annotations

import contextlib
import gc
import itertools
import logging
import time
import warnings

import numpy as np
import torch
from torch import nn

from ..core import text
from ..core.seeding import seed_step
from ..features import encoders
from .base import register
from .ragrouter import RAGRouter
from .training import train_epochs

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")
PROMPT_HEADER = "Rate how well a small model would answer the query (1 = poorly, 5 = perfectly)."


def augmented_prompt(query: str, neighbours, max_chars: int = 300) -> str:
    """The textual augmented input: the query, then each retrieved query with its label (1-5).

    >>> print(augmented_prompt("2+2?", [("3+3?", 5)]))
    Rate how well a small model would answer the query (1 = poorly, 5 = perfectly).
    Query: 2+2?
    Similar queries with their ratings:
    - (5) 3+3?
    Rating:
    """
    lines = [PROMPT_HEADER, f"Query: {query[:max_chars]}", "Similar queries with their ratings:"]
    lines += [f"- ({int(score)}) {text[:max_chars]}" for text, score in neighbours]
    return "\n".join(lines) + "\nRating:"


def load_backbone(path, load_4bit: bool | None = None, lora_r: int = 8, lora_alpha: int = 16,
                  targets=LORA_TARGETS, gradient_checkpointing: bool = False, n_layers: int | None = None,
                  dtype=None, device=None):
    """Tokenizer and backbone (``AutoModel``, no LM head) of the causal LM at ``path``.

    ``lora_r > 0``: the backbone is frozen and LoRA adapters (``peft``) are added on ``targets``;
    ``load_4bit`` (default: CUDA present) loads NF4 weights for QLoRA; ``n_layers`` keeps only the
    first layers (a cost switch for the small CPU run, recorded in its hp). ``lora_r = 0``: every
    parameter trains (the FSDP path). ``device``: the CUDA device the 4-bit weights are loaded on
    (default GPU 0); other weights load on the CPU and ``place`` moves them.
    """
    from transformers import AutoModel, AutoTokenizer  # heavy optional package: imported only when this runs
    load_4bit = torch.cuda.is_available() if load_4bit is None else load_4bit
    if load_4bit and not torch.cuda.is_available():
        raise RuntimeError("4-bit weights (bitsandbytes NF4) need CUDA; pass load_4bit=False on CPU")
    if load_4bit and device is not None and torch.device(device).type != "cuda":
        raise RuntimeError(f"4-bit weights (bitsandbytes NF4) need a CUDA device, not {device}; pass load_4bit=False")
    kw = {}
    if load_4bit:
        from transformers import BitsAndBytesConfig  # CUDA 4-bit path only
        kw["quantization_config"] = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                       bnb_4bit_use_double_quant=True,
                                                       bnb_4bit_compute_dtype=torch.bfloat16)
        kw["device_map"] = {"": 0 if device is None else run_device(device).index}
    if n_layers:
        kw["num_hidden_layers"] = int(n_layers)
    if dtype is not None:
        kw["dtype"] = dtype
    tok = AutoTokenizer.from_pretrained(str(path))
    tok.padding_side = "right"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    backbone = AutoModel.from_pretrained(str(path), **kw)
    if gradient_checkpointing:
        backbone.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if lora_r and lora_r > 0:
        with quiet_peft():
            from peft import (  # heavy optional package: imported only when this runs
                LoraConfig,
                get_peft_model,
                prepare_model_for_kbit_training,
            )
            if load_4bit:
                backbone = prepare_model_for_kbit_training(backbone, use_gradient_checkpointing=gradient_checkpointing)
            present = {name.rsplit(".", 1)[-1] for name, _ in backbone.named_modules()}
            backbone = get_peft_model(backbone, LoraConfig(r=int(lora_r), lora_alpha=int(lora_alpha), lora_dropout=0.05,
                                                           target_modules=[t for t in targets if t in present],
                                                           task_type="FEATURE_EXTRACTION"))
    return tok, backbone


@contextlib.contextmanager
def quiet_peft():
    """Silence two messages of the pinned peft / transformers / bitsandbytes versions that say nothing
    about this run: bitsandbytes' CPU backend logs that the optional ``kernels`` package (a faster
    4-bit CPU matmul; 4-bit is CUDA-only here) is absent when peft imports it, and peft reads
    ``model.is_gradient_checkpointing``, which transformers deprecates with a FutureWarning."""
    log = logging.getLogger("bitsandbytes.backends.cpu.ops")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            yield
    finally:
        log.setLevel(level)


def run_device(device=None) -> torch.device:
    """``device`` (name or ``torch.device``; default "cuda" if present, else "cpu"), "cuda" with its
    index (tensors report "cuda:0"); CUDA asked for without CUDA fails here, never falls back."""
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if device is None else device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(f"device {device} asked for, but this torch has no CUDA device")
        if device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
    return device


def tensor_devices(module: nn.Module) -> dict[str, torch.device]:
    """{name: device} of every parameter and buffer of ``module``."""
    return {n: t.device for n, t in itertools.chain(module.named_parameters(), module.named_buffers())}


def place(scorer: nn.Module, device) -> nn.Module:
    """Every parameter and buffer of ``scorer`` on ``device``: children moved (a 4-bit backbone is
    loaded there by ``load_backbone(device=...)``, never moved), then checked: a mix raises."""
    device = run_device(device)
    for child in scorer.children():
        if not getattr(child, "is_loaded_in_4bit", False):
            child.to(device)
    wrong = {n: d for n, d in tensor_devices(scorer).items() if d != device}
    if wrong:
        name, d = next(iter(wrong.items()))
        raise RuntimeError(f"LLM scorer: {len(wrong)} tensors are not on {device} (e.g. {name} on {d})")
    return scorer


def free_memory() -> None:
    gc.collect()  # dropped models now, and CUDA's cached blocks back to the device
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


class LLMScorer(nn.Module):
    """Backbone + a fully connected layer from the last real token's hidden state to 5 logits."""

    def __init__(self, backbone: nn.Module, hidden: int):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(hidden, 5)

    def forward(self, input_ids, attention_mask):
        h = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        last = attention_mask.sum(1) - 1  # right padding
        return self.head(h[torch.arange(len(h), device=h.device), last].to(self.head.weight.dtype))


def hidden_size(backbone) -> int:
    cfg = backbone.config
    return int(getattr(cfg, "hidden_size", None) or cfg.get_text_config().hidden_size)


def adam(params, lr, eight_bit: bool | None = None):
    """bitsandbytes' 8-bit Adam when CUDA and bitsandbytes are present (or ``eight_bit=True``),
    else torch's Adam. Returns the optimiser; its class name is logged by the callers."""
    params = list(params)
    eight_bit = torch.cuda.is_available() if eight_bit is None else eight_bit
    if eight_bit:
        try:
            import bitsandbytes as bnb  # optional: 8-bit Adam on CUDA only
            return bnb.optim.Adam8bit(params, lr=lr)
        except ImportError:
            pass
    return torch.optim.Adam(params, lr=lr)


def encode(tok, texts, max_len: int, device=None):
    """Padded ids and mask of ``texts`` cut by the shared head+tail window (``text.encode_window``):
    an over-long RAG prompt keeps its query and its closing "Rating:" cue."""
    enc = tok.pad({"input_ids": text.encode_window(tok, texts, max_len)}, return_tensors="pt")
    return (enc["input_ids"].to(device), enc["attention_mask"].to(device)) if device else \
        (enc["input_ids"], enc["attention_mask"])


def train_scorer(scorer: LLMScorer, tok, texts, y, epochs: int = 1, lr: float = 2e-4, batch_size: int = 4,
                 grad_accum: int = 1, max_len: int = 512, seed: int = 0, optimizer=None, accelerator=None,
                 log=None) -> list[dict]:
    """Cross-entropy training of ``scorer`` on (text, class 0-4) through the one training loop
    (``training.train_epochs``: shuffles and dropout seeded by ``seed_step(seed, "llm/loop")``,
    ``grad_accum`` batches per optimiser step). One history row per epoch (train loss, rows,
    tokens/s, optimiser), also passed to ``log``. With ``accelerator`` (accelerate), each global
    batch of ``batch_size`` x processes rows (the same shuffle on every process: same seed) is
    sharded across processes and the backward goes through it (FSDP/DDP); otherwise a plain loop on
    the scorer's device."""
    y = torch.as_tensor(np.asarray(y), dtype=torch.long)
    texts = list(texts)
    opt = optimizer or adam([p for p in scorer.parameters() if p.requires_grad], lr)
    device = accelerator.device if accelerator else next(scorer.parameters()).device
    rank, world = (accelerator.process_index, accelerator.num_processes) if accelerator else (0, 1)
    seen = {"rows": 0, "tokens": 0}

    def loss_fn(idx):
        local, weight = idx[rank::world], 1.0
        if len(local) == 0:  # fewer rows than processes: a zero-weighted row keeps the processes in step
            local, weight = idx[:1], 0.0
        ids, mask = encode(tok, [texts[j] for j in local], max_len, device)
        seen["rows"] += len(local) if weight else 0
        seen["tokens"] += int(mask.sum()) if weight else 0
        loss = nn.functional.cross_entropy(scorer(ids, mask).float(), y[local].to(device))
        return loss if weight == 1.0 else loss * weight

    def epoch_end(row):
        out = {"rows": seen["rows"], "tokens_per_s": seen["tokens"] / max(row["seconds"], 1e-9),
               "optimizer": type(opt).__name__}
        seen.update(rows=0, tokens=0)
        if log:
            log({**row, **out})
        return out
    rng = seed_step(seed, "llm/loop")
    return train_epochs(scorer, loss_fn, len(texts), opt, epochs, batch_size * world, rng, tag={"stage": "llm"},
                        accum_steps=grad_accum, backward=accelerator.backward if accelerator else None,
                        epoch_end=epoch_end)


@torch.no_grad()
def score_texts(scorer: LLMScorer, tok, texts, max_len: int = 512, batch_size: int = 1) -> np.ndarray:
    """Strong-win score P(score <= 3) per text; fixed-shape batches of one token length
    (``encoders.length_batches``: no padding, so a text's score does not depend on its batch mates).
    Default one text per pass: augmented prompts rarely share a length, so larger batches are mostly filler."""
    scorer.eval()
    texts = list(texts)
    device = next(scorer.parameters()).device
    lengths = [len(x) for x in text.encode_window(tok, texts, max_len)]  # the window ``encode`` cuts
    out = np.zeros(len(texts), np.float32)
    for b in encoders.length_batches(lengths, batch_size):
        ids, mask = encode(tok, [texts[i] for i in b], max_len, device)
        p = torch.softmax(scorer(ids, mask).float(), -1)
        out[b] = p[:, :3].sum(1).cpu().numpy()
    return out


@register("ragrouter_llm")
class RAGRouterLLM(RAGRouter):
    defaults = {**RAGRouter.defaults, "llm_path": "", "lora_r": 8, "lora_alpha": 16, "llm_epochs": 1,
                "llm_lr": 2e-4, "llm_batch_size": 4, "llm_grad_accum": 4, "llm_max_len": 512,
                "load_4bit": None, "gradient_checkpointing": None, "llm_layers": None, "prompt_chars": 300,
                "device": None}
    _llm = tok = llm_state = None  # the built scorer and its tokenizer; the saved adapter + head weights

    def __init__(self, **hp):
        super().__init__(**hp)
        if self.hp["device"] is not None:  # a name (router.json is JSON), checked here
            self.hp["device"] = str(torch.device(self.hp["device"]))

    @property
    def device(self) -> torch.device:
        """Where every parameter, buffer and input of the LLM scorer lives (``run_device``)."""
        return run_device(self.hp["device"])

    @property
    def llm(self) -> LLMScorer:
        """The scorer on ``device``: the one ``fit`` trained, or, after ``set_state``/``release``, one
        built from ``llm_path`` and the saved adapter and head weights (``llm_state``)."""
        if self._llm is None:
            self.build_scorer(self.llm_state)
        return self._llm

    def set_device(self, device) -> None:
        """Run on ``device`` from now on (a built scorer is dropped and rebuilt there when needed)."""
        self.release()
        self.hp["device"] = str(run_device(device))

    def build_scorer(self, weights=None, gradient_checkpointing: bool = False) -> LLMScorer:
        """Tokenizer, backbone (LoRA adapters) and head, ``weights`` loaded (on the CPU), then
        ``place``d on ``device``. Sets ``tok`` and the scorer."""
        hp, device = self.hp, self.device
        load_4bit = device.type == "cuda" if hp["load_4bit"] is None else hp["load_4bit"]
        self.tok, backbone = load_backbone(hp["llm_path"], load_4bit, hp["lora_r"], hp["lora_alpha"],
                                           gradient_checkpointing=gradient_checkpointing,
                                           n_layers=hp["llm_layers"], device=device)
        scorer = LLMScorer(backbone, hidden_size(backbone))
        if weights is not None:
            missing = set(weights) - set(scorer.state_dict())
            if missing:
                raise RuntimeError(f"ragrouter_llm: saved weights do not fit {hp['llm_path']}: {sorted(missing)[:3]}")
            scorer.load_state_dict(weights, strict=False)
        self._llm = place(scorer, device)
        return self._llm

    def fit(self, train, valid=None, prepared=None):
        t0 = time.time()
        super().fit(train, valid, prepared)  # extractor, KB and the vector final model (kept for comparison)
        hp = self.hp
        self._llm = self.tok = self.llm_state = None
        self.seed_step("llm_init")  # adapter and head init
        ckpt = self.device.type == "cuda" if hp["gradient_checkpointing"] is None else hp["gradient_checkpointing"]
        llm = self.build_scorer(gradient_checkpointing=ckpt)
        opt = adam([p for p in llm.parameters() if p.requires_grad], hp["llm_lr"], eight_bit=self.device.type == "cuda")
        self.history += train_scorer(llm, self.tok, self.training_prompts(), self.train_rows.score.to_numpy() - 1,
                                     hp["llm_epochs"], hp["llm_lr"], hp["llm_batch_size"], hp["llm_grad_accum"],
                                     hp["llm_max_len"], hp["seed"], optimizer=opt)
        self.fit_seconds = time.time() - t0
        return self

    def training_prompts(self) -> list[str]:
        """The training rows' (``train_rows``) textual augmented prompts, each with its out-of-fold
        neighbours (``train_neighbours``: from the KB of the other cross-fit folds, as the vector
        final model reads them), so no prompt lists a copy of its own row (an augmented variant, a
        sampled duplicate) with its label. ``rag="off"``: the query alone."""
        prompts, chars = list(self.train_rows.prompt), self.hp["prompt_chars"]
        if self.hp["rag"] != "on":
            return [augmented_prompt(p, [], chars) for p in prompts]
        return [augmented_prompt(p, [(self.kb_texts[j], int(self.kb.scores[j])) for j in row], chars)
                for p, row in zip(prompts, self.train_neighbours)]

    def rag_prompts(self, prompts) -> list[str]:
        """Each prompt (scoring time) with its top-K neighbours in the full KB and their labels, as text;
        a KB row with the prompt's own text is skipped. ``rag="off"`` (Table 6's variant): the query alone."""
        if self.hp["rag"] != "on":
            return [augmented_prompt(p, [], self.hp["prompt_chars"]) for p in prompts]
        vec = self.embed(prompts)
        k = self.hp["k"]
        _, idx = self.kb.search(vec, k + 1)
        out = []
        for p, row in zip(prompts, idx):
            nb = [(self.kb_texts[j], int(self.kb.scores[j])) for j in row if self.kb_texts[j] != p][:k]
            out.append(augmented_prompt(p, nb, self.hp["prompt_chars"]))
        return out

    def score(self, prompts):
        llm = self.llm  # built (and tok set) first
        return score_texts(llm, self.tok, self.rag_prompts(list(prompts)), self.hp["llm_max_len"])

    def adapter_state(self) -> dict:
        """The trained weights, on the CPU: adapters and head (the backbone is ``llm_path``'s)."""
        if self._llm is None:
            return self.llm_state
        trainable = {k for k, p in self._llm.named_parameters() if p.requires_grad}
        return {k: v.detach().cpu() for k, v in self._llm.state_dict().items()
                if k in trainable or k.startswith("head.")}

    def release(self) -> None:
        """Free the scorer (its GPU memory) once its scores are computed: its adapter and head weights
        stay on the CPU (``llm_state``, a few MB), and the next ``score`` rebuilds it from them and the
        backbone on disk."""
        if self._llm is not None:
            self.llm_state = self.adapter_state()
        self._llm = self.tok = None
        free_memory()

    def state(self):
        st = super().state()
        st["llm"] = self.adapter_state()  # adapters + head only
        st["kb_texts"] = self.kb_texts
        st["encoder_path"] = str(encoders.ENCODERS[self.hp["encoder"]]())  # see set_state
        return st

    def set_state(self, st):
        # The paper encoder (DeBERTa-v3 or its stand-in) is registered by ``paper.register_encoder``
        # in the process that trained the router; a fresh process (``ragrouter-score``, notebook 07's
        # kernel) learns its folder from the saved state. Its identity is in hp["encoder"] (the key).
        name, path = self.hp["encoder"], st.get("encoder_path")
        if name not in encoders.ENCODERS and path:
            encoders.register_encoder(name, path)
        super().set_state(st)
        self.kb_texts = st["kb_texts"]
        self.release()
        self.llm_state = st["llm"]  # the scorer is built on ``device`` when first needed (``llm``)
