# ---
# jupyter:
#   kernelspec:
#     display_name: RAGRouter (.venv)
#     language: python
#     name: ragrouter
# ---

# %% [markdown]
# # 01 · RouteLLM's evaluation protocol, reproduced with the Random and Oracle routers
#
# This is the first experiment log of the series. It loads RouteLLM's own evaluation files (MMLU and
# GSM8K; strong model = gpt-4-1106-preview, weak model = Mixtral-8x7B-Instruct), drops the rows RouteLLM
# marks as contaminated, and checks our re-implementation of the metrics on the one router whose numbers
# are known in advance: **Random** (CPT(50%) ≈ 50%, CPT(80%) ≈ 80%, APGR ≈ 0.50). Every later table is
# computed by the same code (`ragrouter_lib.evaluation.metrics`, `ragrouter_lib.runs.router_runs`).
#
# **Protocol** (RouteLLM, Ong et al. 2024): strong-win scores are cut into 10 quantile bins; at each of the
# 11 edges a prompt goes to the strong model when its score is ≥ the edge (> at the last edge), giving
# (percent strong calls, accuracy) points from 100% to 0%. With weak accuracy *w* and strong accuracy *s*:
# CPT(x%) is the percent of strong calls needed to reach *w + x(s − w)* (linear interpolation on the curve),
# and APGR = (AUC − *w*)/(*s* − *w*), AUC the trapezoid area of accuracy over the strong-call fraction.
# Ties are broken by a seeded permutation. RouteLLM averages 10 runs of Random routing per point; here each router
# seed is one seeded draw, and the tables give the mean and the spread over the seeds (a deviation, README).

# %% tags=["parameters"]
# parameters (papermill overrides these)
profile = "offline"
data_seed = 0  # pool / evaluation subsamples and notebook 04's split (trained routers: cfg.router_seeds)
out_dir = "outputs"
overrides = {}  # e.g. {"k": 20, "augment": False, "router_seeds": [0]}: rr.setup overrides (README)

# %%
import ragrouter_lib as rr
cfg = rr.setup(profile, data_seed, out_dir, **overrides)

# %% [markdown]
# ## Evaluation rows, decontaminated
# Expected (RouteLLM): MMLU 14,037 of 14,042 rows, weak 68.09%, strong 80.59%; GSM8K 1,307 of 1,319, 63.73% / 85.77%.

# %%
evals = {b: rr.loading.load_eval(b, limit=cfg.eval_limit, seed=cfg.data_seed) for b in ("mmlu", "gsm8k")}
rr.router_runs.eval_summary(evals)

# %%
rr.router_runs.check_eval_rows(evals)  # stops the run if counts or accuracies differ

# %% [markdown]
# ## Random and Oracle routers
# One row per router and benchmark: mean over seeds, with the standard deviation (`*_sd`). Random is one seeded
# draw of uniform scores per router seed (`rr.routers.get_router("random", seed=...)`), the same draws and the same
# code as Tables 1–2's Random row and its interval (notebook 06), so the numbers agree across files. RouteLLM
# averaged 10 runs per value; here the seeds play that part.

# %%
table, per_seed, curves = rr.router_runs.random_and_oracle(evals, cfg.router_seeds)
table.round(3)

# %% [markdown]
# Random, seed by seed (one seeded draw each):

# %%
per_seed.pivot(index="seed", columns="benchmark", values=["cpt50", "cpt80", "apgr"]).round(3)

# %% [markdown]
# ## Routing curves in RouteLLM's style

# %%
import matplotlib.pyplot as plt
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
for ax, (bench, ev) in zip(axes, evals.items()):
    rr.plots.routing_curves(curves[bench], *rr.router_runs.accuracies(ev), title=bench.upper(), ax=ax)
rr.plots.save(fig, cfg.path("figures", "01_random_oracle_curves.png"))

# %% [markdown]
# ## Beside RouteLLM's published Random rows

# %%
published = rr.loading.load_reference("routellm_paper_tables").query("router == 'Random'")
ours = table.query("model == 'Random'").rename(columns={"model": "router"})
rr.router_runs.compare_with_published(ours, published, on=["benchmark", "router"]).round(3)

# %% [markdown]
# ## Checked against RouteLLM's own code
# `rr.metrics.routellm_reference` runs the installed `routellm` 0.2.0 evaluation code (`evals/benchmarks.py`,
# `evals/evaluate.py`) on the same scores. Called the way `evaluate.py`'s `__main__` calls it, it stops before
# printing any metric (the traceback below):

# %%
import numpy as np
import pandas as pd
ev = evals["mmlu"]
s = np.random.default_rng(cfg.data_seed).random(len(ev))  # one seeded uniform-score router
ref = rr.metrics.routellm_reference(s, ev.weak_correct, ev.strong_correct)
print(ref["crash"])

# %% [markdown]
# Patched only where it crashes (patches listed), RouteLLM's code and ours on the same scores
# (`tests/test_routellm_metrics.py` asserts the agreement):

# %%
print(*ref["patches"], sep="\n")
ours = rr.metrics.summarize(rr.metrics.routing_curve(s, ev.weak_correct, ev.strong_correct), ev.weak_correct.mean(), ev.strong_correct.mean())
pd.DataFrame([{"code": "RouteLLM evaluate.py (patched)", **{k: ref[k] for k in ("cpt50", "cpt80", "apgr")}}, {"code": "ragrouter_lib.evaluation.metrics", **ours}]).round(4)

# %%
rr.router_runs.save_tables(cfg, **{"01_random_oracle": table, "01_random_per_seed": per_seed})

# %% [markdown]
# ## Reading the log
# The checks above stop the run if the decontaminated row counts or either model's accuracy differ from
# RouteLLM's. Random is expected at CPT(50%) ≈ 50 %, CPT(80%) ≈ 80 %, APGR ≈ 0.50 (RouteLLM's published Random
# rows are in the comparison table above, with the differences); the Oracle's APGR can exceed 1, because the
# strong model is also wrong on some prompts the weak one answers correctly.

# %% [markdown]
# ## 中文结论
# 下面的单元格调用 `rr.zh.conclusion_zh`，读取本 notebook 保存的结果表，生成中文结论：主要数字、按配对区间得到的判定、这些结果对论文主张意味着什么，以及本 notebook 涉及的与论文的差异。

# %%
from IPython.display import Markdown
Markdown(rr.zh.conclusion_zh(1, cfg.out))
