"""Seed-aware paired bootstrap intervals and the verdict rule of Tables 1-6.

Thesis step: the comparison words of Tables 1-6 ("RAGRouter beats ...", "the part holds ...").
The thesis reports point values only; this module adds 95 % paired bootstrap confidence intervals
that cover both sources of variation of a row: the evaluation prompts and the retraining seeds
(deviation, stated in README and notebook 06).

Choice: a router's number is the mean over seeds of the per-seed metric (as in the tables:
``point_metrics`` is the one function both use). A bootstrap replicate is two-level: it draws the
seeds with replacement (n_seeds draws out of the router's n_seeds; the same draw for every router
with as many seeds, and rows are sorted by seed, so a comparison stays paired by seed), then the
prompts with replacement (the same draw for every router and seed: paired), computes each drawn
seed's metric on that prompt resample and averages over the drawn seeds. The 95 % interval is the
2.5-97.5 percentile of the replicates (of the replicate differences, for a comparison), so a
comparison word needs the prompts and the seeds to agree: one seed that reverses the sign keeps
the interval across zero. ``Bootstrap(..., resample_seeds=False)`` gives the prompt-only interval
(used by the tests to show the difference). With a single seed the seed level adds nothing.
Cost: 1000 replicates of 14,037 MMLU prompts take about 0.7 s per router and seed on one CPU core
(11 routers x 5 seeds: 39 s, measured; the seed draws add nothing measurable).

>>> verdict_word(0.01, 0.03, "apgr"), verdict_word(-0.01, 0.03, "apgr"), verdict_word(0.01, 0.03, "cpt50")
('beats', 'inconclusive', 'is beaten by')
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.seeding import step_seed
from . import metrics

METRIC_NAMES = {"apgr": "APGR", "cpt50": "CPT(50%)", "cpt80": "CPT(80%)"}
HIGHER_IS_BETTER = {"apgr": True, "cpt50": False, "cpt80": False}
LEVEL = 0.95
N_BOOT = 1000
RULE = ("Verdict rule: every number is the mean over seeds of the per-seed metric (APGR, CPT(50%), "
        "CPT(80%)), with a 95 % paired two-level bootstrap confidence interval that covers both the "
        f"evaluation prompts and the retraining seeds ({N_BOOT} replicates; each replicate draws the seeds "
        "with replacement, then the prompts with replacement, scores the drawn prompts with every drawn "
        "seed of every router - the same draws for both sides of a comparison - and averages the metric "
        "over the drawn seeds). A comparison word is used only when the 95 % interval of the paired "
        "difference excludes zero: \"beats\" / \"is beaten by\" (Tables 1-2, RAGRouter against each "
        "other row), \"holds\" / \"hurts\" (Tables 3-6, the full model against the model without the "
        "part); \"inconclusive\" otherwise. Higher APGR and lower CPT are better. So a word needs the "
        "prompts and the seeds to agree: a seed that reverses the sign usually keeps the interval across zero. "
        "The seed spread (sd over seeds) is reported beside the interval.")
RULE_ZH = ("判定规则：每个数字都是各随机种子上指标（APGR、CPT(50%)、CPT(80%)）的平均值，并给出两层配对 "
           f"bootstrap 的 95% 置信区间，同时覆盖评测提示的抽样和重新训练（随机种子）的波动（共 {N_BOOT} 次重采样；"
           "每次先对种子有放回抽样，再对提示有放回抽样，比较双方使用相同的抽样，指标在抽到的种子间平均）。"
           "只有当配对差值的 95% 区间不包含零时才使用比较词："
           "表 1-2 中 RAGRouter 与其他每一行相比为 \"beats\"（优于）/ \"is beaten by\"（劣于），"
           "表 3-6 中完整模型与去掉某部件的模型相比为 \"holds\"（该部件有益，预期成立）/ \"hurts\"（该部件有害）；"
           "否则为 \"inconclusive\"（不能下结论：区间包含零）。APGR 越高越好，CPT 越低越好。因此比较词要求提示与种子两方面"
           "一致：若有种子的差值方向相反，区间通常会跨过零。区间旁给出种子间标准差。")
WORDS = {"compare": ("beats", "is beaten by"), "ablation": ("holds", "hurts")}
WORDS_ZH = {"beats": "优于", "is beaten by": "劣于", "holds": "成立（该部件有益）",
            "hurts": "不成立（该部件有害）", "inconclusive": "无定论", "n/a": "无数据"}
INCONCLUSIVE = "inconclusive"


def verdict_word(lo: float, hi: float, metric: str, kind: str = "compare") -> str:
    """The rule applied to one interval of ``ours - other`` (or ``full - ablated``)."""
    good, bad = WORDS[kind]
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return INCONCLUSIVE
    sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
    lo, hi = sorted((sign * lo, sign * hi))
    if lo > 0:
        return good
    if hi < 0:
        return bad
    return INCONCLUSIVE


# ----------------------------------------------------------------------------- bootstrap
def as_stored(scores) -> np.ndarray:
    """Scores as every table and interval reads them (float64; ``verdicts.save_scores`` stores
    exactly this, so no rounding can create ties that the seeded tie-break orders differently)."""
    return np.asarray(scores, dtype=np.float64)


def point_metrics(scores, weak_correct, strong_correct, seed: int) -> tuple[dict, pd.DataFrame]:
    """The one per-seed computation behind a table row and its interval's point estimate:
    ``metrics.summarize(metrics.routing_curve(..))`` of the stored scores; returns (metrics, curve)."""
    weak, strong = np.asarray(weak_correct, bool), np.asarray(strong_correct, bool)
    curve = metrics.routing_curve(as_stored(scores), weak, strong, seed=int(seed))
    return metrics.summarize(curve, float(weak.mean()), float(strong.mean())), curve


def _edge_counts(n: int, n_bins: int) -> np.ndarray:
    """Strong calls at each quantile edge of ``metrics.routing_curve`` (edge order, 100 % first).

    The tie-broken ranks are a permutation of 0..n-1, so the edges are those of ``pd.qcut`` on
    0..n-1 and the strong calls at an edge do not depend on the scores; computed with the same
    calls and comparisons as ``metrics.routing_curve`` (floating-point edges included).
    """
    ranks = np.arange(n, dtype=float)
    _, edges = pd.qcut(ranks, n_bins, retbins=True)
    return np.array([int((ranks > e).sum()) if i == len(edges) - 1 else int((ranks >= e).sum())
                     for i, e in enumerate(edges)], dtype=np.int64)


def _summaries(pct: np.ndarray, acc: np.ndarray, w: np.ndarray, s: np.ndarray) -> dict:
    """``metrics.summarize`` for many curves at once: pct (m,), acc/w/s per replicate (B, m)/(B,).

    ``pct`` must be ascending (the sorted points of ``metrics._sorted_points``)."""
    gap = s - w
    with np.errstate(divide="ignore", invalid="ignore"):
        area = np.sum((acc[:, 1:] + acc[:, :-1]) / 2 * np.diff(pct / 100.0), axis=1)
        out = {"apgr": (area - w) / gap}
        for key, x in (("cpt50", 0.5), ("cpt80", 0.8)):
            target = (w + x * gap)[:, None]
            hit = acc >= target - 1e-12
            i = np.argmax(hit, axis=1)
            rows = np.arange(len(acc))
            prev = np.maximum(i - 1, 0)
            a0, a1 = acc[rows, prev], acc[rows, i]
            p0, p1 = pct[prev], pct[i]
            interp = p0 + (target[:, 0] - a0) * (p1 - p0) / (a1 - a0)
            val = np.where(i == 0, pct[0], interp)
            out[key] = np.where(hit.any(axis=1), val, np.nan)
    return out


class Bootstrap:
    """Two-level paired bootstrap over the seeds and the prompts of one benchmark.

    Replicate b draws n prompts with replacement (seeded, the same draws for every router that
    this object scores - that is what makes differences paired) and, with ``resample_seeds``
    (default), the router's seeds with replacement (``seed_draws``: depends only on the number of
    seeds, so two routers with the same sorted seeds get the same seed draws: paired by seed). A router's scores are turned into
    its routing curve on each replicate exactly as ``metrics.routing_curve`` does on the full set
    (ties broken by the same seeded permutation, strong calls at the same quantile edges), then
    CPT(50%), CPT(80%) and APGR as ``metrics.summarize``. ``metric_draws`` checks on the full set
    (every prompt once) that the vectorised numbers equal ``metrics.summarize(routing_curve(..))``.
    """

    def __init__(self, weak_correct, strong_correct, n_boot: int = N_BOOT, seed: int = 0,
                 chunk: int = 100, resample_seeds: bool = True):
        self.weak = np.asarray(weak_correct, dtype=bool)
        self.strong = np.asarray(strong_correct, dtype=bool)
        if len(self.weak) != len(self.strong) or len(self.weak) < 2:
            raise ValueError("weak/strong correctness: equal lengths >= 2 required")
        self.n, self.n_boot, self.seed, self.chunk = len(self.weak), int(n_boot), int(seed), int(chunk)
        self.resample_seeds = bool(resample_seeds)
        self.n_bins = metrics.N_BINS
        self.k = _edge_counts(self.n, self.n_bins)
        self.gain = self.strong.astype(np.int32) - self.weak.astype(np.int32)
        rng = np.random.default_rng(step_seed(self.seed, f"bootstrap/n={self.n}"))
        self.counts = []  # chunks of (b, n) int16 multiplicities, drawn once
        for start in range(0, self.n_boot, self.chunk):
            b = min(self.chunk, self.n_boot - start)
            idx = rng.integers(0, self.n, size=(b, self.n))
            flat = (idx + self.n * np.arange(b)[:, None]).ravel()
            self.counts.append(np.bincount(flat, minlength=b * self.n).reshape(b, self.n).astype(np.int16))
        self._cache: dict = {}

    def seed_draws(self, n_seeds: int) -> np.ndarray:
        """(n_boot, n_seeds) indices into a router's seeds (sorted): replicate b averages the seeds
        ``idx[b]`` (drawn with replacement); without ``resample_seeds`` every seed once."""
        if not self.resample_seeds or n_seeds == 1:
            return np.tile(np.arange(n_seeds), (self.n_boot, 1))
        rng = np.random.default_rng(step_seed(self.seed, f"bootstrap/seeds={n_seeds}"))
        return rng.integers(0, n_seeds, size=(self.n_boot, n_seeds))

    def _curve_acc(self, order: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """(b, n_edges) accuracies of the routing curve for multiplicities ``counts`` (b, n)."""
        c = counts[:, order].astype(np.int32)
        g = self.gain[order]
        cum_c = np.cumsum(c, axis=1)
        cum_g = np.cumsum(c * g, axis=1)
        b, n = c.shape
        offset = (np.arange(b) * (n + 1))[:, None]
        flat = (cum_c + offset).ravel()
        pos = np.searchsorted(flat, (self.k[None, :] + offset).ravel(), side="left").reshape(b, -1)
        pos -= (np.arange(b) * n)[:, None]
        pos = np.minimum(pos, n - 1)
        rows = np.arange(b)[:, None]
        prev = pos - 1
        c_prev = np.where(prev >= 0, cum_c[rows, np.maximum(prev, 0)], 0)
        g_prev = np.where(prev >= 0, cum_g[rows, np.maximum(prev, 0)], 0)
        top_gain = g_prev + (self.k[None, :] - c_prev) * g[pos]
        weak_total = counts.astype(np.int64) @ self.weak.astype(np.int64)
        return (weak_total[:, None] + top_gain) / n

    def _draws_one_seed(self, scores: np.ndarray, seed: int, counts_list) -> dict:
        ranks = metrics.tie_broken_ranks(scores, int(seed))
        order = np.argsort(-ranks, kind="stable")  # strong-first
        pct = (100.0 * self.k / self.n)[::-1]
        out = {m: [] for m in METRIC_NAMES}
        for counts in counts_list:
            acc = self._curve_acc(order, counts)[:, ::-1]
            c64 = counts.astype(np.int64)
            w, s = (c64 @ self.weak) / self.n, (c64 @ self.strong) / self.n
            for m, v in _summaries(pct, acc, w, s).items():
                out[m].append(v)
        return {m: np.concatenate(v) for m, v in out.items()}

    def point(self, scores, seeds) -> pd.DataFrame:
        """Per-seed metrics on the full set by ``point_metrics`` (the tables' own computation)."""
        scores = np.atleast_2d(as_stored(scores))
        rows = [{"seed": int(sd), **point_metrics(sc, self.weak, self.strong, int(sd))[0]}
                for sc, sd in zip(scores, seeds)]
        return pd.DataFrame(rows)

    def metric_draws(self, scores, seeds, key: str | None = None) -> dict:
        """``{"point": per-seed DataFrame, "draws": {metric: (n_boot,) values averaged over each
        replicate's drawn seeds}}`` (rows sorted by seed first, so seed draws pair across routers).

        Raises AssertionError if the vectorised full-set numbers differ from ``metrics``'."""
        if key is not None and key in self._cache:
            return self._cache[key]
        scores = np.atleast_2d(as_stored(scores))
        seeds = [int(x) for x in np.asarray(seeds).reshape(-1)]
        if scores.shape != (len(seeds), self.n):
            raise ValueError(f"scores shape {scores.shape}, expected ({len(seeds)}, {self.n})")
        order = np.argsort(seeds, kind="stable")
        scores, seeds = scores[order], [seeds[i] for i in order]
        point = self.point(scores, seeds)
        ones = [np.ones((1, self.n), np.int16)]
        per_seed = []
        for sc, sd in zip(scores, seeds):
            check = self._draws_one_seed(sc, sd, ones)
            ref = point[point.seed == sd].iloc[0]
            for m in METRIC_NAMES:
                a, b = float(check[m][0]), float(ref[m])
                if not (np.isclose(a, b, rtol=0, atol=1e-9) or (np.isnan(a) and np.isnan(b))):
                    raise AssertionError(f"bootstrap {m} {a} != metrics {b} (seed {sd})")
            per_seed.append(self._draws_one_seed(sc, sd, self.counts))
        idx, cols = self.seed_draws(len(seeds)), np.arange(self.n_boot)[:, None]
        with np.errstate(invalid="ignore"):  # NaN = metric undefined on a resample; counted by _interval
            draws = {m: np.stack([d[m] for d in per_seed])[idx, cols].mean(axis=1) for m in METRIC_NAMES}
        res = {"point": point, "draws": draws}
        if key is not None:
            self._cache[key] = res
        return res


def _interval(x: np.ndarray) -> tuple[float, float, int]:
    x = np.asarray(x, float)
    ok = x[np.isfinite(x)]
    if len(ok) < 0.9 * len(x):  # the metric is undefined on too many resamples
        return float("nan"), float("nan"), int(len(x) - len(ok))
    a = (1 - LEVEL) / 2
    lo, hi = np.quantile(ok, [a, 1 - a])
    return float(lo), float(hi), int(len(x) - len(ok))


def router_intervals(boot: Bootstrap, scores, seeds, model: str, key: str | None = None) -> pd.DataFrame:
    """One row per metric: mean over seeds, seed sd, 95 % bootstrap interval, n_seeds."""
    r = boot.metric_draws(scores, seeds, key)
    rows = []
    for m in METRIC_NAMES:
        vals = r["point"][m].to_numpy(float)
        lo, hi, n_nan = _interval(r["draws"][m])
        rows.append({"model": model, "metric": m, "value": float(np.mean(vals)),
                     "seed_sd": float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0,
                     "ci_low": lo, "ci_high": hi, "n_seeds": len(vals), "n_undefined": n_nan})
    return pd.DataFrame(rows)


def difference(boot: Bootstrap, a: tuple, b: tuple, kind: str = "compare") -> pd.DataFrame:
    """Paired difference ``a - b`` per metric; a, b = (model name, scores, seeds[, cache key]).

    Columns: model_a, model_b, metric, a, b, diff, ci_low, ci_high, seed_diffs (the per-seed
    differences where both share a seed), verdict (``verdict_word`` of the interval)."""
    ra = boot.metric_draws(*a[1:3], a[3] if len(a) > 3 else None)
    rb = boot.metric_draws(*b[1:3], b[3] if len(b) > 3 else None)
    pa, pb = ra["point"].set_index("seed"), rb["point"].set_index("seed")
    shared = sorted(set(pa.index) & set(pb.index))
    rows = []
    for m in METRIC_NAMES:
        with np.errstate(invalid="ignore"):  # NaN = metric undefined on a resample; counted by _interval
            lo, hi, n_nan = _interval(ra["draws"][m] - rb["draws"][m])
        va, vb = float(pa[m].mean()), float(pb[m].mean())
        rows.append({"model_a": a[0], "model_b": b[0], "metric": m, "a": va, "b": vb, "diff": va - vb,
                     "ci_low": lo, "ci_high": hi,
                     "seed_diffs": " ".join(f"{pa.loc[s, m] - pb.loc[s, m]:+.4g}" for s in shared),
                     "n_undefined": n_nan, "verdict": verdict_word(lo, hi, m, kind)})
    return pd.DataFrame(rows)
