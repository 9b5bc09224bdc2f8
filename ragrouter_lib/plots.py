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
