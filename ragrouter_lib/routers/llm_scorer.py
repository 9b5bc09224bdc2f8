"""The LLM scorer behind RAGRouter's thesis-form final model (``ragrouter_llm``): a causal LM (LoRA
adapters via ``peft``; 4-bit NF4 weights via ``bitsandbytes`` when the run says so) with a fully
connected head mapping the last token's hidden state to 5 logits.

Thesis step: the final model of "augmented input -> final model" (Qwen-7B in the thesis). This module
holds the parts every LLM path shares: the textual augmented prompt, loading the backbone, one device
per model (``run_device``, ``place``), freeing memory, the training wrapper over
``training.train_epochs`` (gradient accumulation; the multi-GPU launcher hook ``set_launcher`` that
``runs.launch`` installs) and scoring. ``routers.ragrouter_llm`` (the router) and ``runs.paper``
(the small real-data row) use them. Deviations from the thesis are listed in ``ragrouter_llm``.
"""
from __future__ import annotations

import contextlib
import gc
import itertools
import logging
import warnings

import numpy as np
import torch
from torch import nn

from ..core import text
from ..core.seeding import seed_step
from ..features import encoders
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
    ``load_4bit`` (explicit; None = False) loads NF4 weights for QLoRA; ``n_layers`` keeps only the
    first layers (a cost switch for the small CPU run, recorded in its hp). ``lora_r = 0``: every
    parameter trains (the FSDP path). ``device``: the CUDA device the 4-bit weights are loaded on
    (default GPU 0); other weights load on the CPU and ``place`` moves them.
    """
    from transformers import AutoModel, AutoTokenizer  # heavy optional package: imported only when this runs
    load_4bit = bool(load_4bit)  # the caller's decision (paper: config.cuda_decision), no probe here
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
    with contextlib.ExitStack() as stack:
        if n_layers:  # the dropped layers' weights are reported UNEXPECTED on stderr: that is the intent
            stack.enter_context(quiet_transformers())
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
def quiet_transformers():
    """transformers' logging at error level inside the block (e.g. a load that keeps only the first
    ``n_layers`` layers, whose load report lists the other layers' weights as unexpected)."""
    from transformers.utils import logging as hf_logging  # heavy optional package: imported only when this runs
    before = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(before)


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


def adam(params, lr, eight_bit: bool = False):
    """bitsandbytes' 8-bit Adam when ``eight_bit`` (the QLoRA path; an ImportError if bitsandbytes is
    missing, no silent fallback), else torch's Adam. Its class name is logged by the callers."""
    params = list(params)
    if eight_bit:
        import bitsandbytes as bnb  # optional package: 8-bit Adam on the CUDA QLoRA path only
        return bnb.optim.Adam8bit(params, lr=lr)
    return torch.optim.Adam(params, lr=lr)


def is_4bit(scorer: LLMScorer) -> bool:
    """Whether the backbone holds 4-bit weights: the run's ``load_4bit`` decision, read off the model."""
    return getattr(getattr(scorer.backbone, "config", None), "quantization_config", None) is not None


def encode(tok, texts, max_len: int, device=None):
    """Padded ids and mask of ``texts`` cut by the shared head+tail window (``text.encode_window``):
    an over-long RAG prompt keeps its query and its closing "Rating:" cue."""
    enc = tok.pad({"input_ids": text.encode_window(tok, texts, max_len)}, return_tensors="pt")
    return (enc["input_ids"].to(device), enc["attention_mask"].to(device)) if device else \
        (enc["input_ids"], enc["attention_mask"])


# The multi-GPU launcher (``runs.launch.use_all_gpus`` sets it through ``set_launcher``; None: in-process). Called as
# ``fn(scorer, tok, texts, y, hp)`` with ``hp`` the training settings below; trains in launched
# processes, loads the result into ``scorer`` (``load_trained``) and returns the history rows.
LAUNCHER: dict = {"fn": None}


def set_launcher(fn) -> None:
    """Install (``fn``) or remove (None) the multi-GPU launcher ``train_scorer`` hands its fits to."""
    LAUNCHER["fn"] = fn


