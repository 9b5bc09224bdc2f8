# ---
# jupyter:
#   kernelspec:
#     display_name: RAGRouter (.venv)
#     language: python
#     name: ragrouter
# ---

# %% [markdown]
# # 04 · RAGRouter's data pipeline: label alignment, multi-source augmentation, dynamic sampling
#
# The training data RAGRouter (notebook 05) and its ablations (Tables 3 and 4) are built from. Every step can
# be switched off by a setting (`augment`, `sample`; also `factor`, `size_frac`: their defaults are
# `rr.training_data.DEFAULTS`, printed below); pass a change as `overrides` (e.g. `{"augment": False}`), the same
# in notebook 05, so RAGRouter fits on the data shown here. The ablation notebooks rebuild the data without a
# step, everything else equal. This notebook shows the pipeline on the pool's random training split for this seed.
# That split is a diagnostic: its validation rows are never augmented or sampled, and it chooses nothing. Model
# selection (source-grouped folds) and the final routers (all pool rows) run the same pipeline (notebook 05).
#
# Augmentation is **one draw shared by every router seed** (deviation, for the CPU budget): each row's variant
# depends only on that row, so a selection fold gets the same variants of its rows as the whole pool. Seeds change
# the sampling, the initialisation and the batches, not which variants exist; the seed spread therefore leaves
# out augmentation's own randomness.
#
# **Deviations from the thesis** (see README): labels come from recorded correctness, not an LLM judge
# (notebook 02); augmented rows inherit their source's label (no judge to re-label them); the parser is spaCy
# `en_core_web_sm` (Stanza models are not obtainable); the knowledge graph is WordNet 3.0 (Debian) instead of
# ConceptNet; perplexity comes from SmolLM2-135M instead of GPT-2-large; the pool has a few thousand rows (printed
# below) instead of ~175k.

# %% tags=["parameters"]
# parameters (papermill overrides these)
profile = "offline"
data_seed = 0  # pool / evaluation subsamples and notebook 04's split (trained routers: cfg.router_seeds)
out_dir = "outputs"
overrides = {}  # e.g. {"augment": False, "factor": 0.5} (data settings, Tables 3-4), {"k": 20}: rr.setup overrides (README)

# %%
import ragrouter_lib as rr
cfg = rr.setup(profile, data_seed, out_dir, **overrides)

# %%
pool = rr.paper.notebook_pool(cfg)
evals = rr.experiments.load_evals(cfg)
print(f"pool: {len(pool)} rows; evaluation rows:", {b: len(ev) for b, ev in evals.items()})
data = rr.training_data.settings(cfg)  # augment (Table 3), sample (Table 4), factor (new rows per row), size_frac
print("data settings:", data)

# %% [markdown]
# ## 1 · Label alignment
# Every row carries a 1–5 score of the weak model's answer quality (1–3: route to the strong model, 4–5: the
# weak model is good enough) and the binary routing label. The thesis aligned preference data with a
# DeepSeek-671B judge; no judge LLM runs offline, so scores come from recorded correctness (notebook 02's
# table). Preference rows (Chatbot Arena form), when a user supplies them, are mapped from the winner as below;
# `gpt4_dataset` rows keep their `mixtral_score`.

# %%
rr.pool_labels.arena_mapping_table()

# %%
import pandas as pd
pd.crosstab(pool.panel, pool.score, margins=True)

# %% [markdown]
# ## 2–3 · Augmentation and sampling for this seed
# One call builds the training set; the cost of each step (seconds, rows per second) is in the table below it.
# The augmented rows are the shared draw (the same for every seed); the sampling draw depends on the seed.

# %%
td = rr.training_data.prepare(pool, cfg.data_seed, cfg.path("cache", "data"), **data)
td.cost

# %%
rr.training_data.stage_sizes(td)

# %% [markdown]
# ### Augmentation sources
# Quality sources: natural-language questions (no code: MBPP, HumanEval and JavaScript rows are skipped),
# 40–1,500 characters, mostly letters, with a confident label (the pair's own answers on RouterBench rows;
# ≥ 6 of 7 panel models agreeing on RouterDC rows). Share of each source's training rows that qualify:

# %%
rr.augmentation.source_quality(td.original).groupby(td.original.source).agg(["mean", "sum"]).round(2)

