"""The ``paper`` profile's notebook entry points: the thesis's scale (Hub data, RouteLLM's released
routers, DeBERTa-v3 + a Qwen-class LLM with LoRA) behind one call per notebook, and the small
real-data row of the thesis's final-model form (SmolLM2-135M + LoRA over the textual RAG prompt).

Hub ids, loaders and the dry-run stand-ins live in ``hub.py``; see docs/PAPER.md for the plan.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..core import cache
from ..core.config import cuda_decision
from ..core.seeding import seed_step, step_seed
from ..data import leakage, models
from ..data.hub import HUB_DATASETS, load_arena_hub, load_gpt4_hub, model_path, standins
from ..features import encoders, syntax
from ..routers import llm_scorer as L
from ..routers import released
from ..routers.kb import KnowledgeBase
from . import experiments, router_runs

# ----------------------------------------------------------------------------- notebook entry points
PAPER_ENCODER = "deberta-v3-base"
# the final model's budgets in the dry run (hub.stand_ins): tiny, so notebooks 05 and 07 run in minutes
DRY_RUN_HP = {"n_folds": 2, "extractor_epochs": 1, "final_epochs": 2, "max_len": 48, "llm_max_len": 96,
              "llm_batch_size": 8, "llm_grad_accum": 1}


def register_encoder(cfg) -> str:
    """Make the thesis's semantic encoder (DeBERTa-v3-base, or its dry-run stand-in) available to
    ``encoders.token_states``/``syntax.wordpiece_offsets`` under ``PAPER_ENCODER`` (through the
    registration function encoders owns); returns the name."""
    encoders.register_encoder(PAPER_ENCODER, model_path("encoder", cfg))
    return PAPER_ENCODER


def hub_files(cfg, cache_dir=None) -> dict[str, Path]:
    """Local files of the thesis's two training sources (schema and row counts checked)."""
    out = {}
    for name, loader in (("arena", load_arena_hub), ("gpt4", load_gpt4_hub)):
        df = loader(cfg, cache_dir)
        out[name] = Path(df.attrs["path"])
        print(f"{HUB_DATASETS[name]['id']}: {len(df)} rows ({df.attrs['hub']})")
    return out


def notebook_pool(cfg, arena_path=None, gpt4_path=None):
    """Notebooks 02, 03, 05, 07: ``paper`` adds Chatbot Arena 55k and gpt4_dataset (Hub) to the pool
    through the same loaders, label alignment and leakage guard as user-supplied files (the offline
    sources stay, switchable by the profile's source list); their rows that match an evaluation
    prompt are removed and counted first (``drop_hub_eval_matches``). Other profiles:
    ``experiments.load_pool`` unchanged (with the user-supplied files, if any)."""
    if cfg.profile != "paper":
        return experiments.load_pool(cfg, arena_path, gpt4_path)
    files = hub_files(cfg)
    pool = experiments.load_pool(cfg, arena_path=files["arena"], gpt4_path=files["gpt4"])
    return drop_hub_eval_matches(pool, experiments.load_evals(cfg), cfg)  # then the notebooks' guard


def notebook_released(evals, cfg, log=print):
    """Notebook 03: RouteLLM's released routers (``paper`` only); returns (runs, status)."""
    if cfg.profile != "paper":
        log(f"released RouteLLM routers: not run in profile {cfg.profile!r} (they need the Hub; profile 'paper')")
        return pd.DataFrame(), pd.DataFrame()
    return score_released(evals, cfg, log=log)