def train_scorer(scorer: LLMScorer, tok, texts, y, epochs: int = 1, lr: float = 2e-4, batch_size: int = 4,
                 grad_accum: int = 1, max_len: int = 512, seed: int = 0, optimizer=None, accelerator=None,
                 log=None) -> list[dict]:
    """Cross-entropy training of ``scorer`` on (text, class 0-4) through the one training loop
    (``training.train_epochs``: shuffles and dropout seeded by ``seed_step(seed, "llm/loop")``,
    ``grad_accum`` batches per optimiser step). One history row per epoch (train loss, rows,
    tokens/s, optimiser), also passed to ``log``. Optimiser: ``adam``, 8-bit for 4-bit weights.

    With ``accelerator`` (accelerate), each global batch of ``batch_size`` x processes rows (the same
    shuffle on every process: same seed) is sharded across processes (process r takes rows r, r+P, ...)
    and the backward goes through it (DDP/FSDP, which average gradients over processes). Each
    process's loss is weighted by its share of the batch x P, so the average is the gradient of the
    whole batch also when the shards are uneven. A process whose shard of a short last batch is
    empty still runs forward and backward on one row with weight 0: every process takes part in
    every collective, none waits forever (the old loop's ``continue`` did). Its ``train_loss`` is
    this process's weighted share. Without ``accelerator`` and with a launcher installed
    (``LAUNCHER``: several GPUs), the fit runs in launched processes; otherwise a plain loop on the
    scorer's device."""
    if accelerator is None and optimizer is None and LAUNCHER["fn"] is not None:
        hp = dict(epochs=epochs, lr=lr, batch_size=batch_size, grad_accum=grad_accum, max_len=max_len, seed=seed)
        hist = LAUNCHER["fn"](scorer, tok, list(texts), np.asarray(y).tolist(), hp)
        for row in hist if log else ():
            log(row)
        return hist
    y = torch.as_tensor(np.asarray(y), dtype=torch.long)
    texts = list(texts)
    opt = optimizer or adam([p for p in scorer.parameters() if p.requires_grad], lr, eight_bit=is_4bit(scorer))
    device = accelerator.device if accelerator else next(scorer.parameters()).device
    rank, world = (accelerator.process_index, accelerator.num_processes) if accelerator else (0, 1)
    seen = {"rows": 0, "tokens": 0}

    def loss_fn(idx):
        local = idx[rank::world]
        weight = len(local) * world / len(idx)  # 1.0 exactly in one process and for even shards
        if len(local) == 0:  # empty shard of a short last batch: a zero-weighted row keeps every process in step
            local = idx[:1]
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


def fresh_state(scorer: LLMScorer) -> dict:
    """The weights not read from the backbone's checkpoint (LoRA adapters and the head), on the CPU:
    what a launched process needs to start where the in-process fit would."""
    return {k: v.detach().cpu() for k, v in scorer.state_dict().items() if k.startswith("head.") or ".lora_" in k}


def trainable_names(scorer: LLMScorer) -> set[str]:
    """Names of the weights a fit changes: adapters + head (every weight for ``lora_r = 0``). Take
    them before ``accelerator.prepare`` wraps the scorer (wrappers rename submodules)."""
    return {k for k, p in scorer.named_parameters() if p.requires_grad} | \
        {k for k in scorer.state_dict() if k.startswith("head.")}


def trained_state(state: dict, names) -> dict:
    """The ``names`` entries of a full state dict (e.g. accelerate's gathered one), on the CPU."""
    return {k: v.detach().cpu() for k, v in state.items() if k in names}


def load_trained(scorer: LLMScorer, state: dict) -> None:
    """Copy ``state`` (``fresh_state`` / ``trained_state`` of the same architecture) into ``scorer``;
    a name the scorer does not have is an error (a wrong model or adapter layout)."""
    unknown = set(state) - set(scorer.state_dict())
    if unknown:
        raise RuntimeError(f"ragrouter_llm: weights do not fit this scorer: {sorted(unknown)[:3]}")
    scorer.load_state_dict(state, strict=False)


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