# %% [markdown]
# ### Accepted variants, two per kind
# Syntactic: a prepositional/adverbial phrase or clause moved to the front or back, coordinated noun phrases swapped.
# Semantic (WordNet): synonym substitution, hypernym gloss ("X (a kind of Y)"). Every variant passed the quality
# gate (`rr.aug_gate`, parameters `rr.aug_gate.GATE`, printed below): a WordNet operator touches a word only when
# one sense clearly dominates its tagged uses, never near a name or on a place/person/group sense; a gloss only on a
# concrete noun ending its phrase, with a specific hypernym; the parse must not leave a fronted predicate or a stray
# capital; SmolLM2's perplexity of the changed sentences may not exceed the source's by more than `max_ppl_ratio`.
# The examples are shown unfiltered.

# %%
print("gate:", rr.aug_gate.GATE)
pd.set_option("display.max_colwidth", 200)
rr.training_data.examples(td) if data["augment"] else "augmentation switched off"

# %%
td.augmented.groupby(["method", "op"]).size().rename("rows").to_frame() if data["augment"] else None

# %% [markdown]
# ### Acceptance per operation and per source
# Per operation: every candidate produced for a visited source row, where it stopped (`check`: `variants.check`,
# i.e. identical, broken punctuation, lost capital, changed sentence count, root verb, content words or numbers,
# template touched, structure flags; `gate: parse`: the gate's parse checks; `gate: LM`: the gate's SmolLM2 fluency
# check), `not scored` (another variant of the same row passed first), `kept` (became the row's variant), and
# `pass_rate` (kept over the candidates judged to the end). Per source: quality source rows visited and the share that gained a kept variant. Rows stop being
# visited at the target (`factor`) or when the quality sources run out: the gate keeps fewer rows, not broken ones.

# %%
acc_op = rr.augmentation.acceptance(td.augmented, td.rejected) if data["augment"] else None
acc_src = rr.augmentation.acceptance(td.augmented, td.rejected, "source") if data["augment"] else None
(acc_op, acc_src)

# %%
(td.rejected.groupby(["stage", "reason"]).size().rename("candidates").to_frame(), td.rejected.groupby("reason").head(1)[["op", "stage", "reason", "variant"]]) if len(td.rejected) else "none"

# %% [markdown]
# ### Independent check of the accepted variants
# A check the gate does not use (`rr.aug_check.independent_check`), on a seeded random sample of 150 accepted variants:
# a variant counts as an error when Gemma-3-270M's perplexity of its question stem exceeds its source's by more than
# `rr.aug_check.CHECK["max_ppl_ratio"]`, or when the MiniLM cosine of the two stems falls below `min_cosine` (the
# meaning, hence the inherited label, may have moved). Target: error rate at most `target_error_rate`. The summary
# names the LM that ran; if Gemma cannot load it says why and the check runs on MiniLM alone.

# %%
q = rr.aug_check.independent_check(rr.augmentation.variant_pairs(td.augmented, td.original), n=cfg.size("aug_check"), seed=0, gemma=cfg.gemma_checks) if data["augment"] else None
(pd.Series(q.attrs["summary"]), rr.aug_check.error_by_op(q)) if data["augment"] else "augmentation switched off"

# %% [markdown]
# ### Reading audit
# The first 100 accepted variants in the augmentation's seeded visit order (`rr.aug_check.audit_sample`), each judged
# by reading as ok / broken / meaning changed; the judgments are committed in `data/audit/augmentation_audit.csv`
# (keyed by `pool_id` and variant text). A sampled variant with no judgment is shown as `unjudged`: the audit is
# stale (the gate changed which variants exist) and must be redone. Target: at least `AUDIT["target_ok"]` ok.

# %%
audit = rr.aug_check.load_audit(rr.aug_check.audit_sample(td.augmented, td.original)) if data["augment"] else None
print(audit.attrs["summary"] if data["augment"] else "augmentation switched off")
audit[audit.verdict != "ok"][["op", "source_stem", "variant_stem", "verdict", "note"]] if data["augment"] else None

# %%
aug_tables = {"04_augmentation_audit": audit.drop(columns="variant"), "04_augmentation_check": q, "04_acceptance_op": acc_op.reset_index(),
              "04_acceptance_source": acc_src.reset_index()} if data["augment"] else {}
rr.router_runs.save_tables(cfg, **aug_tables)

# %% [markdown]
# ### Leakage check, augmented rows included
# Augmented rows are derived from training rows only; the same check as notebook 02 runs on original + augmented rows.

# %%
rr.experiments.check_leakage(td.both, evals).round(3)

