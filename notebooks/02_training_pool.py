# ---
# jupyter:
#   kernelspec:
#     display_name: RAGRouter (.venv)
#     language: python
#     name: ragrouter
# ---

# %% [markdown]
# # 02 · The offline training pool: weak-quality scores, battles, tiers, split, leakage check
#
# RouteLLM (and the thesis) train on Chatbot Arena battles plus GPT-4-judged `gpt4_dataset` scores; neither
# can be fetched here. This notebook builds the pool every router of this project trains on, from the labelled
# rows available offline (which sources are on is chosen below), in the two forms the routers consume:
#
# * **weak-quality scores 1–5** for the routed pair (strong = gpt-4-1106-preview, weak = Mixtral-8x7B), in
#   `gpt4_dataset` form — 1–3 means the strong model is needed;
# * **battles** in Chatbot-Arena form (prompt, model_a, model_b, winner a/b/tie), with model tiers from a
#   Bradley–Terry fit, as RouteLLM does for Arena.
#
# **Deviation from the thesis.** The thesis judged answers with a large LLM (DeepSeek-671B / GPT-4); here the
# label comes from recorded 0/1 correctness. RouterBench rows carry the pair's own answers; RouterDC rows (7 open
# 7–8B models, no GPT-4/Mixtral) use the panel's solve rate as a stand-in for the weak model (mapping below, in
# `ragrouter_lib/labels/pool_labels.py`). If you have the Arena or `gpt4_dataset` files, pass their paths as parameters.

# %% tags=["parameters"]
# parameters (papermill overrides these)
profile = "offline"
data_seed = 0  # pool / evaluation subsamples and notebook 04's split (trained routers: cfg.router_seeds)
out_dir = "outputs"
overrides = {}  # e.g. {"k": 20, "augment": False, "router_seeds": [0]}: rr.setup overrides (README)
arena_path = None  # Chatbot Arena 55k train.csv, if you have it
gpt4_path = None  # RouteLLM gpt4_dataset (csv/jsonl/parquet), if you have it

# %%
import ragrouter_lib as rr
cfg = rr.setup(profile, data_seed, out_dir, **overrides)

# %%
import pandas as pd
pool = rr.paper.notebook_pool(cfg, arena_path, gpt4_path)  # paper: + Arena 55k and gpt4_dataset from the Hub
print("sources on:", pool.attrs["sources"], "| both-fail policy:", pool.attrs["both_fail"])
pool.groupby(["panel", "source"]).size().rename("rows").to_frame()

# %% [markdown]
# ## Pool v2 · the question, not a shared few-shot preamble
# Each source's shared preamble is detected from the data (`rr.text.detect_preamble`: the longest prefix shared
# verbatim by at least half of a source's rows, cut at its last blank line, removed when ≥ 200 characters) and the
# pool's `prompt` is the question with its options. Every encoder, parse, perplexity and KB entry sees that text; a
# prompt longer than an encoder's window keeps its head and its tail (`rr.text.truncate_ids`: the question and its
# options come last). Below, every offline source, including the two switchable exact-pair sources (AlpacaEval 2,
# MMLU-Pro) that are off by default (see the option chooser). Characters of preamble removed per source:

# %%
full = rr.sources.per_source_sample(rr.pool_labels.build_pool(sources=list(rr.pool_labels.SOURCES)), cfg.pool_limit, cfg.data_seed)
pd.Series({s: len(p) for s, p in full.attrs["preambles"].items()}, name="preamble characters removed")

# %% [markdown]
# Distinct MiniLM (128-token) encoder inputs per source, before and after:

# %%
rr.sources.distinct_inputs(full)

# %% [markdown]
# ## Weak-quality scores
# Scores before the both-fail policy (below) relabels rows where weak and strong model are both wrong.
#
# | RouterBench row (the pair's own answers) | score |
# |---|---|
# | weak right, ≥ half of the other 9 models right | 5 |
# | weak right, fewer | 4 |
# | weak wrong, strong right | 1 |
# | weak wrong, strong wrong, another model right | 2 |
# | nobody right | 3 |
#
# RouterDC row: 1 + round(4·p), p = share of the 7 open models right (binarised at 0.5): Mixtral-8x7B is
# stronger than each of them, so a prompt that ≥ 5 of 7 solve is taken as one the weak model handles.

