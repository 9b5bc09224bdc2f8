"""Routing cost on this CPU: every router measured in the same run, caches bypassed.

Thesis step: the cost side of the comparison (RouteLLM reports routing overhead; the thesis
reports none). A cost is only meaningful beside the others measured under the same load on the same
machine, so ``latency_table`` times every router in one pass and gives RAGRouter's figures as ratios
to each baseline's. Every feature (embeddings, LM states, parses, fused vectors) is recomputed:
the feature store is switched off (``encoders.feature_cache(enabled=False)``: nothing read or written).

Memory: ``peak_py_mb`` is tracemalloc's peak of Python/NumPy allocations while scoring one batch
(torch's CPU allocator is not traced); ``rss_mb`` is the process's resident set after that batch
(psutil, includes every model loaded so far). Neither is a per-router exclusive footprint.
"""
from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pandas as pd

from ..features import encoders
from ..routers.routellm_baselines import BertRouter, CausalLLMRouter


def _rss_mb() -> float:
    try:
        import psutil  # optional (ships with jupyter); resource below is the fallback
        return psutil.Process().memory_info().rss / 2**20
    except ImportError:  # pragma: no cover - psutil ships with jupyter
        import resource  # POSIX only: imported where it is the fallback
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def latency(router, prompts, batch: int = 256, single: int = 200) -> pd.DataFrame:
    """Single-query latency (p50/p95/mean over ``single`` prompts, one at a time), batch
    throughput (``batch`` prompts in one call) and memory, cache bypassed."""
    prompts = list(prompts)
    router.score(prompts[:2])  # warm up (imports, weights, thread pools) outside the timing
    with encoders.feature_cache(enabled=False):  # every feature computed afresh, nothing stored
        times = []
        for p in prompts[:single]:
            t0 = time.perf_counter()
            router.score([p])
            times.append(time.perf_counter() - t0)
        nb = min(batch, len(prompts))
        tracemalloc.start()
        t0 = time.perf_counter()
        router.score(prompts[:nb])
        dt = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    t = np.array(times) * 1000
    return pd.DataFrame([{"router": getattr(router, "name", type(router).__name__), "single_queries": len(t),
                          "p50_ms": round(float(np.percentile(t, 50)), 1),
                          "p95_ms": round(float(np.percentile(t, 95)), 1), "mean_ms": round(float(t.mean()), 1),
                          "batch": nb, "batch_prompts_per_s": round(nb / dt, 1),
                          "peak_py_mb": round(peak / 2**20, 1), "rss_mb": round(_rss_mb(), 1)}])


def latency_table(routers: dict, prompts, batch: int = 256, single: int = 200,
                  reference: str | None = "ragrouter") -> pd.DataFrame:
    """``latency`` of every router of ``{label: router}`` in one run, on the same prompts. With
    ``reference`` among the labels, columns ``<reference>_p50_ratio`` / ``_p95_ratio`` /
    ``_throughput_ratio`` give the reference's cost relative to each row (p50 ratio 2.0 = the
    reference takes twice as long per query as that router)."""
    rows = [latency(r, prompts, batch, single).assign(router=label) for label, r in routers.items()]
    out = pd.concat(rows, ignore_index=True)
    if reference is not None and reference in routers:
        ref = out.set_index("router").loc[reference]
        out[f"{reference}_p50_ratio"] = (ref.p50_ms / out.p50_ms).round(2)
        out[f"{reference}_p95_ratio"] = (ref.p95_ms / out.p95_ms).round(2)
        out[f"{reference}_throughput_ratio"] = (ref.batch_prompts_per_s / out.batch_prompts_per_s).round(2)
    return out


def feature_cost(texts, n: int = 128, seed: int = 0) -> pd.DataFrame:
    """Cold cost of each shared feature pass on ``n`` prompts (cache bypassed): prompts per second.

    Scoring a brand-new prompt costs its feature pass plus the router's own (cached-feature) score.
    """
    sample = list(pd.Series(list(texts)).sample(n=min(n, len(texts)), random_state=seed))
    b, c = BertRouter.defaults, CausalLLMRouter.defaults
    passes = {
        "MiniLM sentence + layer-5 tokens (sw_ranking, mf, bert, extras)":
            lambda t: encoders.encode(t, b["encoder"], b["max_len"], 8, b["layer"], False),
        f"SmolLM2 {c['n_layers']} layers, {c['max_len']} tokens (causal_llm)":
            lambda t: encoders.lm_encode(t, c["n_layers"], c["max_len"], 8, False),
    }
    rows = []
    for name, fn in passes.items():
        fn(sample[:4])  # weights loaded outside the timing
        t0 = time.time()
        fn(sample)
        dt = time.time() - t0
        rows.append({"pass": name, "prompts": len(sample), "seconds": round(dt, 2),
                     "prompts_per_s": round(len(sample) / dt, 1)})
    return pd.DataFrame(rows)


def encoder_cost(texts, n: int = 64, seed: int = 0) -> pd.DataFrame:
    """Cold cost of MiniLM (384-d) vs MPNet (768-d) on the same prompts (H_sem candidates)."""
    sample = list(pd.Series(list(texts)).sample(n=min(n, len(texts)), random_state=seed))
    rows = []
    for name in ("minilm", "mpnet"):
        encoders.encode(sample[:4], name, 128, 8, None, False)  # load outside the timing
        t0 = time.time()
        encoders.encode(sample, name, 128, 8, None, False)
        dt = time.time() - t0
        rows.append({"encoder": name, "dim": encoders.load_encoder(name)[1].config.hidden_size,
                     "prompts_per_s": round(len(sample) / dt, 1),
                     "minutes_for_all_15344_eval_prompts": round(15344 / (len(sample) / dt) / 60, 1)})
    return pd.DataFrame(rows)