def notebook_final_model(cfg) -> tuple[str, dict]:
    """Notebooks 05 and 07: the final router's name and the run-time settings laid over every entry of
    its class grid (``experiments.run_baselines(..., settings={name: hp})``). ``paper``:
    ``ragrouter_llm`` over Qwen2.5-7B (LoRA) with the DeBERTa-v3-base encoder (the local model
    folders are only known here, at run time); 4-bit QLoRA weights (and with them 8-bit Adam) follow
    the run's CUDA decision (``config.cuda_decision``: CUDA -> on; the dry run on CPU stand-ins -> off;
    no CUDA otherwise -> one-line stop). Other profiles: ``ragrouter``, none."""
    if cfg.profile != "paper":
        return "ragrouter", {}
    cuda = cuda_decision(cfg.profile)
    syntax.use_parser(syntax.parser_for(cfg))  # the thesis's Stanza (one line if it cannot load); dry run: spaCy
    hp = {"llm_path": str(model_path("llm", cfg)), "encoder": register_encoder(cfg), "layer": -1,
          "load_4bit": cuda}
    if standins() is not None:  # dry run: every stage runs, with tiny budgets
        hp.update(DRY_RUN_HP)
    return "ragrouter_llm", hp


# ----------------------------------------------------------------------------- item 7: small real-data row
SMALL_DEFAULTS = dict(n_train=1200, kb_frac=0.7, k=3, prompt_chars=120, max_len=128, n_layers=None, lora_r=8,
                      lora_alpha=16, epochs=1, lr=5e-4, batch_size=8, grad_accum=1, eval_limit=None)


def small_llm_row(pool, evals, cfg, log=print, llm_path=None, **overrides):
    """The thesis's final-model form on real data at CPU scale: SmolLM2-135M + LoRA (``peft``) over
    the textual retrieval-augmented prompt, trained on a seeded pool subsample, scored on the
    evaluation sets with our metrics. Retrieval deviates from RAGRouter's (stated in the row's
    label and docs/PAPER.md): the KB holds MiniLM sentence embeddings of 70% of the subsample
    (FAISS IVF, L2) instead of h_fuse_global, to keep the run within a CPU budget.
    Hyper-parameters are fixed in advance (``SMALL_DEFAULTS``), never tuned on evaluation rows.

    ``llm_path``: another causal LM folder (tests: the tiny stand-in).
    Returns (runs, info): runs like ``experiments.run_baselines`` rows (router ``ragrouter_llm_small``),
    info = sizes, hp, timings (train/score tokens per wall second and per CPU second of this process,
    the latter comparable across machine loads) for the cost extrapolation.
    """
    import torch  # heavy optional package: imported only when this runs

    hp = {**SMALL_DEFAULTS, **overrides}
    seed = int(cfg.data_seed)
    sub = pool.sample(n=min(hp["n_train"], len(pool)), random_state=seed).reset_index(drop=True)
    is_kb = np.random.default_rng(step_seed(seed, "small_llm/kb_split")).random(len(sub)) < hp["kb_frac"]
    kb_rows, fin_rows = sub[is_kb].reset_index(drop=True), sub[~is_kb].reset_index(drop=True)
    emb = lambda texts: encoders.sentence_embeddings(list(texts), progress=False)  # noqa: E731
    kb = KnowledgeBase(emb(kb_rows.prompt), kb_rows.score.to_numpy(), seed=step_seed(seed, "small_llm/kb"))
    kb.nprobe = kb.nlist  # exact search over a small KB

    def prompts(texts):
        _, idx = kb.search(emb(texts), hp["k"])
        return [L.augmented_prompt(t, [(kb_rows.prompt[j], kb_rows.score[j]) for j in row], hp["prompt_chars"])
                for t, row in zip(texts, idx)]
    seed_step(seed, "small_llm/init")
    tok, backbone = L.load_backbone(llm_path or models.smollm2_path(), load_4bit=False, lora_r=hp["lora_r"],
                                    lora_alpha=hp["lora_alpha"], n_layers=hp["n_layers"], dtype=torch.float32)
    scorer = L.LLMScorer(backbone, L.hidden_size(backbone))
    t0, c0 = time.time(), time.process_time()
    hist = L.train_scorer(scorer, tok, prompts(list(fin_rows.prompt)), fin_rows.score.to_numpy() - 1, hp["epochs"],
                          hp["lr"], hp["batch_size"], hp["grad_accum"], hp["max_len"], seed, log=log)
    train_s, train_cpu = time.time() - t0, time.process_time() - c0
    train_tok = hist[-1]["tokens_per_s"] * hist[-1]["seconds"]
    runs, score_tok, score_s, score_cpu = [], 0, 0.0, 0.0
    for bench, ev in evals.items():
        if hp["eval_limit"] and hp["eval_limit"] < len(ev):
            ev = ev.sample(n=hp["eval_limit"], random_state=seed).sort_index()
        if ev.weak_correct.mean() == ev.strong_correct.mean():
            raise ValueError(f"{bench}: eval_limit={hp['eval_limit']} leaves equal weak and strong accuracy "
                             "(APGR undefined); use a larger subsample or the full set")
        texts = prompts(list(ev.prompt))
        t1, c1 = time.time(), time.process_time()
        s = L.score_texts(scorer, tok, texts, hp["max_len"])
        dt = time.time() - t1
        score_s, score_cpu = score_s + dt, score_cpu + time.process_time() - c1
        score_tok += sum(min(len(x), hp["max_len"]) for x in tok(texts)["input_ids"])
        m, _ = router_runs.evaluate_scores(s, ev, seed=seed)
        runs.append({"router": "ragrouter_llm_small", "seed": seed, "benchmark": bench, **m, "n_eval": len(ev),
                     "score_seconds": dt, "fit_seconds": train_s, "hp": json.dumps(hp)})
        log(f"ragrouter_llm_small {bench}: apgr={m['apgr']:.3f} on {len(ev)} prompts ({dt:.0f}s)")
    info = {"train_rows": len(fin_rows), "kb_rows": len(kb_rows), "train_seconds": train_s,
            "train_tokens_per_s": hist[-1]["tokens_per_s"], "score_seconds": score_s,
            "score_tokens_per_s": score_tok / max(score_s, 1e-9), "train_tokens": train_tok, "score_tokens": score_tok,
            "train_tokens_per_cpu_s": train_tok / max(train_cpu, 1e-9),
            "score_tokens_per_cpu_s": score_tok / max(score_cpu, 1e-9), "hp": hp,
            "label": f"RAGRouter-LLM form (SmolLM2-135M + LoRA, {len(fin_rows)} train rows, MiniLM retrieval; CPU scale)"}
    return pd.DataFrame(runs), info


