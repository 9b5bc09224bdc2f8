"""Figures in RouteLLM's style: accuracy (or PGR) against percent of strong-model calls.

No metric is computed here; curves come from ``metrics``, intervals from ``verdicts``.
One shared style: every router has a fixed colour AND marker (``style(name)``, the same in every
figure), RAGRouter ("ours") is drawn last, thicker and on top; reference lines (Random, the
weak-only and strong-only accuracies) are thin grey/dashed in their own style; legends carry
display names and sit outside the data; bar charts start at zero and carry a Random line.
"""
from __future__ import annotations

import zlib

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from ..routers import EXTRA_NAMES, THESIS_NAMES

FONT = 10
OURS_COLOR = "#d62728"
# display name -> (colour, marker); Okabe-Ito and tab colours, distinguishable in grey print too
PALETTE = {
    "BERT": ("#0072B2", "s"),
    "Causal LLM": ("#009E73", "^"),
    "Matrix Factorization": ("#E69F00", "D"),
    "SW Ranking": ("#CC79A7", "v"),
    "KNN (semantic router)": ("#56B4E9", "P"),
    "KMeans (semantic router)": ("#8c564b", "X"),
    "SVM (semantic router)": ("#7f7f7f", "h"),
    "LogReg on MiniLM (reference)": ("#17becf", "<"),
    "Token-length rule (reference)": ("#bcbd22", ">"),
    "Oracle": ("#000000", "*"),
    # the LLM final-model form at CPU scale (one seed, subsample): our method's form, not our reported model
    "RAGRouter, LLM final model at CPU scale (SmolLM2-135M + LoRA, subsample)": ("#ff9896", "*"),
}
_FALLBACK = [("#1f77b4", "o"), ("#ff7f0e", "s"), ("#2ca02c", "^"), ("#9467bd", "D"), ("#8c564b", "v"),
             ("#e377c2", "P"), ("#17becf", "X"), ("#bcbd22", "h"), ("#7f7f7f", "<"), ("#aec7e8", ">")]
ABLATION_WORDS = ("augmentation", "sampling", "feature", "RAG")  # Tables 3, 4, 5, 6 (ablations.ABLATIONS)
ALIGNED_MARKER = {"s": "p", "^": "H", "D": "d", "v": "8", "<": "o"}
REFERENCE = dict(color="0.45", ls=":", lw=1.6, marker=None)


def display_name(name: str) -> str:
    """Registry key (``bert``) -> display name (``BERT``); display names pass through."""
    return {**THESIS_NAMES, **EXTRA_NAMES}.get(str(name), str(name))


def is_ours(name: str) -> bool:
    if display_name(name) in PALETTE:  # a row with its own colour (the CPU-scale LLM form) is not our model
        return False
    n = str(name).lower()
    return n.startswith("ragrouter") or n in ("full model", "ours") or n.startswith("with ")


def is_random(name: str) -> bool:
    return str(name).lower() == "random"


def style(name: str) -> dict:
    """Line style of one router: fixed colour and marker; ours highlighted; Random as a reference."""
    label = display_name(name)
    if is_random(label):
        return {**REFERENCE, "zorder": 2}
    if is_ours(label):
        return dict(color=OURS_COLOR, marker="*", ms=11, lw=2.8, zorder=10)
    known = next((v for k, v in PALETTE.items() if label == k or label.startswith(k + " ")), None)
    if known is not None and "aligned" in label:  # the label-aligned variant of a row: own shade and marker
        rgb = np.array(matplotlib.colors.to_rgb(known[0]))
        known = (matplotlib.colors.to_hex(0.55 * rgb + 0.45), ALIGNED_MARKER.get(known[1], "o"))
    if known is None and label.startswith("without "):  # Tables 3-6: one fixed style per ablation
        k = next((i for i, w in enumerate(ABLATION_WORDS) if w in label), None)
        known = _FALLBACK[k] if k is not None else None
    color, marker = known or _FALLBACK[zlib.crc32(label.encode()) % len(_FALLBACK)]
    return dict(color=color, marker=marker, ms=6, lw=1.4, zorder=4)


def _order(names) -> list:
    """Random first (under everything), ours last (on top)."""
    return sorted(names, key=lambda n: (not is_random(display_name(n)), is_ours(display_name(n))))


def _legend_outside(ax, **kw):
    h, lab = ax.get_legend_handles_labels()
    if h:
        ax.legend(h, lab, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0,
                  fontsize=FONT - 1, frameon=False, **kw)