# %% [markdown]
# ### Perplexity and difficulty levels
# Perplexity of every training query (original + augmented) under the difficulty signal's LM (printed: SmolLM2-135M,
# Gemma-3-270M, or off; chosen below), on a 48-token window. Difficulty levels 0–3 are rank-based perplexity quartiles
# *within each source* (ties kept together), in the thesis's direction: level 3 is the source's highest-perplexity
# quarter, taken as hardest and up-weighted; the labels never flip this sign. Sampling weight = level weight (1, 1.25,
# 1.5, 2) × (source share)^-½. The one level table below gives each level's rows, median perplexity, strong-needed
# rate and mean sampling weight over the rows the sampler draws from. Perplexities of texts found in committed derived
# data (`data/derived`, when its parameters, weights and code match) are read from it; the rest are computed and cached.

# %%
print("difficulty signal:", td.difficulty_signal)
rr.plots.save(rr.plots.perplexity_by_level(td.ppl, td.levels, "perplexity by difficulty level (within source)"), cfg.path("figures", "04_perplexity_levels.png")) if td.ppl is not None else None

# %%
levels_table = rr.training_data.level_table(td)
levels_table.round(3) if td.ppl is not None else "no perplexity levels: sampling or its difficulty signal is off"

# %% [markdown]
# ### Does the level carry difficulty? The within-source relation, with an interval
# Spearman ρ of the level (and of the raw perplexity) with "strong model needed" inside each source, pooled over sources
# (row-weighted), on this split's original training rows (an augmented row copies its source's label, so it would count
# the same question twice); 95 % bootstrap interval, rows resampled within each source. The thesis expects ρ > 0.

# %%
relation = rr.training_data.level_relation(td)
relation.round(3) if td.ppl is not None else "no perplexity levels"

# %% [markdown]
# ### Which LM's perplexity, or none: the source-grouped choice
# SmolLM2, Gemma-3-270M and "off" are compared on the pool's rows only (training data; no evaluation row). Nothing is
# fitted (the direction is the thesis's, quartiles are taken inside each source), so leaving one source out reduces to
# scoring each source on its own: ρ(level, strong needed) within the source, pooled, with a 95 % bootstrap interval. An
# LM is eligible when the interval's lower end is above 0 and most sources agree in sign; the eligible LM with the
# highest ρ wins, otherwise "off" (weights from rarity and label balance only). Gemma scores about one text per second
# on this CPU (a full pool pass would take about two hours), so Gemma is scored on a seeded, source-stratified subsample
# and SmolLM2 on all pool rows; SmolLM2 on Gemma's rows is shown beside them as the same-rows comparison (never chosen).

# %%
from IPython.display import Markdown
signal = rr.difficulty.signal_table(pool, n=cfg.gemma_rows)
print(signal.attrs["note"])
signal.round(3)

# %%
Markdown(rr.difficulty.signal_sentence(signal, rr.training_data.DIFFICULTY_SIGNAL))

# %%
rr.router_runs.save_tables(cfg, **{"04_sampling_levels": levels_table.reset_index(), "04_level_relation": relation.reset_index(), "04_difficulty_signal": signal.reset_index()})

# %% [markdown]
# ### Label balance and source mix, before and after sampling
# The sampled set must be larger than the original and smaller than original + augmented, with balanced routing labels.

# %%
pd.DataFrame({"before (original + augmented)": td.both.strong_needed.value_counts(), "after sampling": td.train.strong_needed.value_counts()})

# %%
pd.DataFrame({"original": td.original.source.value_counts(), "after": td.train.source.value_counts()}).fillna(0).astype(int)

# %%
print(f"original {len(td.original)} < sampled {len(td.train)} < original + augmented {len(td.both)}:", len(td.original) < len(td.train) < len(td.both))

# %% [markdown]
# ### Each switch removes exactly its step
# Training-set size and label balance for the four combinations (the ablation notebooks use these).

# %%
grid = rr.training_data.switch_grid(pool, cfg.data_seed, cfg.path("cache", "data"), factor=data["factor"], size_frac=data["size_frac"])
grid

# %%
rr.router_runs.save_tables(cfg, **{"04_stage_sizes": rr.training_data.stage_sizes(td), "04_step_cost": td.cost, "04_switch_grid": grid,
                                    "04_rejected": td.rejected, "04_examples": rr.training_data.examples(td, 5)})

# %% [markdown]
# ## 中文结论
# 下面的单元格调用 `rr.zh.conclusion_zh`，读取本 notebook 保存的结果表，生成中文结论：主要数字、按配对区间得到的判定、这些结果对论文主张意味着什么，以及本 notebook 涉及的与论文的差异。

# %%
from IPython.display import Markdown
Markdown(rr.zh.conclusion_zh(4, cfg.out))
