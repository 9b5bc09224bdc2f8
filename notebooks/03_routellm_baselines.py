# ---
# jupyter:
#   kernelspec:
#     display_name: RAGRouter (.venv)
#     language: python
#     name: ragrouter
# ---

# %% [markdown]
# # 03 · The RouteLLM routers as baselines, trained on the offline pool
#
# RouteLLM's SW ranking, Matrix Factorization, BERT classifier and Causal-LLM classifier, plus Random, each
# trained here on the pool of notebook 02 (RouteLLM's released checkpoints need the Hugging Face Hub: the
# `paper` profile scores them, below). Every router gets the same data, the same selection protocol and budget
# (`ragrouter_lib/routers/selection.py`: at most the same number of configurations per router, chosen on seed 0's
# **source-grouped folds** — whole sources held out, within-source ROC-AUC weighted by rows — epochs from the
# fold fits), then each seed's final router is retrained on all pool rows, and the same evaluation code.
# The seeds are the profile's `router_seeds`.
#
# **Deviations** (details in `ragrouter_lib/routers/routellm_baselines.py`): MiniLM-L6 embeddings instead of
# OpenAI's `text-embedding-3-small` (SW ranking, MF); BERT = MiniLM-L6 with its top layer + classifier fine-tuned
# (full BERT-base fine-tuning does not fit the CPU budget); Causal LLM = a trained 5-class head on SmolLM2-135M's
# hidden state after 16 of 30 layers (prompt capped at 48 tokens), instead of a fine-tuned Llama-3-8B.
# Extra rows below the rule: vLLM semantic-router selectors (KNN, KMeans, SVM), a logistic-regression reference
# and the token-length rule (no training), and the `… (aligned)` rows: each trainable baseline retrained with the
# label-alignment step (our extension), so the reader sees how much of any gain is the alignment.

# %% tags=["parameters"]
# parameters (papermill overrides these)
profile = "offline"
data_seed = 0  # pool / evaluation subsamples and notebook 04's split (trained routers: cfg.router_seeds)
out_dir = "outputs"
overrides = {}  # e.g. {"k": 20, "augment": False, "router_seeds": [0]}: rr.setup overrides (README)

# %%
import ragrouter_lib as rr
cfg = rr.setup(profile, data_seed, out_dir, **overrides)

# %%
rr.training.set_verbose(True)  # one line per training epoch: loss, validation criterion, seconds
pool = rr.paper.notebook_pool(cfg)
evals = rr.experiments.load_evals(cfg)
rr.experiments.check_leakage(pool, evals).round(3)

# %% [markdown]
# ## Shared features, computed once
# MiniLM token states (layer 5; their mean-pooled top layer gives the sentence embeddings) and SmolLM2 hidden states for the pool and both benchmarks; cached per text by content hash. The pool's SmolLM2 pass also gives the perplexities notebook 04 needs. The cost of each pass is printed (prompts/s).
#
# SmolLM2 passes are the expensive ones. When committed derived data is present (`data/derived`, with a manifest;
# `ragrouter_lib/features/encoders.py`) and its parameters, model weights and code match, the SmolLM2 states are read from it
# instead of computed, so the printed cost of those passes is then a read, not a computation. The from-scratch
# cost of every pass is measured below ("Cost on this CPU", cache bypassed).

# %%
rr.experiments.precompute_features(pool, evals)

# %% [markdown]
# ## Training and scoring every router
# One log line per router and seed: the chosen configuration, its grouped criterion and the APGR on each benchmark.
# Rows `… (aligned)` are the same routers retrained with the label-alignment step (our extension,
# `ragrouter_lib/labels/alignment.py`: per-source rebalancing or source fixed effects), the variant chosen by the grouped
# criterion, never by the evaluation sets.

# %%
res = rr.experiments.run_baselines(pool, evals, cfg)

# %% [markdown]
# ### Model selection: source-grouped folds
# Per held-out source, the within-source ROC-AUC of each router's chosen setting; the last row is the criterion
# (the mean over held-out sources, weighted by rows). Chosen on seed 0's folds; evaluation rows never enter. The
# random 15 % split chooses nothing.

# %%
per_source = rr.selection.per_source_table(res.selections)
per_source.round(3)

# %% [markdown]
# Every fold fit: configuration, fold, within-source AUC, best epoch, seconds, whether it came from the cache.

# %%
res.tuning.drop(columns="history").round(3)