def routing_curves(curves: dict, weak_acc: float, strong_acc: float, title: str = "",
                   ax=None, pgr: bool = False, legend: bool = True):
    """One line per router (fixed colour + marker, ours on top); dashed weak-only / strong-only
    lines; the legend with display names outside the axes on the right."""
    ax = ax or plt.subplots(figsize=(8.5, 5))[1]
    for name in _order(curves):
        c = curves[name].sort_values("pct_strong")
        y = c["accuracy"].to_numpy(float)
        y = (y - weak_acc) / (strong_acc - weak_acc) if pgr else 100 * y
        st = style(name)
        ax.plot(c["pct_strong"], y, label=display_name(name), markevery=1, **st)
    lo, hi = (0.0, 1.0) if pgr else (100 * weak_acc, 100 * strong_acc)
    ax.axhline(hi, ls="--", color="0.2", lw=1, zorder=1,
               label="PGR = 1 (strong model only)" if pgr else f"strong model only ({hi:.1f}%)")
    ax.axhline(lo, ls="-.", color="0.2", lw=1, zorder=1,
               label="PGR = 0 (weak model only)" if pgr else f"weak model only ({lo:.1f}%)")
    ax.set_xlabel("strong-model calls (%)", fontsize=FONT)
    ax.set_ylabel("performance gap recovered" if pgr else "accuracy (%)", fontsize=FONT)
    ax.set_xticks(np.arange(0, 101, 10))
    ax.tick_params(labelsize=FONT - 1)
    ax.set_title(title, fontsize=FONT + 1)
    ax.grid(alpha=0.3)
    if legend:
        _legend_outside(ax)
    return ax


def save(fig, path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=130, bbox_inches="tight")
    print(f"saved {path.name if hasattr(path, 'name') else path}")


def training_curves(hist, title: str = "", ncols: int = 3):
    """One panel per trained router (at most ``ncols`` per row, so tick labels stay readable):
    validation AUC (solid) and training loss (dashed) per epoch; one colour and marker per fit
    (each seed's final fit and each fold fit); integer epoch ticks, at most 8. The legend lists every
    plotted line of every panel (final fits' losses included), once per label."""
    from matplotlib.ticker import MaxNLocator  # a matplotlib submodule (matplotlib is imported above)

    names = [n for n in hist.router.unique() if "epoch" in hist and hist[hist.router == n].epoch.notna().any()]
    n = max(len(names), 1)
    rows, cols = -(-n // ncols), min(n, ncols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.8 * cols, 3.6 * rows), squeeze=False)
    handles = {}
    for ax, name in zip(axes.ravel(), names):
        sub = hist[hist.router == name]
        twin = ax.twinx()
        for k, (seed, g) in enumerate(sub.groupby(sub.seed.astype(str))):
            seed = seed if str(seed).startswith("fold") else f"seed {seed} (final fit)"
            color, marker = _FALLBACK[k % len(_FALLBACK)]
            if "val_auc" in g and g.val_auc.notna().any():  # final fits have no validation rows
                ax.plot(g.epoch, g.val_auc, marker=marker, ms=4, color=color, label=f"{seed}: val AUC")
            twin.plot(g.epoch, g.train_loss, ls="--", marker=marker, ms=3, color=color, alpha=0.6,
                      label=f"{seed}: train loss")
        for a in (ax, twin):
            for h, lab in zip(*a.get_legend_handles_labels()):
                handles.setdefault(lab, h)
        ax.set_title(display_name(name), fontsize=FONT + 1, wrap=True)
        ax.set_xlabel("epoch", fontsize=FONT)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=8))
        ax.set_ylabel("validation ROC-AUC (solid)", fontsize=FONT)
        twin.set_ylabel("training loss (dashed)", fontsize=FONT)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(names):]:
        ax.set_visible(False)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="upper left", bbox_to_anchor=(1.0, 0.95),
                   fontsize=FONT - 1, frameon=False)
    fig.suptitle(title, fontsize=FONT + 1)
    return fig


def counts(series_by_name: dict, title: str = "", xlabel: str = ""):
    """Side-by-side bar charts of value counts (label distributions and the like), zero-based."""
    fig, axes = plt.subplots(1, len(series_by_name), figsize=(4.4 * len(series_by_name), 3.4), squeeze=False)
    for ax, (name, s) in zip(axes[0], series_by_name.items()):
        vc = s.value_counts().sort_index()
        bars = ax.bar(vc.index.astype(str), vc.values, color="#0072B2")
        ax.bar_label(bars, fontsize=FONT - 2)
        ax.set_ylim(0, vc.values.max() * 1.15 if len(vc) else 1)
        ax.set_title(name, fontsize=FONT + 1)
        ax.set_xlabel(xlabel, fontsize=FONT)
        ax.set_ylabel("rows", fontsize=FONT)
    fig.suptitle(title, fontsize=FONT + 1)
    return fig


def perplexity_by_level(ppl, levels, title: str = ""):
    """Histogram of log-perplexity per difficulty level (levels as given; not necessarily quartiles)."""
    fig, ax = plt.subplots(figsize=(8, 4))
    lp = np.log10(np.asarray(ppl, float))
    bins = np.linspace(lp.min(), lp.max(), 50)
    levels = np.asarray(levels)
    for k, lvl in enumerate(sorted(set(levels.tolist()))):
        color = _FALLBACK[k % len(_FALLBACK)][0]
        ax.hist(lp[levels == lvl], bins=bins, alpha=0.55, color=color, histtype="stepfilled",
                edgecolor=color, label=f"level {lvl} (n={int((levels == lvl).sum())})")
    ax.set_xlabel("log10 perplexity (SmolLM2-135M)", fontsize=FONT)
    ax.set_ylabel("queries", fontsize=FONT)
    ax.set_title(title, fontsize=FONT + 1)
    _legend_outside(ax)
    return fig


