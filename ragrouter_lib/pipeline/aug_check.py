"""Checks of the augmentation that its gate does not use (thesis: Table 3's augmentation keeps
"high-quality" rows; the thesis's LLM judge cannot run offline, so these measure what the gate
``pipeline.aug_gate`` keeps instead).

- ``independent_check``: a seeded sample of accepted variants (150 in notebook 04), each judged on
  its question stem by Gemma-3-270M's perplexity over the source's (> ``CHECK["max_ppl_ratio"]``:
  reads worse) and the MiniLM cosine of the two stems (< ``CHECK["min_cosine"]``: the meaning, hence
  the inherited label, may have moved). The gate reads SmolLM2, never Gemma or MiniLM. If Gemma
  cannot load, the check says why and runs on MiniLM alone (``attrs["summary"]["lm"]``).
- ``audit_sample`` / ``load_audit``: the reading audit. A seeded sample of 100 accepted variants
  (the first 100 in the augmentation's hash-seeded visit order);
  the committed judgments (``data/audit/augmentation_audit.csv``: ``pool_id``, ``variant``,
  ``verdict`` ok / broken / meaning changed, ``note``), written by a person who read each pair,
  are joined on (pool_id, variant text); a sampled variant without a judgment gets the verdict
  ``unjudged`` (a stale audit is shown, not hidden).
Deviation: judgments by one reader, not the thesis's LLM judge.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.cache import REPO
from ..core.seeding import step_seed
from ..features import gemma_lm
from ..features.encoders import sentence_embeddings
from .augmentation import LM_FLAG, LM_REASON, row_seed
from .variants import split_stem

CHECK = dict(max_ppl_ratio=1.5, min_cosine=0.85, max_len=96, target_error_rate=0.10)
AUDIT = dict(n=100, path=REPO / "data" / "audit" / "augmentation_audit.csv", target_ok=90)
VERDICTS = ("ok", "broken", "meaning changed")
GEMMA_FLAG = "reads worse (Gemma)"  # the independent check's column
READS_WORSE = (LM_FLAG, LM_REASON, GEMMA_FLAG)  # every "reads worse" flag's name (a measured check, no comparison)


def seeded_sample(frame: pd.DataFrame, n: int, seed: int, step: str) -> pd.DataFrame:
    rng = np.random.default_rng(step_seed(seed, step))
    idx = np.sort(rng.choice(len(frame), size=min(n, len(frame)), replace=False))
    return frame.iloc[idx].reset_index(drop=True)


def gemma_perplexities(texts, max_len: int = CHECK["max_len"]) -> np.ndarray:
    """Gemma-3-270M perplexity of each text's first ``max_len`` tokens (``features.gemma_lm``: the
    library's one Gemma loader, cached per text)."""
    return gemma_lm.perplexities(list(texts), max_len=max_len, progress=False)


def independent_check(pairs: pd.DataFrame, n: int = 150, seed: int = 0, check: dict = CHECK,
                      gemma: bool = True) -> pd.DataFrame:
    """Gemma perplexity ratio and MiniLM cosine of a seeded sample of ``n`` accepted variants
    (``pairs``: ``augmentation.variant_pairs``); ``error`` when either check fails. ``attrs["summary"]``:
    each rate, the error rate, n, which LM ran (a dict; ``error_by_op``: the rate per operation)."""
    s = seeded_sample(pairs, n, seed, "augment/independent-check")
    src = [split_stem(t)[1] for t in s.source_text]
    var = [split_stem(t)[1] for t in s.variant]
    checks, lm = [], "gemma3-270m"
    try:
        if not gemma:  # the smoke profile: Gemma's one-time conversion costs minutes
            raise RuntimeError("not run in this profile (gemma_checks=False)")
        p = gemma_perplexities(src + var, check["max_len"])
        s["gemma_ppl_ratio"] = p[len(src):] / p[: len(src)]
        s[GEMMA_FLAG] = s.gemma_ppl_ratio > check["max_ppl_ratio"]
        checks.append(GEMMA_FLAG)
    except Exception as e:  # noqa: BLE001 - the check says why it ran without Gemma
        lm = f"unavailable: {type(e).__name__}: {str(e)[:120]}"
    es, ev = sentence_embeddings(src, progress=False), sentence_embeddings(var, progress=False)
    s["cosine"] = (es * ev).sum(1)
    s["meaning moved (MiniLM)"] = s.cosine < check["min_cosine"]
    checks.append("meaning moved (MiniLM)")
    s["error"] = s[checks].any(axis=1)
    s.attrs["summary"] = {**{c: round(float(s[c].mean()), 3) for c in checks},
                          "error_rate": round(float(s.error.mean()), 3), "n": len(s),
                          "target": check["target_error_rate"],
                          "met": bool(s.error.mean() <= check["target_error_rate"]), "lm": lm}
    return s


def error_by_op(checked: pd.DataFrame) -> pd.DataFrame:
    """The independent check's error rate per operation."""
    return checked.groupby("op").agg(n=("error", "size"), error_rate=("error", "mean")).round(3)


# ----------------------------------------------------------------------------- reading audit
def audit_sample(augmented: pd.DataFrame, original: pd.DataFrame, n: int = AUDIT["n"], draw: int = 0) -> pd.DataFrame:
    """The accepted variants the reading audit judges: the first ``n`` in the augmentation's own
    seeded visit order (``augmentation.row_seed(source_id, draw)``, a hash independent of the text),
    i.e. a seeded random sample that is the same for every run that got that far, so the committed
    judgments stay valid while the gate's code is unchanged. Columns: ``pool_id``, ``op``, the source
    and variant stems for reading, ``variant`` (the full variant text, part of the key)."""
    text = dict(zip(original.pool_id, original.prompt))
    order = np.argsort([row_seed(i, draw) for i in augmented.source_id], kind="stable")
    s = augmented.iloc[order[:n]].reset_index(drop=True)
    return pd.DataFrame({"pool_id": s.pool_id, "op": s.op,
                         "source_stem": [split_stem(text.get(i, ""))[1] for i in s.source_id],
                         "variant_stem": [split_stem(v)[1] for v in s.prompt], "variant": s.prompt})


def load_audit(sample: pd.DataFrame, path=AUDIT["path"], target_ok: int = AUDIT["target_ok"]) -> pd.DataFrame:
    """``sample`` joined with the committed judgments on (pool_id, variant); a sampled variant with
    no judgment gets ``verdict`` "unjudged". ``attrs["summary"]`` (a dict): count per verdict, ok vs target."""
    try:
        judged = pd.read_csv(path, keep_default_na=False)[["pool_id", "variant", "verdict", "note"]]
    except FileNotFoundError:
        judged = pd.DataFrame(columns=["pool_id", "variant", "verdict", "note"])
    judged = judged.drop_duplicates(["pool_id", "variant"], keep="last")
    out = sample.merge(judged, on=["pool_id", "variant"], how="left")
    out["verdict"] = out.verdict.fillna("unjudged")
    out["note"] = out.note.fillna("no judgment for this variant: the audit is stale")
    counts = out.verdict.value_counts()
    ok = int(counts.get("ok", 0))
    out.attrs["summary"] = {**{v: int(counts.get(v, 0)) for v in (*VERDICTS, "unjudged")},
                            "n": len(out), "target_ok": target_ok, "met": ok >= target_ok}
    return out