RUN_COLUMNS = ["router", "seed", "benchmark", "cpt50", "cpt80", "apgr", "n_eval", "score_seconds", "fit_seconds", "hp"]


def notebook_small_llm(pool, evals, cfg, log=print) -> tuple[pd.DataFrame, dict]:
    """Notebook 05: ``small_llm_row`` with the profile's ``small_llm`` settings (offline, smoke), cached
    like a trained router: the key holds the settings, the seed, the pool's and the evaluation rows'
    digests, the SmolLM2 folder (named by its weights' digest) and the code closure of this module.
    Profiles without settings (``paper``: the full-scale form runs instead) get an empty table."""
    over = cfg.params.get("small_llm")
    if not over:
        log(f"small real-data LLM row: not run in profile {cfg.profile!r} (it runs the full-scale final model)")
        return pd.DataFrame(columns=RUN_COLUMNS), {}
    inputs = {"pool": cache.digest_frame(pool, ["prompt", "score", "source"]),
              **{b: cache.digest_frame(ev, ["prompt", "weak_correct", "strong_correct"]) for b, ev in evals.items()}}
    k = cache.key("small_llm_row", {"hp": {**SMALL_DEFAULTS, **over}, "data_seed": int(cfg.data_seed),
                                    "llm": models.smollm2_path().name}, inputs, modules=[__name__])
    (runs, info), hit = cache.memo_pickle(cache.path("routers", f"small-llm-{k}.pkl"),
                                          lambda: small_llm_row(pool, evals, cfg, log=log, **over))
    log(f"small real-data LLM row: {'from cache' if hit else 'trained and scored'} (key {k})")
    return runs[RUN_COLUMNS], info


HUB_MATCHES = "02_hub_eval_matches_removed"  # result table: Hub rows removed per source (paper)
HUB_PANELS = ("arena", "gpt4_dataset")  # the pool panels of the Hub sources (pool_labels.build_pool)


