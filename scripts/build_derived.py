"""Build the committed derived data: the SmolLM2 passes of the offline run, from scratch, timed.

    .venv/bin/python scripts/build_derived.py            # writes data/derived/ (+ MANIFEST.json)
    .venv/bin/python scripts/build_derived.py --reuse    # keeps the committed folders whose keys still match
    .venv/bin/python scripts/build_derived.py --reuse --resume /tmp/rr_derived_x --no-gemma

``--reuse``: a committed folder whose name (its content key: parameters, model digest, code closure)
is still the one the current code asks for, and whose shards match the old manifest's checksums, is
kept as it is and its pass skipped (``tests/test_derived.py`` recomputes a sample of every folder).

The two passes a cold ``offline`` run spends most of its time on (MISSION: "one LM pass over all
15,344 evaluation prompts costs 40+ minutes") are deterministic functions of the prompts, the model
weights and the code, so they are computed once here and committed, as RouteLLM ships its
precomputed Arena embeddings:
  1. SmolLM2 hidden states of the MMLU and GSM8K evaluation prompts (``encoders.lm_states`` with the
     ``causal_llm`` router's layers and window);
  2. SmolLM2 perplexities of the offline training pool's prompts, with the same hidden states from
     that pass (``sampling.perplexities(..., lm_states_layers=...)``, as ``precompute_features``);
  3. Gemma-3-270M perplexities of the pool subsample notebook 04's difficulty-signal choice reads
     (``difficulty.signal_table``, ``gemma_rows`` rows, ~1 text/s);
  4. the augmentation's SmolLM2 perplexities: the gate's (``aug_gate.ppl_ratios``, window
     ``GATE["ppl_max_len"]``) of every candidate variant of every pool row, and the sampling step's of the
     augmented rows (``training_data.prepare_split`` on the whole pool, as a final RAGRouter fit runs it,
     and ``training_data.prepare`` as notebook 04 runs it; ~6 min of a cold run);
  5. Gemma-3-270M perplexities of the independent check's 150 variants (``aug_check.independent_check``).
The library reads them beside the cache under the same content-keyed folder names
(``encoders.derived_root``), so an edit to the code that computes them retires them. The test
``tests/test_derived.py`` checks that the folders match the current code and recomputes a random
sample. Everything runs with an empty temporary cache and ``RAGROUTER_DERIVED=off``.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def n_texts(folder: Path) -> int:
    """Texts stored in a feature folder's shards (0 when it does not exist)."""
    from ragrouter_lib.core import cache
    return sum(len(cache.load_npz(f)["keys"]) for f in sorted(Path(folder).glob("*.npz")))


def reusable(out: Path) -> dict:
    """{folder name: its old manifest entry} for the committed folders whose shards match the manifest."""
    path = out / "MANIFEST.json"
    if not path.exists():
        return {}
    keep = {}
    for f in json.loads(path.read_text())["folders"]:
        d = out / f["folder"]
        if all((d / n).exists() and sha256(d / n) == h for n, h in f["shards"].items()):
            keep[d.name] = f
    return keep