# %% [markdown]
# ### Training curves

# %%
hist = rr.experiments.histories(res.fitted, res.selections)  # final fits (loss) + the chosen setting's fold fits (validation)
rr.plots.save(rr.plots.training_curves(hist, "validation AUC / training loss"), cfg.path("figures", "03_training_curves.png"))

# %% [markdown]
# ### Cost on this CPU
# Training wall time (mean over seeds, cached runs show their original time) and scoring throughput with the shared features already computed.

# %%
rr.experiments.cost_table(res.runs, res.tuning)

# %% [markdown]
# A new prompt also pays its feature pass; measured cold (cache bypassed) on 128 MMLU prompts:

# %%
rr.costs.feature_cost(evals["mmlu"].prompt, n=cfg.size("feature_cost"))

# %% [markdown]
# ## Interim tables: CPT(50%), CPT(80%), APGR (mean ± sd over seeds)
# Thesis rows first; `extra=True` rows are not part of the thesis's comparison.

# %%
names, extra = rr.routers.THESIS_NAMES, rr.routers.EXTRA_NAMES
tables = {b: rr.experiments.baseline_tables(res.runs, b, names, extra) for b in evals}
tables["mmlu"].round(3)

# %%
tables["gsm8k"].round(3)

# %% [markdown]
# ### Beside RouteLLM's published numbers (Arena + augmentation training) and the thesis's

# %%
rr.experiments.beside_published(tables["mmlu"], "mmlu").round(3)

# %%
rr.experiments.beside_published(tables["gsm8k"], "gsm8k").round(3)

# %% [markdown]
# ### Routing curves (seed 0) and PGR

# %%
import matplotlib.pyplot as plt
fig, axes = plt.subplots(2, 2, figsize=(13, 9))
for j, (bench, ev) in enumerate(evals.items()):
    for i, pgr in enumerate((False, True)):
        rr.plots.routing_curves(res.curves[bench], *rr.router_runs.accuracies(ev), f"{bench.upper()}", axes[i, j], pgr)
rr.plots.save(fig, cfg.path("figures", "03_baseline_curves.png"))

# %% [markdown]
# ## Reading the log
# Each row minus Random, then minus the logistic-regression reference on the same embeddings (a trained router far
# under this simple reference would be under-trained), per metric: difference, 95 % seed-aware paired interval and
# the word of the rule printed below (`rr.bootstrap.RULE`), from the scores saved above; no word from point values.

# %%
print(rr.bootstrap.RULE)
rr.experiments.reference_verdicts(cfg.out, evals, "random")

# %%
rr.experiments.reference_verdicts(cfg.out, evals, "logreg")

# %% [markdown]
# ## RouteLLM's released routers (`paper` profile only)
# Scored by the same evaluation code; a router that cannot run here (no Hub, no OpenAI key, no CUDA) is listed
# as missing with its reason.

# %%
rel_runs, rel_status = rr.paper.notebook_released(evals, cfg)
rel_status

# %% [markdown]
# Their rows (they enter Tables 1-2 in notebook 06) beside RouteLLM's published numbers for the same training
# data, D_arena + D_judge (published for GSM8K only; a router that is missing or failed has no row):

# %%
{b: rr.experiments.released_beside_published(rr.experiments.comparison_table(rel_runs, b), b).round(3)
 for b in evals} if len(rel_runs) else "no released router ran in this profile"

# %%
rr.router_runs.save_tables(cfg, **{"03_baselines_mmlu": tables["mmlu"], "03_baselines_gsm8k": tables["gsm8k"],
                                    rr.results.BASELINE_RUNS: res.runs, "03_tuning": res.tuning.drop(columns="history"), "03_training_curves": hist,
                                    "03_per_source_auc": per_source.reset_index(), "03_per_source_folds": res.per_source,
                                    "03_released_runs": rel_runs, "03_released_status": rel_status,
                                    rr.results.BASELINE_CURVES: rr.experiments.curves_frame(res.curves)})

# %% [markdown]
# ## 中文结论
# 下面的单元格调用 `rr.zh.conclusion_zh`，读取本 notebook 保存的结果表，生成中文结论：主要数字、按配对区间得到的判定、这些结果对论文主张意味着什么，以及本 notebook 涉及的与论文的差异。

# %%
from IPython.display import Markdown
Markdown(rr.zh.conclusion_zh(3, cfg.out))
