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
     (``difficulty.signal_table``, ``gemma_rows`` rows, ~1 text/s).
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
    sets, t0 = [], time.time()
    if lm_kept:  # the kept passes' own records, marked as kept
        prev = json.loads((out / "MANIFEST.json").read_text())
        sets = [{**x, "kept_from": prev["commit"]} for x in prev["sets"] if x["pass"] == "lm_states"]
    for name, ev in evals.items():
        if lm_kept:
            print(f"{name}: lm states kept ({lm_dir.name} unchanged)", flush=True)
            continue
        t = time.time()
        encoders.lm_states(list(ev.prompt), c["n_layers"], c["max_len"])
        sets.append({"set": name, "pass": "lm_states", "n": len(ev), "seconds": round(time.time() - t, 1),
                     "texts_sha256": encoders.texts_digest(list(ev.prompt))})
        print(sets[-1], flush=True)
    t = time.time()
    sampling.perplexities(list(pool.prompt), c["max_len"], lm_states_layers=None if lm_kept else c["n_layers"])
    sets.append({"set": "pool", "pass": "perplexities" if lm_kept else "perplexities+lm_states", "n": len(pool),
                 "seconds": round(time.time() - t, 1), "texts_sha256": encoders.texts_digest(list(pool.prompt))})
    print(sets[-1], flush=True)
    if gemma:
        t = time.time()  # Gemma-3-270M on the difficulty-signal subsample (notebook 04's chooser)
        sig = rr.difficulty.signal_table(pool, n=cfg.gemma_rows)
        sets.append({"set": "pool subsample", "pass": "gemma perplexities", "n": int(sig.loc["gemma", "rows"]),
                     "seconds": round(time.time() - t, 1)})
        print(sets[-1], flush=True)

    if out.exists():
        shutil.rmtree(out)
    folders = []
    passes = [(lm_dir, lm_params), (ppl_dir, ppl_params)]
    if gemma:
        gemma_params = gemma_lm.ppl_params()
        passes.append((encoders.store_dir("ppl-gemma", gemma_params, [gemma_lm.__name__]), gemma_params))
    for src, params in passes:
        dst = out / "features" / src.name
        shutil.copytree(kept / src.name if src.name in old else src, dst)
        folders.append({"folder": f"features/{src.name}", "params": params,
                        "shards": {f.name: sha256(f) for f in sorted(dst.glob("*.npz"))}})
    manifest = {"built_by": "scripts/build_derived.py", "commit": rr.config.git_commit(),
                "total_seconds": round(time.time() - t0, 1), "sets": sets, "folders": folders,
                "note": "SmolLM2-135M-Instruct (safetensors, fp32 compute, float16 states), CPU, 2 cores"}
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=1, default=str) + "\n")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(kept, ignore_errors=True)
    print(f"derived data: {out} ({manifest['total_seconds']:.0f}s)")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(reuse="--reuse" in args, resume=args[args.index("--resume") + 1] if "--resume" in args else None,
         gemma="--no-gemma" not in args)