def main(out: Path = REPO / "data" / "derived", reuse: bool = False, resume: str | None = None,
         gemma: bool = True) -> None:
    """``resume``: the temporary cache of a build that was cut (its shards are content-keyed, so a
    resumed pass reads what the cut one computed); ``gemma=False`` leaves the Gemma pass out (a run
    then computes those ~600 texts itself, ~10 min plus the model's ~3-min conversion)."""
    old = reusable(out) if reuse else {}
    kept = Path(tempfile.mkdtemp(prefix="rr_derived_kept_"))
    for name in old:
        shutil.copytree(out / "features" / name, kept / name)
    tmp = Path(resume) if resume else Path(tempfile.mkdtemp(prefix="rr_derived_"))
    for name in old:  # the kept folders seed the cache: a pass finds their texts, new texts go beside them
        if not (tmp / "features" / name).exists():
            shutil.copytree(kept / name, tmp / "features" / name)
    os.environ["RAGROUTER_CACHE"] = str(tmp)
    os.environ["RAGROUTER_DERIVED"] = "off"
    sys.path.insert(0, str(REPO))
    import ragrouter_lib as rr
    from ragrouter_lib.features import encoders, gemma_lm
    from ragrouter_lib.pipeline import sampling
    from ragrouter_lib.routers.routellm_baselines import CausalLLMRouter

    c = CausalLLMRouter.defaults
    cfg = rr.setup("offline", 0, "outputs", verbose=False)
    pool = rr.paper.notebook_pool(cfg)
    evals = rr.experiments.load_evals(cfg)
    lm_params = encoders.lm_params(c["n_layers"], c["max_len"])
    lm_dir = encoders.store_dir("lm", lm_params)
    ppl_params, ppl_dir = sampling.ppl_params(c["max_len"]), sampling.ppl_store(c["max_len"])
    lm_kept = lm_dir.name in old
    prev = json.loads((out / "MANIFEST.json").read_text()) if old else {"sets": []}
    sets = []

    def record(entry: dict, folder: Path) -> None:
        """A pass's record; a pass whose folder was kept keeps its from-scratch record, marked as kept."""
        same = [x for x in prev["sets"] if folder.name in old and x["set"] == entry["set"]
                and x["pass"].split("+")[0] == entry["pass"].split("+")[0]]
        sets.append({**same[0], "kept_from": same[0].get("kept_from", prev.get("commit"))} if same else entry)
        print(sets[-1], flush=True)

    for name, ev in evals.items():
        t = time.time()
        if not lm_kept:
            encoders.lm_states(list(ev.prompt), c["n_layers"], c["max_len"])
        record({"set": name, "pass": "lm_states", "n": len(ev), "seconds": round(time.time() - t, 1),
                "texts_sha256": encoders.texts_digest(list(ev.prompt))}, lm_dir)
    t = time.time()
    sampling.perplexities(list(pool.prompt), c["max_len"], lm_states_layers=None if lm_kept else c["n_layers"],
                          progress=False)
    record({"set": "pool", "pass": "perplexities" if lm_kept else "perplexities+lm_states", "n": len(pool),
            "seconds": round(time.time() - t, 1), "texts_sha256": encoders.texts_digest(list(pool.prompt))}, ppl_dir)
    if gemma:
        t = time.time()  # Gemma-3-270M on the difficulty-signal subsample (notebook 04's chooser)
        sig = rr.difficulty.signal_table(pool, n=cfg.gemma_rows)
        record({"set": "pool subsample", "pass": "gemma perplexities", "n": int(sig.loc["gemma", "rows"]),
                "seconds": round(time.time() - t, 1)},
               encoders.store_dir("ppl-gemma", gemma_lm.ppl_params(), [gemma_lm.__name__]))

    t = time.time()  # the augmentation: the gate's and the sampling step's SmolLM2 perplexities
    quiet = lambda *a, **k: None  # noqa: E731
    gate_len = rr.aug_gate.GATE["ppl_max_len"]
    gate_params, gate_dir = sampling.ppl_params(gate_len), sampling.ppl_store(gate_len)
    before = n_texts(gate_dir) + n_texts(ppl_dir)
    rr.training_data.prepare_split(pool, None, cfg.data_seed, tmp / "data", log=quiet)
    td = rr.training_data.prepare(pool, cfg.data_seed, tmp / "data", log=quiet)
    record({"set": "pool (augmentation)", "pass": "gate + sampling perplexities",  # n: the texts it computed
            "n": n_texts(gate_dir) + n_texts(ppl_dir) - before, "seconds": round(time.time() - t, 1)}, gate_dir)
    if gemma:
        t = time.time()
        chk = rr.aug_check.independent_check(rr.augmentation.variant_pairs(td.augmented, td.original), n=150, seed=0)
        record({"set": "independent check sample", "pass": "gemma perplexities", "n": 2 * len(chk),
                "seconds": round(time.time() - t, 1)},
               encoders.store_dir("ppl-gemma", gemma_lm.ppl_params(rr.aug_check.CHECK["max_len"]), [gemma_lm.__name__]))

    if out.exists():
        shutil.rmtree(out)
    folders = []
    passes = [(lm_dir, lm_params), (ppl_dir, ppl_params)] + ([(gate_dir, gate_params)] if gate_dir != ppl_dir else [])
    if gemma:  # the difficulty signal's window and the independent check's
        for n in sorted({48, rr.aug_check.CHECK["max_len"]}):
            gemma_params = gemma_lm.ppl_params(n)
            passes.append((encoders.store_dir("ppl-gemma", gemma_params, [gemma_lm.__name__]), gemma_params))
    for src, params in passes:
        dst = out / "features" / src.name
        shutil.copytree(src, dst)  # kept folders were copied into the cache first (plus any new texts)
        folders.append({"folder": f"features/{src.name}", "params": params,
                        "shards": {f.name: sha256(f) for f in sorted(dst.glob("*.npz"))}})
    manifest = {"built_by": "scripts/build_derived.py", "commit": rr.config.git_commit(),
                "total_seconds": round(sum(x["seconds"] for x in sets), 1), "sets": sets, "folders": folders,
                "note": "SmolLM2-135M-Instruct (safetensors, fp32 compute, float16 states), CPU, 2 cores"}
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=1, default=str) + "\n")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(kept, ignore_errors=True)
    print(f"derived data: {out} ({manifest['total_seconds']:.0f}s)")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(reuse="--reuse" in args, resume=args[args.index("--resume") + 1] if "--resume" in args else None,
         gemma="--no-gemma" not in args)
