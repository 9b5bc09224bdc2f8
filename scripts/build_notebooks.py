"""Write notebooks/NN_*.ipynb from the cell lists below (the notebooks' source of truth).

python scripts/build_notebooks.py   # then commit notebooks/ ; run_all.sh executes them
Cells are short by design: every piece of logic is a call into ragrouter_lib.
A cell string starting with "md:" is markdown; the cell starting with "# parameters" is tagged
`parameters` for papermill.
"""
import pathlib

import nbformat

NB_DIR = pathlib.Path(__file__).resolve().parents[1] / "notebooks"
PARAMS = '# parameters (papermill overrides these)\nprofile = "offline"\nseed = 0\nout_dir = "outputs"'
POOL_PARAMS = PARAMS + '\narena_path = None  # Chatbot Arena 55k train.csv, if you have it\ngpt4_path = None  # RouteLLM gpt4_dataset (csv/jsonl/parquet), if you have it'
SETUP = "import ragrouter_lib as rr\ncfg = rr.setup(profile, seed, out_dir)"

NOTEBOOKS = {
    "01_routellm_evaluation.ipynb": [
        """md:# 01 · RouteLLM's evaluation protocol, reproduced with the Random and Oracle routers

This is the first experiment log of the series. It loads RouteLLM's own evaluation files (MMLU and
GSM8K; strong model = gpt-4-1106-preview, weak model = Mixtral-8x7B-Instruct), drops the rows RouteLLM
marks as contaminated, and checks our re-implementation of the metrics on the one router whose numbers
are known in advance: **Random** (CPT(50%) ≈ 50%, CPT(80%) ≈ 80%, APGR ≈ 0.50). Every later table is
computed by the same code (`ragrouter_lib.metrics`, `ragrouter_lib.experiments`).

**Protocol** (RouteLLM, Ong et al. 2024): strong-win scores are cut into 10 quantile bins; at each of the
11 edges a prompt goes to the strong model when its score is ≥ the edge (> at the last edge), giving
(percent strong calls, accuracy) points from 100% to 0%. With weak accuracy *w* and strong accuracy *s*:
CPT(x%) is the percent of strong calls needed to reach *w + x(s − w)* (linear interpolation on the curve),
and APGR = (AUC − *w*)/(*s* − *w*), AUC the trapezoid area of accuracy over the strong-call fraction.
Ties are broken by a seeded permutation. Random routing averages 10 seeded runs per point; the spread is
over 5 such seeds (3 in the smoke profile).""",
        PARAMS,
        SETUP,
        "md:## Evaluation rows, decontaminated\nExpected (RouteLLM): MMLU 14,037 of 14,042 rows, weak 68.09%, strong 80.59%; GSM8K 1,307 of 1,319, 63.73% / 85.77%.",
        'evals = {b: rr.data.load_eval(b, limit=cfg.eval_limit, seed=cfg.seed) for b in ("mmlu", "gsm8k")}\nrr.experiments.eval_summary(evals)',
        "rr.experiments.check_eval_rows(evals)  # stops the run if counts or accuracies differ",
        "md:## Random and Oracle routers\nOne row per router and benchmark: mean over seeds, with the standard deviation (`*_sd`).",
        "table, per_seed, curves = rr.experiments.random_and_oracle(evals, cfg.seeds, cfg.n_random_runs)\ntable.round(3)",
        "md:Random, seed by seed (each value is itself the curve averaged over 10 seeded runs):",
        'per_seed.pivot(index="seed", columns="benchmark", values=["cpt50", "cpt80", "apgr"]).round(3)',
        "md:## Routing curves in RouteLLM's style",
        """import matplotlib.pyplot as plt
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
for ax, (bench, ev) in zip(axes, evals.items()):
    rr.plots.routing_curves(curves[bench], *rr.experiments.accuracies(ev), title=bench.upper(), ax=ax)
rr.plots.save(fig, cfg.path("figures", "01_random_oracle_curves.png"))""",
        "md:## Beside RouteLLM's published Random rows",
        """published = rr.data.load_reference("routellm_paper_tables").query("router == 'Random'")
ours = table.query("model == 'Random'").rename(columns={"model": "router"})
rr.experiments.compare_with_published(ours, published, on=["benchmark", "router"]).round(3)""",
        'rr.experiments.save_tables(cfg, **{"01_random_oracle": table, "01_random_per_seed": per_seed})',
        """md:## Reading the log
- The decontaminated row counts and both models' accuracies match RouteLLM's exactly (the check above stops
  the run otherwise).
- Random lands on CPT(50%) ≈ 50%, CPT(80%) ≈ 80%, APGR ≈ 0.50 on both benchmarks, as RouteLLM reports; the
  seed-to-seed spread is larger on GSM8K (1,307 rows) than on MMLU (14,037 rows).
- The Oracle's APGR exceeds 1: routing only the prompts that the weak model gets wrong and the strong one
  right beats always calling the strong model, because the strong model is also wrong on some prompts the
  weak one answers correctly.""",
    ],
    "02_training_pool.ipynb": [
        """md:# 02 · The offline training pool: weak-quality scores, battles, tiers, split, leakage check

RouteLLM (and the thesis) train on Chatbot Arena battles plus GPT-4-judged `gpt4_dataset` scores; neither
can be fetched here. This notebook builds the pool every router of this project trains on, from every
labelled row available offline, in the two forms the routers consume:

* **weak-quality scores 1–5** for the routed pair (strong = gpt-4-1106-preview, weak = Mixtral-8x7B), in
  `gpt4_dataset` form — 1–3 means the strong model is needed;
* **battles** in Chatbot-Arena form (prompt, model_a, model_b, winner a/b/tie), with model tiers from a
  Bradley–Terry fit, as RouteLLM does for Arena.

**Deviation from the thesis.** The thesis judged answers with a large LLM (DeepSeek-671B / GPT-4); here the
label comes from recorded 0/1 correctness. RouterBench rows carry the pair's own answers; RouterDC rows (7 open
7–8B models, no GPT-4/Mixtral) use the panel's solve rate as a stand-in for the weak model (mapping below, in
`ragrouter_lib/labels.py`). If you have the Arena or `gpt4_dataset` files, pass their paths as parameters.""",
        POOL_PARAMS,
        SETUP,
        "pool = rr.experiments.load_pool(cfg, arena_path, gpt4_path)\npool.groupby([\"panel\", \"source\"]).size().rename(\"rows\").to_frame()",
        """md:## Weak-quality scores
| RouterBench row (the pair's own answers) | score |
|---|---|
| weak right, ≥ half of the other 9 models right | 5 |
| weak right, fewer | 4 |
| weak wrong, strong right | 1 |
| weak wrong, strong wrong, another model right | 2 |
| nobody right | 3 |

RouterDC row: 1 + round(4·p), p = share of the 7 open models right (binarised at 0.5): Mixtral-8x7B is
stronger than each of them, so a prompt that ≥ 5 of 7 solve is taken as one the weak model handles.""",
        'import pandas as pd\npd.crosstab(pool.panel, pool.score, margins=True)',
        'fig = rr.plots.counts({p: g.score for p, g in pool.groupby("panel")}, "weak-quality score by panel", "score")\nrr.plots.save(fig, cfg.path("figures", "02_score_distribution.png"))',
        "md:On RouterBench rows the score agrees with the pair's recorded answers by construction; the share of rows that need the strong model:",
        'pool.groupby("panel")[["strong_needed"]].mean().round(3)',
        "md:## Battles and Bradley–Terry tiers\nEvery pair of a panel's models on a prompt gives one battle (correctness decides, equal = tie); every row also gives one strong-vs-weak battle from its score (≤ 3 strong wins, 4 tie, 5 weak wins), as RouteLLM turned `gpt4_dataset` into battles.",
        'battles = pd.concat([rr.labels.panel_battles(pool), rr.labels.pair_battles(pool)], ignore_index=True)\nbattles.groupby(["model_a", "model_b"]).size().describe().round(1), battles.winner.value_counts()',
        'elo = rr.labels.bradley_terry(battles)\npd.DataFrame({"elo": elo.round(0), "tier": rr.labels.tiers(elo)})',
        "md:## Train / validation split\nSeeded by a hash of the normalised prompt (duplicates stay on one side). Validation is for choosing hyper-parameters and epochs; evaluation rows are never used for either.",
        'part = rr.labels.split(pool, seed=cfg.seed)\npd.crosstab(pool.panel, part, margins=True)',
        """md:## Leakage check
No pool prompt may match an MMLU/GSM8K evaluation prompt: exact match after normalisation (case, accents,
punctuation, spaces) or near-duplicate (MiniLM cosine ≥ 0.95). The call raises `LeakageError` and the run stops
if anything matches; below, the closest pairs it saw.""",
        'evals = rr.experiments.load_evals(cfg)\nclosest = rr.experiments.check_leakage(pool, evals)\nclosest.round(3)',
        'rr.experiments.save_tables(cfg, **{"02_pool_card": pd.crosstab([pool.panel, pool.source], pool.score, margins=True).reset_index(),\n                                    "02_elo_tiers": pd.DataFrame({"model": elo.index, "elo": elo.values, "tier": rr.labels.tiers(elo).values})})',
    ],
    "03_routellm_baselines.ipynb": [
        """md:# 03 · The RouteLLM routers as baselines, trained on the offline pool

RouteLLM's SW ranking, Matrix Factorization, BERT classifier and Causal-LLM classifier, plus Random, each
trained here on the pool of notebook 02 (RouteLLM's released checkpoints need the Hugging Face Hub: the
`paper` profile loads them, see README). Every router gets the same data, the same tuning budget (≤ 4
configurations, chosen on seed 0's validation split by ROC-AUC of its score against "strong model needed",
epochs by early stopping), and the same evaluation code. Three seeds each (seed = pool split + initialisation).

**Deviations** (details in `ragrouter_lib/routers/routellm_baselines.py`): MiniLM-L6 embeddings instead of
OpenAI's `text-embedding-3-small` (SW ranking, MF); BERT = MiniLM-L6 with its top layer + classifier fine-tuned
(full BERT-base fine-tuning does not fit the CPU budget); Causal LLM = a trained 5-class head on SmolLM2-135M's
hidden state after 16 of 30 layers (prompt capped at 48 tokens), instead of a fine-tuned Llama-3-8B.
Extra rows below the rule: vLLM semantic-router selectors (KNN, KMeans, SVM), a logistic-regression reference
and the token-length rule (no training).""",
        PARAMS,
        SETUP,
        "pool = rr.experiments.load_pool(cfg)\nevals = rr.experiments.load_evals(cfg)\nrr.experiments.check_leakage(pool, evals).round(3)",
        "md:## Shared features, computed once\nMiniLM token states (layer 5; their mean-pooled top layer gives the sentence embeddings) and SmolLM2 hidden states for the pool and both benchmarks; cached per text by content hash. The cost of a cold pass is printed (prompts/s).",
        "rr.experiments.precompute_features(pool, evals)",
        "md:## Training and scoring every router\nOne log line per router and seed: the chosen configuration, its validation AUC and the APGR on each benchmark.",
        "res = rr.experiments.run_baselines(pool, evals, cfg)",
        "md:### Tuning (seed 0's validation split only)",
        'res.tuning.round(3)',
        "md:### Training curves",
        'hist = rr.experiments.histories(res.fitted)\nrr.plots.save(rr.plots.training_curves(hist, "validation AUC / training loss"), cfg.path("figures", "03_training_curves.png"))',
        "md:### Cost on this CPU\nTraining wall time (mean over seeds, cached runs show their original time) and scoring throughput with the shared features already computed.",
        "rr.experiments.cost_table(res.runs)",
        "md:A new prompt also pays its feature pass; measured cold (cache bypassed) on 128 MMLU prompts:",
        'rr.experiments.feature_cost(evals["mmlu"].prompt)',
        "md:## Interim tables: CPT(50%), CPT(80%), APGR (mean ± sd over seeds)\nThesis rows first; `extra=True` rows are not part of the thesis's comparison.",
        'names, extra = rr.routers.THESIS_NAMES, rr.routers.EXTRA_NAMES\ntables = {b: rr.experiments.baseline_tables(res.runs, b, names, extra) for b in evals}\ntables["mmlu"].round(3)',
        'tables["gsm8k"].round(3)',
        "md:### Beside RouteLLM's published numbers (Arena + augmentation training) and the thesis's",
        'rr.experiments.beside_published(tables["mmlu"], "mmlu").round(3)',
        'rr.experiments.beside_published(tables["gsm8k"], "gsm8k").round(3)',
        "md:### Routing curves (seed 0) and PGR",
        """import matplotlib.pyplot as plt
fig, axes = plt.subplots(2, 2, figsize=(13, 9))
for j, (bench, ev) in enumerate(evals.items()):
    for i, pgr in enumerate((False, True)):
        rr.plots.routing_curves(res.curves[bench], *rr.experiments.accuracies(ev), f"{bench.upper()}", axes[i, j], pgr)
rr.plots.save(fig, cfg.path("figures", "03_baseline_curves.png"))""",
        "md:## Reading the log\nPrinted from the numbers above, not typed: each router against Random, and against the logistic-regression reference on the same embeddings (MISSION.md: APGR ≈ 0.56 MMLU / 0.55 GSM8K; a trained router clearly below it is under-trained).",
        'for b, t in tables.items():\n    print(b.upper(), *rr.experiments.verdicts(t, "Random"), sep="\\n  ")\n    print(" ", *rr.experiments.verdicts(t, "LogReg on MiniLM (reference)"), sep="\\n  ")',
        'rr.experiments.save_tables(cfg, **{"03_baselines_mmlu": tables["mmlu"], "03_baselines_gsm8k": tables["gsm8k"],\n                                    "03_per_seed": res.runs, "03_tuning": res.tuning, "03_training_curves": hist,\n                                    "03_curves": rr.experiments.curves_frame(res.curves)})',
    ],
    "04_data_pipeline.ipynb": [
        """md:# 04 · RAGRouter's data pipeline: label alignment, multi-source augmentation, dynamic sampling

The training data RAGRouter (notebook 05) and its ablations (Tables 3 and 4) are built from. Every step can
be switched off by a parameter (`augment`, `sample`); the ablation notebooks rebuild the data without it,
everything else equal. Validation rows (for model selection) are never augmented or sampled.

**Deviations from the thesis** (see README): labels come from recorded correctness, not an LLM judge
(notebook 02); augmented rows inherit their source's label (no judge to re-label them); the parser is spaCy
`en_core_web_sm` (Stanza models are not obtainable); the knowledge graph is WordNet 3.0 (Debian) instead of
ConceptNet; perplexity comes from SmolLM2-135M instead of GPT-2-large; the pool is 6,754 rows instead of ~175k.""",
        PARAMS + "\naugment = True  # multi-source data augmentation (Table 3)\nsample = True  # perplexity-based dynamic sampling + label rebalancing (Table 4)\nfactor = 0.3  # new rows per training row, thesis about 0.29\nsize_frac = 0.5  # share of augmented rows added to the sampled size",
        SETUP,
        'pool = rr.experiments.load_pool(cfg)\nevals = rr.experiments.load_evals(cfg)\nprint(f"pool: {len(pool)} rows; evaluation rows:", {b: len(ev) for b, ev in evals.items()})',
        """md:## 1 · Label alignment
Every row carries a 1–5 score of the weak model's answer quality (1–3: route to the strong model, 4–5: the
weak model is good enough) and the binary routing label. The thesis aligned preference data with a
DeepSeek-671B judge; no judge LLM runs offline, so scores come from recorded correctness (notebook 02's
table). Preference rows (Chatbot Arena form), when a user supplies them, are mapped from the winner as below;
`gpt4_dataset` rows keep their `mixtral_score`.""",
        "rr.labels.arena_mapping_table()",
        'import pandas as pd\npd.crosstab(pool.panel, pool.score, margins=True)',
        "md:## 2–3 · Augmentation and sampling for this seed\nOne call builds the training set; the cost of each step (seconds, rows per second) is in the table below it.",
        "td = rr.training_data.prepare(pool, cfg.seed, cfg.path(\"cache\", \"data\"), augment, sample, factor, size_frac)\ntd.cost",
        "rr.training_data.stage_sizes(td)",
        """md:### Augmentation sources
Quality sources: natural-language questions (no code: MBPP, HumanEval and JavaScript rows are skipped),
40–1,500 characters, mostly letters, with a confident label (the pair's own answers on RouterBench rows;
≥ 6 of 7 panel models agreeing on RouterDC rows). Share of each source's training rows that qualify:""",
        'rr.augmentation.source_quality(td.original).groupby(td.original.source).agg(["mean", "sum"]).round(2)',
        "md:### Accepted variants, two per kind\nSyntactic: a prepositional/adverbial phrase or clause moved to the front or back, coordinated noun phrases swapped. Semantic (WordNet): synonym substitution, hypernym gloss (\"X (a kind of Y)\"). Word senses are picked by a restricted Lesk overlap, which still errs at times: the examples are shown unfiltered.",
        'pd.set_option("display.max_colwidth", 200)\nrr.training_data.examples(td) if augment else "augmentation switched off"',
        'td.augmented.groupby(["method", "op"]).size().rename("rows").to_frame() if augment else None',
        "md:### Rejected variants\nThe check re-parses each variant and rejects it when it is identical to its source, has broken punctuation, lost its capital, changed its sentence count, root verb, content words (syntactic) or numbers, or touched the template around the question.",
        '(td.rejected.reason.value_counts().to_frame(), td.rejected.groupby("reason").head(1)[["op", "reason", "variant"]]) if len(td.rejected) else "none"',
        "md:### Leakage check, augmented rows included\nAugmented rows are derived from training rows only; the same check as notebook 02 runs on original + augmented rows.",
        "rr.experiments.check_leakage(td.both, evals).round(3)",
        """md:### Perplexity and difficulty levels
Perplexity of every training query (original + augmented) under SmolLM2-135M, first 48 tokens; quartiles give
difficulty levels 0 (easiest) to 3; sampling weight = level weight (1, 1.25, 1.5, 2) × (source share)^-½.""",
        'rr.plots.save(rr.plots.perplexity_by_level(td.ppl, td.levels, "perplexity by difficulty level"), cfg.path("figures", "04_perplexity_levels.png")) if sample else None',
        'td.both.assign(ppl=td.ppl, level=td.levels).groupby("level").agg(rows=("ppl", "size"), median_ppl=("ppl", "median"), strong_needed=("strong_needed", "mean")).round(3) if sample else None',
        "md:### Label balance and source mix, before and after sampling\nThe sampled set must be larger than the original and smaller than original + augmented, with balanced routing labels.",
        'pd.DataFrame({"before (original + augmented)": td.both.strong_needed.value_counts(), "after sampling": td.train.strong_needed.value_counts()})',
        'pd.DataFrame({"original": td.original.source.value_counts(), "after": td.train.source.value_counts()}).fillna(0).astype(int)',
        'print(f"original {len(td.original)} < sampled {len(td.train)} < original + augmented {len(td.both)}:", len(td.original) < len(td.train) < len(td.both))',
        "md:### Each switch removes exactly its step\nTraining-set size and label balance for the four combinations (the ablation notebooks use these).",
        'grid = rr.training_data.switch_grid(pool, cfg.seed, cfg.path("cache", "data"), factor=factor, size_frac=size_frac)\ngrid',
        'rr.experiments.save_tables(cfg, **{"04_stage_sizes": rr.training_data.stage_sizes(td), "04_step_cost": td.cost, "04_switch_grid": grid,\n                                    "04_rejected": td.rejected, "04_examples": rr.training_data.examples(td, 5)})',
    ],
    "05_ragrouter.ipynb": [
        """md:# 05 · RAGRouter: semantic + syntactic features, cross-modal fusion, FAISS IVF knowledge base, retrieval-augmented final model

The thesis's method, step by step (`ragrouter_lib/routers/ragrouter.py`):
1. **Split** the prepared training data (notebook 04: augmentation + dynamic sampling) ~70% → knowledge base, ~30% →
   final model; the validation split of the pool (never augmented) chooses epochs, `nprobe` and `k`.
2. **H_sem**: contextual word-piece embeddings, MiniLM-L6 (384-d). 3. **H_syn**: spaCy dependency graph, node =
   token with its aligned semantic vector + POS and dependency-label embeddings (never random), two GraphSAGE
   layers (DGL) → 128-d. 4. **Fusion**: multi-head attention, Q = H_sem, K/V = H_syn → 256-d fused tokens → mean
   pool → h_fuse_global; trained end to end on the KB rows with the 5-class score (Adam).
5. **KB**: h_fuse_global + label of every KB row in a FAISS IVF index (L2). 6. **Final model**: top-K neighbours
   and their labels are read by attention from the query; 5-class weak-quality score; strong-win = P(score ≤ 3).

**Deviations** (README): MiniLM instead of DeBERTa-v3-base (cost, measured below); spaCy instead of Stanza; the
final model is a small trained network over the *vector* augmented input instead of a fully fine-tuned Qwen-7B
over the *textual* augmented prompt — the `paper` profile's Qwen + LoRA path is `routers/ragrouter_llm.py`.""",
        PARAMS,
        SETUP,
        "pool = rr.experiments.load_pool(cfg)\nevals = rr.experiments.load_evals(cfg)\nrr.experiments.check_leakage(pool, evals).round(3)",
        "md:## H_sem encoder: measured cost\nMPNet (768-d, the closest DeBERTa-v3-base stand-in offline) against MiniLM (384-d) on the same 64 prompts; the choice is MiniLM: MPNet's cost would not fit the cold-run budget.",
        'rr.experiments.encoder_cost(evals["mmlu"].prompt)',
        "md:## Shared inputs, computed once\nMiniLM token states (shared with the baselines) and spaCy parses of the pool and both benchmarks; the cost of a cold pass is printed.",
        "rr.experiments.precompute_features(pool, evals)\nrr.experiments.precompute_ragrouter_inputs(pool, evals)",
        "md:## Training RAGRouter\nSame protocol as every baseline (notebook 03): per seed the pool is split, the configuration (`k` ∈ {10, 20}) is chosen on seed 0's validation split, epochs by early stopping (extractor: at most 6 epochs, stop one epoch after the last validation improvement; final model: at most 40, patience 8); then both benchmarks are scored. The two `k` configurations share one trained extractor (cached by data, seed, extractor settings and code).",
        'res = rr.experiments.run_baselines(pool, evals, cfg, names=["ragrouter"])\nres.tuning.round(3)',
        "md:### Data at each split (per seed)",
        'import pandas as pd\npd.DataFrame({s: r.data_summary for s, r in res.fitted["ragrouter"].items()}).T',
        "md:### Training curves: the feature extractor (on KB rows) and the final model (on the final-model rows)",
        """hist = rr.experiments.histories(res.fitted)
for stage in ("extractor", "final"):
    rr.plots.save(rr.plots.training_curves(hist[hist.stage == stage], f"RAGRouter {stage}"), cfg.path("figures", f"05_{stage}_curves.png"))""",
        "md:### Validation metrics (pool validation split, ROC-AUC of P(score ≤ 3) against the label)",
        'hist.groupby(["seed", "stage"]).val_auc.max().unstack().round(3)',
        "md:### Knowledge base: FAISS IVF (L2)\nRecall@K against exact search on the validation queries for each `nprobe`; the smallest `nprobe` reaching 0.95 is used.",
        'r0 = res.fitted["ragrouter"][cfg.router_seeds[0]]\nprint(f"KB vectors: {len(r0.kb.vectors)} x {r0.kb.vectors.shape[1]}, nlist={r0.kb.nlist}, nprobe={r0.kb.nprobe}, k={r0.hp[\'k\']}")\nr0.kb_recall.round(4)',
        "md:### Scores on MMLU and GSM8K (interim; Tables 1–2 put them beside the baselines)",
        'rr.experiments.baseline_tables(res.runs, "mmlu", {"ragrouter": "RAGRouter"}, {}).round(3)',
        'rr.experiments.baseline_tables(res.runs, "gsm8k", {"ragrouter": "RAGRouter"}, {}).round(3)',
        "md:## Routing a live query\nLatency on this CPU for 200 single MMLU *validation* questions (never used for training or evaluation), caches bypassed, so every query pays its encoder pass, parse, graph, attention, FAISS search and final model; and throughput for a batch of 256.",
        'lat = rr.experiments.latency(r0, rr.data.load_mmlu_questions("val").question.head(200))\nlat',
        "md:The same command-line scorer as the baselines (`ragrouter-score`), on a few of those questions:",
        """import json, subprocess, sys, tempfile, pathlib
tmp = pathlib.Path(tempfile.mkdtemp())
(tmp / "in.jsonl").write_text("".join(json.dumps({"prompt": q}) + "\\n" for q in rr.data.load_mmlu_questions("val").question.head(5)))
subprocess.run([sys.executable, "-m", "ragrouter_lib.cli", "--router", str(r0.save(tmp / "router")), "--input", str(tmp / "in.jsonl"), "--output", str(tmp / "out.jsonl"), "--strong-fraction", "0.4"], check=True)
pd.read_json(tmp / "out.jsonl", lines=True).assign(prompt=lambda d: d.prompt.str[:60])""",
        'rr.experiments.save_tables(cfg, **{"05_ragrouter_per_seed": res.runs, "05_latency": lat, "05_kb_recall": r0.kb_recall,\n                                    "05_training_curves": hist, "05_tuning": res.tuning, "05_curves": rr.experiments.curves_frame(res.curves)})',
    ],
    "06_tables_1_2.ipynb": [
        """md:# 06 · Tables 1 and 2: RAGRouter against the RouteLLM routers on MMLU and GSM8K

Assembled from the runs that notebooks 03 (baselines) and 05 (RAGRouter) executed and logged — nothing is
re-trained or re-tuned here. Each number is the mean over the same three seeds with its standard deviation.
Rows below the thesis's routers are extra (semantic-router selectors, references) and marked `extra=True`.""",
        PARAMS,
        SETUP,
        'import pandas as pd\nruns = pd.concat([pd.read_csv(cfg.path("results", f)) for f in ("03_per_seed.csv", "05_ragrouter_per_seed.csv")], ignore_index=True)\nruns.groupby(["router", "benchmark"]).seed.apply(sorted).unstack()',
        "md:## Table 1 — MMLU",
        't1 = rr.experiments.comparison_table(runs, "mmlu")\nt1.round(3)',
        "md:Beside the thesis's Table 1 (differences = ours − thesis):",
        "rr.experiments.versus_thesis(t1, 1).round(3)",
        "md:Does the customer's expectation hold (RAGRouter: lower CPT(50%)+CPT(80%) and higher APGR than each baseline)?",
        'rr.experiments.expectation(t1)',
        "md:## Table 2 — GSM8K",
        't2 = rr.experiments.comparison_table(runs, "gsm8k")\nt2.round(3)',
        "rr.experiments.versus_thesis(t2, 2).round(3)",
        'rr.experiments.expectation(t2)',
        "md:## Routing and PGR curves (seed 0)",
        'evals = rr.experiments.load_evals(cfg)\ncf = pd.concat([pd.read_csv(cfg.path("results", f)) for f in ("03_curves.csv", "05_curves.csv")], ignore_index=True)\nrr.experiments.plot_curves_from_frame(cf, evals, cfg.path("figures", "06_tables_1_2_curves.png"))',
        """md:## Where the expectation fails, a first look
The validation AUC (pool validation split, the only signal used for model selection) against the APGR on the
evaluation sets shows whether a router that ranks the *pool* well also ranks MMLU/GSM8K well: the pool
(ARC, Winogrande, MBPP, GSM8K-train, MATH, HumanEval) differs from MMLU in subject mix and from both in how its
labels were made (notebook 02), so a gap between the two columns is distribution shift, not tuning.""",
        'runs.groupby(["router", "benchmark"])[["val_auc", "apgr"]].mean().unstack().round(3)',
        'rr.experiments.save_tables(cfg, table1=t1, table2=t2)',
    ],
    "07_ablations_tables_3_6.ipynb": [
        """md:# 07 · Tables 3–6: what each part of RAGRouter is worth (MMLU)

The thesis's four ablations, one part switched off at a time (`ragrouter_lib/ablations.py`):

| Table | switched off | switch | what the variant is trained from |
|---|---|---|---|
| 3 | multi-source data augmentation | `augment=False` | the original training rows, sampled by perplexity as before |
| 4 | data sampling | `sample=False` | original + augmented rows as they are |
| 5 | semantic-syntactic feature extraction | `features="semantic"` | same data; the fusion attention reads the MiniLM tokens instead of the GraphSAGE nodes |
| 6 | RAG vector knowledge base | `rag="off"` | same data and extractor; the final model sees the query vector alone |

Everything else equal: the configuration chosen for the full model in notebook 05 (no re-tuning per variant —
the thesis does not say it re-tuned, so a difference here is the switch's alone), the same seeds, pool splits,
validation rows and early stopping. The "with" row of every table is notebook 05's full model, the same runs as
Table 1. Only MMLU, as in the thesis.""",
        PARAMS,
        SETUP,
        'import pandas as pd\npool = rr.experiments.load_pool(cfg)\nevals = rr.experiments.load_evals(cfg)\nrr.experiments.check_leakage(pool, evals).round(3)',
        'full = pd.read_csv(cfg.path("results", "05_ragrouter_per_seed.csv")).assign(model="full model")\nprint("full model (notebook 05):", rr.ablations.chosen_config(full), "seeds", sorted(full.seed.unique()))\nfull[full.benchmark == "mmlu"][["seed", "cpt50", "cpt80", "apgr", "val_auc"]].round(3)',
        "md:## Training the four variants (every seed)",
        'abl = rr.ablations.run(pool, {"mmlu": evals["mmlu"]}, cfg, full)\nabl.runs[["table", "model", "seed", "cpt50", "cpt80", "apgr", "val_auc", "fit_seconds"]].round(3)',
        "md:Training curves of the variants (the \"without RAG\" variant reuses the full model's extractor, so its extractor curve is the full model's):",
        """hist = rr.experiments.histories(abl.fitted)  # column "router" = the variant
for stage in ("extractor", "final"):
    rr.plots.save(rr.plots.training_curves(hist[hist.stage == stage], f"ablations: {stage}"), cfg.path("figures", f"07_{stage}_curves.png"))""",
        "md:## The four tables beside the thesis\nEach table: the variant without the part, then the full model (mean ± sd over the same seeds); below it the thesis's numbers and the differences (ours − thesis), and the verdict with the per-seed paired difference (same split, so seed-to-seed noise of the split cancels).",
        'tabs = {t: rr.ablations.table(full, abl.runs, t) for t in rr.ablations.ABLATIONS}\ndiffs = pd.concat([rr.ablations.paired(full, abl.runs, t) for t in tabs], ignore_index=True)\nfor t, tab in tabs.items():\n    print(f"Table {t}:", rr.ablations.verdict(tab, diffs[diffs.table == t]))',
        "md:### Table 3 — multi-source data augmentation",
        "display(tabs[3].round(3))\nrr.ablations.versus_thesis(tabs[3], 3).round(3)",
        "md:### Table 4 — data sampling",
        "display(tabs[4].round(3))\nrr.ablations.versus_thesis(tabs[4], 4).round(3)",
        "md:### Table 5 — semantic-syntactic feature extraction",
        "display(tabs[5].round(3))\nrr.ablations.versus_thesis(tabs[5], 5).round(3)",
        "md:### Table 6 — the RAG vector knowledge base",
        "display(tabs[6].round(3))\nrr.ablations.versus_thesis(tabs[6], 6).round(3)",
        "md:Per-seed paired differences (with − without; positive APGR and negative CPT mean the part helps):",
        "diffs.round(3)",
        "md:## Figures: APGR per variant and seed; routing curves (seed 0)",
        """per_seed = pd.concat([full[full.benchmark == "mmlu"].assign(model="full model (with every part)"), abl.runs[abl.runs.benchmark == "mmlu"]])
order = ["full model (with every part)", *[a.without for a in rr.ablations.ABLATIONS.values()]]
rr.plots.save(rr.plots.ablation_points(per_seed, order, title="MMLU: RAGRouter with one part switched off"), cfg.path("figures", "07_ablations_apgr.png"))""",
        """cf = pd.read_csv(cfg.path("results", "05_curves.csv")).query("benchmark == 'mmlu' and router == 'ragrouter'").assign(router="full model")
cf = pd.concat([cf, *[c.assign(benchmark="mmlu", router=m) for m, by in abl.curves.items() for c in [by["mmlu"]]]], ignore_index=True)
rr.experiments.plot_curves_from_frame(cf, {"mmlu": evals["mmlu"]}, cfg.path("figures", "07_ablations_curves.png"))""",
        """md:## Why a part helps or does not: a first look
Per variant: the training data it had (mean over seeds), its best validation AUC on the pool's validation split
(the only signal used for model selection) and its MMLU APGR. A part whose removal changes validation AUC but
not MMLU APGR points at the shift between the training pool and MMLU rather than at the part itself.""",
        'fits = rr.ablations.full_models(pool, cfg, full)\nrr.ablations.diagnostics(full, abl.runs, fits, abl.fitted)',
        """md:How much routing signal does the knowledge base carry on MMLU by itself? The retrieved neighbours' labels
alone (distance-weighted share of "strong needed", seed 0's full model) used as a router, beside the full model:""",
        """vote = rr.ablations.neighbour_vote(fits[cfg.router_seeds[0]], evals["mmlu"].prompt)
m, _ = rr.experiments.evaluate_scores(vote, evals["mmlu"], cfg.router_seeds[0])
pd.DataFrame([{"router": "KB neighbour vote alone", **m}, {"router": "full model (seed 0)", **full.query("benchmark == 'mmlu' and seed == @cfg.router_seeds[0]")[["cpt50", "cpt80", "apgr"]].iloc[0].to_dict()}]).round(3)""",
        'rr.experiments.save_tables(cfg, **{f"table{t}": tab for t, tab in tabs.items()}, **{"07_ablation_per_seed": abl.runs, "07_paired_differences": diffs, "07_training_curves": hist})',
    ],
}


def build(name, cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "ragrouter", "display_name": "RAGRouter (.venv)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for src in cells:
        if src.startswith("md:"):
            nb.cells.append(nbformat.v4.new_markdown_cell(src[3:]))
        else:
            cell = nbformat.v4.new_code_cell(src)
            if src.startswith("# parameters"):
                cell.metadata["tags"] = ["parameters"]
            nb.cells.append(cell)
    for i, cell in enumerate(nb.cells):
        cell.id = f"{name[:2]}-{i:02d}"
    nbformat.write(nb, NB_DIR / name)


if __name__ == "__main__":
    NB_DIR.mkdir(exist_ok=True)
    for name, cells in NOTEBOOKS.items():
        build(name, cells)
        print("wrote", NB_DIR / name)