def drop_hub_eval_matches(pool, evals, cfg, threshold: float = 0.95, log=print):
    """``paper``: remove the Hub sources' rows (Arena 55k, gpt4_dataset) that match an MMLU/GSM8K
    evaluation prompt by the leakage guard's rule (exact after ``leakage.normalize``, or MiniLM cosine
    >= ``threshold``, the embeddings ``experiments.check_leakage`` uses), as RouteLLM removes its
    contaminated prompts. Logs the count per source, saves it (``HUB_MATCHES``; also
    ``pool.attrs["hub_eval_matches"]``) and returns the remaining pool; the guard runs afterwards
    and still stops on anything left (e.g. in an offline source)."""
    on = pool.panel.isin(HUB_PANELS).to_numpy()  # only the Hub rows are candidates (embedded here)
    emb = encoders.sentence_embeddings(pool.prompt[on], progress=False)
    eemb = {b: encoders.sentence_embeddings(ev.prompt, progress=False) for b, ev in evals.items()}
    hub_kept, counts = leakage.drop_eval_matches(pool[on], {b: list(ev.prompt) for b, ev in evals.items()}, emb,
                                                 eemb, panels=HUB_PANELS, threshold=threshold)
    kept = pool[~on | pool.index.isin(hub_kept.index)]
    for r in counts.to_dict("records"):
        log(f"{r['panel']}: {r['removed']} of {r['rows']} rows match an evaluation prompt and are removed "
            f"({r['exact']} exact, {r['near-duplicate only']} near-duplicate only)")
    if hasattr(cfg, "path"):
        router_runs.save_tables(cfg, **{HUB_MATCHES: counts})
    kept.attrs = {**pool.attrs, "hub_eval_matches": counts.to_dict("records")}
    return kept


def score_released(evals: dict, cfg, names=("sw_ranking", "mf", "bert", "causal_llm"), log=print, embed="auto"):
    """Score every released router on every benchmark with our metrics.

    Returns (runs, status): ``runs`` has one row per router x benchmark (router key
    ``released_<name>``, seed = cfg.data_seed, CPT50/CPT80/APGR, seconds); ``status`` one row per router:
    ``ran``; ``missing`` with the reason (cannot run here: no OpenAI key, no CUDA, no Hub); or
    ``failed`` naming the error it raised (its runs are left out; the next router goes on).
    ``embed``: the query-embedding function of MF and SW Ranking (None: OpenAI's, as RouteLLM;
    "auto": ``released.default_embed``, which is the local stand-in in the dry run, else None).
    """
    embed = released.default_embed() if embed == "auto" else embed
    runs, status = [], []
    for name in names:
        t0, rows, bench = time.time(), [], None
        try:
            r = released.ReleasedRouter(name, cfg.profile, embed=embed)
            for bench, ev in evals.items():
                t1 = time.time()
                scores = r.score(list(ev.prompt))
                m, _ = router_runs.evaluate_scores(scores, ev, seed=cfg.data_seed)
                rows.append({"router": f"released_{name}", "seed": cfg.data_seed, "benchmark": bench, **m,
                             "score_seconds": time.time() - t1})
            runs += rows
            status.append({"router": f"released_{name}", "status": "ran", "reason": "",
                           "seconds": round(time.time() - t0, 1)})
        except released.ReleasedUnavailable as e:
            status.append({"router": f"released_{name}", "status": "missing", "reason": str(e), "seconds": 0.0})
        except Exception as e:  # noqa: BLE001  one router's runtime error: its row fails, the others go on
            where = f" (scoring {bench})" if bench else " (loading)"
            status.append({"router": f"released_{name}", "status": "failed",
                           "reason": f"{type(e).__name__}{where}: {str(e).splitlines()[0] if str(e) else ''}",
                           "seconds": round(time.time() - t0, 1)})
        log(f"released {name}: {status[-1]['status']} {status[-1]['reason']}")
    return pd.DataFrame(runs), pd.DataFrame(status)
