"""Cost options measured for the cold-run budget (README, "Time budget"): prints figures, asserts nothing.

    .venv/bin/python benchmarks/cost_options.py

1. int8 dynamic quantisation of SmolLM2's decoder layers: perplexity throughput and rank
   agreement with fp32; cosine of the 16-layer states (the causal_llm router's input);
2. perplexity on 32 instead of 48 tokens: rank agreement and same-quartile share;
3. spaCy parses without NER and the lemmatizer: throughput, identical parses or not.
Run it alone on the machine: the two cores are shared otherwise.
"""
import contextlib
import time
from unittest import mock

import numpy as np
import torch
from scipy.stats import spearmanr

from ragrouter_lib.core import config
from ragrouter_lib.runs import experiments
from ragrouter_lib.features import encoders, syntax
from ragrouter_lib.pipeline import sampling
from ragrouter_lib.pipeline.variants import spacy_nlp


def rate(fn, texts):
    fn(texts[:8])  # weights loaded outside the timing
    t0 = time.time()
    out = fn(texts)
    return out, len(texts) / (time.time() - t0)


def quartiles(x):
    return np.searchsorted(np.quantile(x, [0.25, 0.5, 0.75]), x, side="right")


def main():
    cfg = config.setup("offline", 0, "/tmp/ragrouter_bench", verbose=False)
    pool = experiments.load_pool(cfg)
    texts = list(pool.prompt.sample(320, random_state=1))
    mmlu = list(experiments.load_evals(cfg)["mmlu"].prompt.sample(400, random_state=0))

    p48, r48 = rate(lambda t: sampling.perplexities_uncached(t, 48, 32, False)["ppl"], texts)
    p32, r32 = rate(lambda t: sampling.perplexities_uncached(t, 32, 32, False)["ppl"], texts)
    s16 = encoders.lm_encode(texts, 16, 48, 32, False)
    print(f"perplexity fp32, 48 tokens: {r48:.1f} texts/s; 32 tokens: {r32:.1f} texts/s, "
          f"Spearman vs 48: {spearmanr(p48, p32)[0]:.3f}, same quartile: {(quartiles(p48) == quartiles(p32)).mean():.2f}")

    for n_layers in (None, 16):
        model = encoders.load_lm(n_layers)[1]
        model.model.layers = torch.ao.quantization.quantize_dynamic(model.model.layers, {torch.nn.Linear},
                                                                    dtype=torch.qint8)
    q48, rq = rate(lambda t: sampling.perplexities_uncached(t, 48, 32, False)["ppl"], texts)
    q16 = encoders.lm_encode(texts, 16, 48, 32, False)
    cos = (s16["last"] * q16["last"]).sum(1) / np.linalg.norm(s16["last"], axis=1) / np.linalg.norm(q16["last"], axis=1)
    print(f"perplexity int8 decoder layers: {rq:.1f} texts/s ({rq / r48:.2f}x), Spearman vs fp32: "
          f"{spearmanr(p48, q48)[0]:.3f}; 16-layer last-token state cosine vs fp32: median {np.median(cos):.2f}")

    nlp = spacy_nlp()
    used, r_used = rate(lambda t: syntax.parse_uncached(t, False), mmlu)  # NER and lemmatizer off
    with mock.patch.object(type(nlp), "select_pipes", lambda self, **k: contextlib.nullcontext()):
        full, r_full = rate(lambda t: syntax.parse_uncached(t, False), mmlu)  # every pipe on
    same = all(np.array_equal(used[k], full[k]) for k in used)
    print(f"spaCy parse, MMLU prompts: full pipeline {r_full:.1f}/s, without NER + lemmatizer "
          f"{r_used:.1f}/s ({r_used / r_full:.2f}x); identical parses: {same}")


if __name__ == "__main__":
    main()