# %% [markdown]
# One "strong needed" meaning for every exact-pair source (`rr.pool_labels.PAIR_SEMANTICS`); rows where both models
# fail follow the pool's both-fail policy (printed above; chosen below):

# %%
rr.pool_labels.PAIR_SEMANTICS

# %%
pd.crosstab(pool.panel, pool.score, margins=True)

# %%
fig = rr.plots.counts({p: g.score for p, g in pool.groupby("panel")}, "weak-quality score by panel", "score")
rr.plots.save(fig, cfg.path("figures", "02_score_distribution.png"))

# %% [markdown]
# On RouterBench rows the score agrees with the pair's recorded answers by construction; the share of rows that need the strong model:

# %%
pool.groupby("panel")[["strong_needed"]].mean().round(3)

# %% [markdown]
# ## Per-source transfer table
# Per source: rows, label marginals, within-source Spearman ρ(token length, strong needed), and the
# leave-one-source-out within-source ROC-AUC of a cheap reference model (MiniLM embedding + log length, logistic
# regression) with and without source fixed effects.

# %%
emb_full = rr.encoders.sentence_embeddings(full.prompt, "minilm", max_len=128)
transfer = rr.sources.transfer_table(full, emb_full)
transfer.round(3)

# %% [markdown]
# ## Option chooser: which sources, which both-fail policy
# Each option (new sources on/off × both-fail policy) is scored by the leave-one-source-out within-source AUC on a
# fixed target: the ten original sources, only rows whose label does not depend on the policy. `criterion` is
# weighted by rows; the plain mean is beside it.

# %%
options = rr.sources.choose_options(full, emb_full)
options.round(4)

# %% [markdown]
# ## Battles and Bradley–Terry tiers
# Every pair of a panel's models on a prompt gives one battle (correctness decides, equal = tie); every row also gives one strong-vs-weak battle from its score (≤ 3 strong wins, 4 tie, 5 weak wins), as RouteLLM turned `gpt4_dataset` into battles.

# %%
battles = pd.concat([rr.pairwise.panel_battles(pool), rr.pairwise.pair_battles(pool)], ignore_index=True)
battles.groupby(["model_a", "model_b"]).size().describe().round(1), battles.winner.value_counts()

# %%
elo = rr.pairwise.bradley_terry(battles)
pd.DataFrame({"elo": elo.round(0), "tier": rr.pairwise.tiers(elo)})


# %% [markdown]
# ## Leakage check
# No pool prompt may match an MMLU/GSM8K evaluation prompt: exact match after normalisation (case, accents,
# punctuation, spaces) or near-duplicate (MiniLM cosine ≥ 0.95). The call raises `LeakageError` and the run stops
# if anything matches; below, the closest pairs it saw.

# %%
evals = rr.experiments.load_evals(cfg)
closest = rr.experiments.check_leakage(pool, evals)
closest.round(3)

# %% [markdown]
# The same guard over every offline source (the switchable ones included), with exact and near-duplicate twins
# between pool sources (e.g. Winogrande's sentence pairs) counted:

# %%
eemb = {b: rr.encoders.sentence_embeddings(ev.prompt, "minilm", max_len=128) for b, ev in evals.items()}
leak = rr.leakage.leakage_counts(full, {b: list(ev.prompt) for b, ev in evals.items()}, emb_full, eemb)
leak

# %%
rr.router_runs.save_tables(cfg, **{"02_pool_card": pd.crosstab([pool.panel, pool.source], pool.score, margins=True).reset_index(),
                                    "02_elo_tiers": pd.DataFrame({"model": elo.index, "elo": elo.values, "tier": rr.pairwise.tiers(elo).values}),
                                    "02_transfer": transfer, "02_pool_options": options, "02_leakage_counts": leak})

# %% [markdown]
# ## 中文结论
# 下面的单元格调用 `rr.zh.conclusion_zh`，读取本 notebook 保存的结果表，生成中文结论：主要数字、按配对区间得到的判定、这些结果对论文主张意味着什么，以及本 notebook 涉及的与论文的差异。

# %%
from IPython.display import Markdown
Markdown(rr.zh.conclusion_zh(2, cfg.out))