def ablation_points(per_seed, order, metric: str = "apgr", title: str = "", random: float | None = None,
                    intervals=None):
    """One row per variant. Left: the mean over seeds as a bar on a zero-based axis. Right, a zoom
    whose axis does not start at zero (so no bars): each seed (dots), the mean (tick), optional
    95 % intervals (``intervals``: {name: (lo, hi)}). Random as a reference line (``random``)."""
    fig, (ax0, ax) = plt.subplots(1, 2, figsize=(11, 0.6 * len(order) + 1.6), sharey=True,
                                  gridspec_kw={"width_ratios": [1, 2.2]})
    vals = per_seed[metric].to_numpy(float)
    for i, name in enumerate(order):
        v = per_seed.loc[per_seed.model == name, metric].to_numpy(float)
        color = OURS_COLOR if is_ours(name) else "#0072B2"
        ax0.barh(i, v.mean(), color=color, alpha=0.6, height=0.6)  # bars only on the zero-based panel
        ax.plot(v, np.full(len(v), i), "o", color="k", ms=4, zorder=5, label="seeds" if i == 0 else None)
        ax.plot([v.mean()], [i], "|", color=color, ms=18, mew=2.5, zorder=6,
                label="mean over seeds" if i == 0 else None)
        if intervals and name in intervals:
            lo, hi = intervals[name]
            ax.plot([lo, hi], [i, i], color=color, lw=2, zorder=4, label="95 % interval" if i == 0 else None)
    for a in (ax0, ax):
        if random is not None:
            a.axvline(random, **{**REFERENCE, "marker": None}, label="Random" if a is ax else None)
        a.grid(alpha=0.3, axis="x")
    ax0.set_xlim(0, max(vals.max(), random or 0) * 1.05)
    ax0.set_title("zero-based", fontsize=FONT)
    lo = min(vals.min(), random if random is not None else vals.min())
    hi = max(vals.max(), random if random is not None else vals.max())
    pad = 0.15 * (hi - lo or 0.01)
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_title("zoom (axis does not start at zero)", fontsize=FONT)
    ax0.set_yticks(range(len(order)), order, fontsize=FONT - 1)
    ax0.invert_yaxis()
    for a in (ax0, ax):
        a.set_xlabel(metric.upper() if metric == "apgr" else metric, fontsize=FONT)
    _legend_outside(ax)
    fig.suptitle(title, fontsize=FONT + 1)
    return fig


def intervals(ints, benchmark: str, metric: str = "apgr", title: str = "", ax=None):
    """Forest plot of ``verdicts.all_verdicts(...)["intervals"]``: per router the mean over seeds
    (marker) and its 95 % bootstrap interval (line); Random as a vertical reference line."""
    sub = ints[(ints.benchmark == benchmark) & (ints.metric == metric)]
    ax = ax or plt.subplots(figsize=(8.5, 0.45 * len(sub) + 1.5))[1]
    rand = sub[sub.model.map(is_random)]
    rows = sub[~sub.model.map(is_random)].reset_index(drop=True)
    for i, r in rows.iterrows():
        st = style(r.model)
        ax.plot([r.ci_low, r.ci_high], [i, i], color=st["color"], lw=st["lw"] + 1, zorder=st["zorder"])
        ax.plot([r.value], [i], marker=st["marker"], color=st["color"], ms=st.get("ms", 6), ls="none",
                zorder=st["zorder"] + 1)
    if len(rand):
        ax.axvline(rand.value.iloc[0], **{**REFERENCE, "marker": None}, label="Random")
        _legend_outside(ax)
    ax.set_yticks(range(len(rows)), [display_name(m) for m in rows.model], fontsize=FONT - 1)
    ax.invert_yaxis()
    ax.set_xlabel(f"{metric.upper() if metric == 'apgr' else metric}: mean over seeds and 95 % "
                  "bootstrap interval over seeds and prompts (axis not from 0)", fontsize=FONT)
    ax.set_title(title, fontsize=FONT + 1)
    ax.grid(alpha=0.3, axis="x")
    return ax


def heatmap(frame, title: str = "", fmt: str = "d", cmap: str = "Blues", xlabel: str = "", ylabel: str = ""):
    """Annotated heatmap of a small table (rows x columns, e.g. the pool card's sources x weak-quality
    scores); colour scale from zero, every cell printed."""
    import seaborn as sns  # heavy optional package: imported only when this runs
    fig, ax = plt.subplots(figsize=(1.0 * frame.shape[1] + 3.5, 0.42 * frame.shape[0] + 1.6))
    sns.heatmap(frame, annot=True, fmt=fmt, cmap=cmap, vmin=0, cbar_kws={"shrink": 0.8}, ax=ax,
                annot_kws={"fontsize": FONT - 1}, linewidths=0.5, linecolor="white")
    ax.set_xlabel(xlabel, fontsize=FONT)
    ax.set_ylabel(ylabel, fontsize=FONT)
    ax.tick_params(labelsize=FONT - 1)
    ax.set_title(title, fontsize=FONT + 1)
    return fig
