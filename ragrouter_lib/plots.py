"""Figures in RouteLLM's style: accuracy (or PGR) against percent of strong-model calls.

No metric is computed here; curves come from ``metrics``.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def routing_curves(curves: dict, weak_acc: float, strong_acc: float, title: str = "",
                   ax=None, pgr: bool = False):
    """One line per router; dashed lines for the all-weak and all-strong accuracies."""
    ax = ax or plt.subplots(figsize=(6, 4.2))[1]
    for name, c in curves.items():
        c = c.sort_values("pct_strong")
        y = c["accuracy"].to_numpy()
        if pgr:
            y = (y - weak_acc) / (strong_acc - weak_acc)
        style = dict(ls=":", color="grey") if name.lower() == "random" else {}
        ax.plot(c["pct_strong"], y if pgr else 100 * y, marker="o", ms=3, label=name, **style)
    lo, hi = (0.0, 1.0) if pgr else (100 * weak_acc, 100 * strong_acc)
    ax.axhline(hi, ls="--", color="tab:red", lw=1, label="strong model only" if not pgr else "PGR = 1")
    ax.axhline(lo, ls="--", color="tab:green", lw=1, label="weak model only" if not pgr else "PGR = 0")
    ax.set_xlabel("strong-model calls (%)")
    ax.set_ylabel("performance gap recovered" if pgr else "accuracy (%)")
    ax.set_xticks(np.arange(0, 101, 10))
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def save(fig, path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"saved {path}")


def training_curves(hist, title: str = ""):
    """One panel per trained router: validation AUC (solid) and training loss (dashed) per epoch."""
    names = [n for n in hist.router.unique() if "epoch" in hist and hist[hist.router == n].epoch.notna().any()]
    fig, axes = plt.subplots(1, max(len(names), 1), figsize=(4.2 * max(len(names), 1), 3.2), squeeze=False)
    for ax, name in zip(axes[0], names):
        sub = hist[hist.router == name]
        twin = ax.twinx()
        for seed, g in sub.groupby("seed"):
            line, = ax.plot(g.epoch, g.val_auc, marker="o", ms=3, label=f"seed {seed} val AUC")
            twin.plot(g.epoch, g.train_loss, ls="--", color=line.get_color(), alpha=0.6)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation ROC-AUC")
        twin.set_ylabel("training loss (dashed)")
        ax.legend(fontsize=7)
    fig.suptitle(title)
    return fig


def counts(series_by_name: dict, title: str = "", xlabel: str = ""):
    """Side-by-side bar charts of value counts (label distributions and the like)."""
    fig, axes = plt.subplots(1, len(series_by_name), figsize=(4.2 * len(series_by_name), 3.2), squeeze=False)
    for ax, (name, s) in zip(axes[0], series_by_name.items()):
        vc = s.value_counts().sort_index()
        ax.bar(vc.index.astype(str), vc.values)
        ax.set_title(name)
        ax.set_xlabel(xlabel)
    fig.suptitle(title)
    return fig


def perplexity_by_level(ppl, levels, title: str = ""):
    """Histogram of log-perplexity, coloured by difficulty level (quartile)."""
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    lp = np.log10(np.asarray(ppl, float))
    bins = np.linspace(lp.min(), lp.max(), 50)
    for lvl in sorted(set(np.asarray(levels).tolist())):
        ax.hist(lp[np.asarray(levels) == lvl], bins=bins, alpha=0.7, label=f"level {lvl}")
    ax.set_xlabel("log10 perplexity (SmolLM2-135M)")
    ax.set_ylabel("queries")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig


def ablation_points(per_seed, order, metric: str = "apgr", title: str = ""):
    """One horizontal row per variant: each seed's value (dots) and the mean (bar)."""
    fig, ax = plt.subplots(figsize=(7.5, 0.55 * len(order) + 1.2))
    for i, name in enumerate(order):
        v = per_seed.loc[per_seed.model == name, metric].to_numpy(float)
        ax.barh(i, v.mean(), color="tab:blue" if name.startswith("with ") else "tab:orange", alpha=0.5)
        ax.plot(v, np.full(len(v), i), "k o", ms=4)
    ax.set_yticks(range(len(order)), order, fontsize=8)
    ax.invert_yaxis()
    lo = per_seed[metric].min()
    ax.set_xlim(lo - 0.02, per_seed[metric].max() + 0.01)
    ax.set_xlabel(f"{metric.upper()} (bars: mean over seeds; dots: seeds)")
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="x")
    return fig
