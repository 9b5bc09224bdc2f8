"""The committed derived data (``data/derived``, built by ``scripts/build_derived.py``) is what the
current code would compute: its folders carry the keys the current code asks for, its shards match
the manifest's checksums, the library reads it instead of recomputing, and a random sample
recomputed from scratch agrees with it."""
import hashlib
import inspect
import json

import numpy as np
import pytest

from ragrouter_lib.core import cache
from ragrouter_lib.core.config import setup
from ragrouter_lib.runs import experiments
from ragrouter_lib.features import encoders, gemma_lm
from ragrouter_lib.pipeline import difficulty, sampling
from ragrouter_lib.routers.routellm_baselines import CausalLLMRouter

DERIVED = cache.REPO / "data" / "derived"
MANIFEST = DERIVED / "MANIFEST.json"
C = CausalLLMRouter.defaults
pytestmark = pytest.mark.skipif(not MANIFEST.exists(), reason="no committed derived data")

# the row count of a forward pass is part of a feature's bits (encoders.length_batches): the library's defaults
BATCH = {"lm_states": inspect.signature(encoders.lm_states).parameters["batch_size"].default,
         "perplexities": inspect.signature(sampling.perplexities).parameters["batch_size"].default}


def manifest():
    return json.loads(MANIFEST.read_text())


def current_folders(gemma: bool = True) -> set:
    """The folder names the current code asks for (``scripts/build_derived.py``'s passes)."""
    from ragrouter_lib.pipeline import aug_check, aug_gate
    names = {encoders.store_dir("lm", encoders.lm_params(C["n_layers"], C["max_len"])).name,
             sampling.ppl_store(C["max_len"]).name, sampling.ppl_store(aug_gate.GATE["ppl_max_len"]).name}
    if gemma:  # the difficulty signal's window and the independent check's
        names |= {encoders.store_dir("ppl-gemma", gemma_lm.ppl_params(n), [gemma_lm.__name__]).name
                  for n in (48, aug_check.CHECK["max_len"])}
    return names


def test_derived_folders_are_the_ones_the_current_code_asks_for():
    committed = {f["folder"].split("/")[-1] for f in manifest()["folders"]}
    # built with --no-gemma: a run computes Gemma's texts itself
    current = current_folders(gemma=any(n.startswith("ppl-gemma") for n in committed))
    assert committed == current, (
        "data/derived is stale for the current code (a module in the passes' import closure changed): "
        "rebuild it with `.venv/bin/python scripts/build_derived.py --reuse`")


def test_derived_shards_match_the_manifest():
    for f in manifest()["folders"]:
        for name, digest in f["shards"].items():
            assert hashlib.sha256((DERIVED / f["folder"] / name).read_bytes()).hexdigest() == digest, name


def sample(texts, n=4, seed=0):
    rng = np.random.default_rng(seed)
    return [texts[i] for i in sorted(rng.choice(len(texts), n, replace=False))]


def test_library_reads_derived_lm_states_and_a_sample_recomputes_equal(monkeypatch, tmp_path):
    monkeypatch.setenv("RAGROUTER_CACHE", str(tmp_path))  # empty cache: only derived data can answer
    cfg = setup("offline", 0, str(tmp_path), verbose=False)
    prompts = sample(list(experiments.load_evals(cfg)["mmlu"].prompt))

    def refuse(*a, **k):
        raise AssertionError("derived data was not used")
    monkeypatch.setattr(encoders, "lm_encode", refuse)
    got = encoders.lm_states(prompts, C["n_layers"], C["max_len"], progress=False)
    monkeypatch.undo()
    ref = encoders.lm_encode(prompts, C["n_layers"], C["max_len"], BATCH["lm_states"], False)
    ref = np.concatenate([ref["last"], ref["mean"]], axis=1).astype(np.float32)
    np.testing.assert_allclose(got, ref, rtol=1e-2, atol=1e-2 * np.abs(ref).max())


def test_library_reads_derived_perplexities_and_a_sample_recomputes_equal(monkeypatch, tmp_path):
    monkeypatch.setenv("RAGROUTER_CACHE", str(tmp_path))
    cfg = setup("offline", 0, str(tmp_path), verbose=False)
    prompts = sample(list(experiments.load_pool(cfg).prompt), seed=1)

    def refuse(*a, **k):
        raise AssertionError("derived data was not used")
    monkeypatch.setattr(sampling, "perplexities_uncached", refuse)
    got = sampling.perplexities(prompts, C["max_len"], progress=False)
    monkeypatch.undo()
    np.testing.assert_allclose(got, sampling.perplexities_uncached(prompts, C["max_len"], BATCH["perplexities"], False)["ppl"], rtol=1e-3)


def test_library_reads_derived_gemma_perplexities_of_the_signal_subsample(monkeypatch, tmp_path):
    """Notebook 04's difficulty-signal choice finds every Gemma text in data/derived, so a cold run
    neither converts nor runs Gemma (a recomputed sample would cost the ~3-minute conversion here)."""
    if not any("ppl-gemma" in f["folder"] for f in manifest()["folders"]):
        pytest.skip("data/derived was built with --no-gemma")
    monkeypatch.setenv("RAGROUTER_CACHE", str(tmp_path))
    cfg = setup("offline", 0, str(tmp_path), verbose=False)
    pool = experiments.load_pool(cfg)
    sub = pool.iloc[difficulty.stratified_subsample(pool.source, cfg.gemma_rows)]

    def refuse(*a, **k):
        raise AssertionError("derived data was not used")
    monkeypatch.setattr(gemma_lm, "perplexities_uncached", refuse)
    got = gemma_lm.perplexities(list(sub.prompt), progress=False)
    assert len(got) == len(sub) and np.isfinite(got).mean() > 0.95


def test_library_reads_derived_gate_perplexities_and_a_sample_recomputes_equal(monkeypatch, tmp_path):
    """The augmentation gate's first-round spans of the first pool rows it visits (every build visits
    them) are served by data/derived, and recompute equal."""
    from ragrouter_lib.data.models import wordnet
    from ragrouter_lib.pipeline import augmentation
    from ragrouter_lib.pipeline.aug_gate import GATE
    from ragrouter_lib.pipeline.variants import spacy_nlp
    monkeypatch.setenv("RAGROUTER_CACHE", str(tmp_path))
    cfg = setup("offline", 0, str(tmp_path), verbose=False)
    pool = experiments.load_pool(cfg)
    src = pool[augmentation.source_quality(pool)]
    first = src.iloc[np.argsort([augmentation.row_seed(p, 0) for p in src.pool_id], kind="stable")[:6]]
    nlp, wn = spacy_nlp(), wordnet()
    spans = [good[0][1] for good, _ in (augmentation.candidates(r, wn, nlp) for r in first.itertuples()) if good]
    texts = [t for pair in spans[:3] for t in pair]
    assert texts

    def refuse(*a, **k):
        raise AssertionError("derived data was not used")
    monkeypatch.setattr(sampling, "perplexities_uncached", refuse)
    got = sampling.perplexities(texts, GATE["ppl_max_len"], GATE["ppl_batch"], progress=False)
    monkeypatch.undo()
    np.testing.assert_allclose(got, sampling.perplexities_uncached(texts, GATE["ppl_max_len"], GATE["ppl_batch"], False)["ppl"], rtol=1e-3)
