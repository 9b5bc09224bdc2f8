"""The component card: each thesis part's own check, its number, its target, met or not (issue 25).

Thesis step: the four parts Tables 3-6 judge (multi-source data augmentation, perplexity-based
dynamic sampling, semantic-syntactic feature extraction (CM-MHA), the RAG vector knowledge base)
plus the latency the thesis's deployment implies. An ablation judges a part only once the part does
its job on its own check, so notebook 07 shows this card beside Tables 3-6. Every line is computed
from the run's result CSVs (written by notebooks 04, 05 and 07), never typed:

- augmentation: the independent check's error rate on 150 accepted variants (Gemma-3-270M perplexity
  ratio and MiniLM cosine, ``04_augmentation_check``; target <= 0.10) and the reading audit's share
  judged ok (``04_augmentation_audit``; target >= 0.90);
- sampling: the chosen LM's within-source rho(level, strong needed) with its interval
  (``04_difficulty_signal``; target: interval above 0; "off" chosen = not met);
- feature extraction: fused (CM-MHA) minus plain sentence embedding, within-source AUC on held-out
  sources with an interval over sources (``07_feature_check``'s first probe; target: interval above 0);
- knowledge base: the kNN vote's mean within-source AUC over held-out sources with the KB RAGRouter
  holds, interval over sources by bootstrap (``05_kb_held_out``; target: interval above 0.5);
- latency: RAGRouter's single-query p50 over BERT's in the same run (``05_latency``; target <= 2).

A check whose file is missing reads "not measured in this run" with ``met`` empty.

>>> bool(card(Path("/nonexistent")).met.isna().all())
True
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..core.seeding import step_seed
from ..pipeline import aug_check

CARD = "07_component_card"  # the results CSV (its name contains `component`, with a `met` column)
NOT_MEASURED = "not measured in this run"
PARTS = {3: "multi-source data augmentation", 4: "perplexity-based dynamic sampling",
         5: "semantic-syntactic feature extraction (CM-MHA)", 6: "RAG vector knowledge base", 0: "deployment"}
COLUMNS = ["table", "component", "check", "value", "ci_low", "ci_high", "target", "met", "file"]


def _read(res: Path, name: str) -> pd.DataFrame | None:
    p = res / f"{name}.csv"
    return pd.read_csv(p, keep_default_na=False, na_values=[""]) if p.exists() else None


def _line(t: int, check: str, file: str, value=np.nan, lo=np.nan, hi=np.nan, target="", met=None) -> dict:
    return {"table": t, "component": PARTS[t], "check": check, "value": value, "ci_low": lo, "ci_high": hi,
            "target": target, "met": met, "file": f"{file}.csv"}


def _missing(t: int, check: str, file: str) -> dict:
    return _line(t, f"{check}: {NOT_MEASURED}", file)


def mean_interval(x, seed: int, step: str, n_boot: int = 1000) -> tuple[float, float, float]:
    """Mean of ``x`` and its 95 % bootstrap interval (seeded by ``step_seed``)."""
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return (float(x.mean()) if len(x) else np.nan), np.nan, np.nan
    m = x[np.random.default_rng(step_seed(seed, step)).integers(0, len(x), (n_boot, len(x)))].mean(1)
    return float(x.mean()), float(np.quantile(m, 0.025)), float(np.quantile(m, 0.975))


def augmentation_lines(res: Path) -> list[dict]:
    out = []
    chk = _read(res, "04_augmentation_check")
    if chk is None or "error" not in chk:
        out.append(_missing(3, "independent check (Gemma-3-270M perplexity, MiniLM cosine) error rate", "04_augmentation_check"))
    else:
        rate = float(chk.error.astype(bool).mean())
        lms = "Gemma-3-270M perplexity, MiniLM cosine" if aug_check.GEMMA_FLAG in chk else "MiniLM cosine only"
        out.append(_line(3, f"independent check ({lms}) error rate on {len(chk)} accepted variants",
                         "04_augmentation_check", rate, target="<= 0.10", met=rate <= 0.10))
    aud = _read(res, "04_augmentation_audit")
    if aud is None or "verdict" not in aud:
        out.append(_missing(3, "reading audit share ok", "04_augmentation_audit"))
    else:
        ok = float((aud.verdict.astype(str) == "ok").mean())
        out.append(_line(3, f"reading audit: share of {len(aud)} accepted variants judged ok", "04_augmentation_audit",
                         ok, target=">= 0.90", met=ok >= 0.90))
    return out


def sampling_line(res: Path) -> dict:
    sig = _read(res, "04_difficulty_signal")
    if sig is None or "chosen" not in sig:
        return _missing(4, "within-source rho(perplexity level, strong needed)", "04_difficulty_signal")
    chosen = sig[sig.chosen.astype(str).str.lower() == "true"]
    name = str(chosen.signal.iloc[0]) if len(chosen) else "off"
    if name == "off":
        best = sig[sig.signal != "off"].sort_values("rho_level").iloc[-1]
        return _line(4, f"within-source rho(level, strong needed): no LM qualifies (best: {best.signal}), sampling "
                        "uses no perplexity", "04_difficulty_signal", best.rho_level, best.lo, best.hi,
                     "interval above 0", False)
    r = chosen.iloc[0]
    return _line(4, f"within-source rho(level, strong needed), {name} (chosen), {int(r.rows)} rows",
                 "04_difficulty_signal", r.rho_level, r.lo, r.hi, "interval above 0", bool(r.lo > 0))


def feature_line(res: Path) -> dict:
    fc = _read(res, "07_feature_check")
    if fc is None or not len(fc):
        return _missing(5, "fused minus plain sentence embedding, held-out within-source AUC", "07_feature_check")
    r = fc.iloc[0]
    return _line(5, str(r.check), "07_feature_check", r.value, r.ci_low, r.ci_high, "interval above 0", bool(r.ci_low > 0))


def kb_line(res: Path, seed: int = 0) -> dict:
    held = _read(res, "05_kb_held_out")
    if held is None or "AUC" not in held:
        return _missing(6, "kNN vote on held-out sources, within-source AUC", "05_kb_held_out")
    kb = "chosen" if (held.kb == "chosen").any() else str(held.kb.iloc[0])
    g = held[held.kb == kb]
    m, lo, hi = mean_interval(g.AUC, seed, "components/kb")
    return _line(6, f"kNN vote of the chosen KB ({kb!r}) on {len(g)} held-out sources: mean within-source AUC "
                    "(interval over sources)", "05_kb_held_out", m, lo, hi, "interval above 0.5", bool(lo > 0.5))


def latency_line(res: Path, target: float = 2.0) -> dict:
    lat = _read(res, "05_latency")
    if lat is None or not {"bert", "ragrouter"} <= set(lat.router):
        return _missing(0, "single-query p50 latency, RAGRouter / BERT", "05_latency")
    p = lat.set_index("router").p50_ms
    ratio = float(p["ragrouter"] / p["bert"])
    return _line(0, f"single-query p50 latency, RAGRouter {p['ragrouter']:.1f} ms / BERT {p['bert']:.1f} ms (same run)",
                 "05_latency", ratio, target=f"<= {target:g}", met=ratio <= target)


def card(results_dir, seed: int = 0) -> pd.DataFrame:
    """One line per check (module docstring); ``met`` True / False, empty where not measured."""
    res = Path(results_dir)
    rows = [*augmentation_lines(res), sampling_line(res), feature_line(res), kb_line(res, seed), latency_line(res)]
    out = pd.DataFrame(rows, columns=COLUMNS)
    out["met"] = out.met.astype(object)
    return out


def for_table(tab: pd.DataFrame, t: int) -> pd.DataFrame:
    """The card's lines of Table ``t``'s part (shown beside that ablation)."""
    return tab[tab.table == t].reset_index(drop=True)
