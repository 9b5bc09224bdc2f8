"""Per-source transfer table and the pool-option chooser (pool v2, issue 13).

Thesis step: the training data's composition. The evaluation sets are one source each, so what
matters is whether a router trained on the *other* sources ranks prompts *within* a new source;
this module measures it with a cheap reference model and uses that number, never MMLU/GSM8K
evaluation rows, to choose the pool's options (which sources are on, what a both-fail row means).

- ``encoder_inputs`` / ``distinct_inputs``: what MiniLM (128 tokens) actually reads of each row,
  before (raw text, head-only truncation: the old pipeline) and after (question, ``text`` rule);
- ``loso_auc``: leave-one-source-out within-source ROC-AUC of a logistic regression on MiniLM
  sentence embedding + log token length (scikit-learn defaults, C = 1, not tuned), with or without
  source fixed effects (one-hot source as a training input, set to zero at scoring: within-source
  ranking then comes from the slopes fitted after the sources' base rates are absorbed);
- ``transfer_table``: per source rows, score distribution, strong-needed and both-fail rates,
  distinct encoder inputs before/after, Spearman rho(token length, strong needed), LOSO AUCs;
- ``choose_options``: every combination of new sources on/off and ``both_fail`` policy scored by
  the LOSO criterion on a fixed target.

**Fixed target (why policies are comparable).** The both-fail policy changes labels, so each held-
out source is scored only on its rows whose label does not depend on the policy (rows with
``both_fail`` False), and the criterion averages over the same target sources for every option
(the sources of ``pool_labels.DEFAULT_SOURCES``; the new sources' own LOSO AUCs are shown beside it).
The criterion is the row-weighted mean of the target sources' AUCs (the unweighted mean is shown too).
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from ..core import text
from ..features import encoders
from . import pool_labels


# ----------------------------------------------------------------------------- encoder inputs
def encoder_inputs(texts, rule: str = "window", max_len: int = 128, encoder: str = "minilm") -> list[tuple]:
    """Token ids the encoder reads: ``window`` = ``text.encode_window`` (the shared rule), ``head``
    = the first ``max_len`` tokens (the rule before pool v2)."""
    tok = encoders.load_encoder(encoder)[0]
    if rule == "window":
        return [tuple(x) for x in text.encode_window(tok, list(texts), max_len)]
    if rule == "head":
        return [tuple(x) for x in tok(list(texts), truncation=True, max_length=max_len)["input_ids"]]
    raise ValueError(f"rule must be 'window' or 'head', got {rule!r}")


def token_lengths(texts, encoder: str = "minilm") -> np.ndarray:
    """Untruncated token count of each text (the encoder's tokenizer, special tokens excluded)."""
    tok = encoders.load_encoder(encoder)[0]
    return np.array([len(x) for x in tok(list(texts), add_special_tokens=False, verbose=False)["input_ids"]])


def distinct_inputs(pool: pd.DataFrame, max_len: int = 128) -> pd.DataFrame:
    """Per source: rows, distinct questions, distinct encoder inputs before (raw text, head-only
    truncation) and after pool v2 (question, ``text`` rule)."""
    before = encoder_inputs(pool.prompt_raw, "head", max_len)
    after = encoder_inputs(pool.prompt, "window", max_len)
    df = pd.DataFrame({"source": pool.source.to_numpy(), "q": pool.prompt.to_numpy(),
                       "before": before, "after": after})
    return (df.groupby("source").agg(rows=("q", "size"), distinct_questions=("q", "nunique"),
                                     distinct_inputs_before=("before", "nunique"),
                                     distinct_inputs_after=("after", "nunique"))
            .reset_index())


def per_source_sample(pool: pd.DataFrame, limit: int | None, seed: int = 0) -> pd.DataFrame:
    """``pool`` itself when ``limit`` is None (offline); else a seeded sample of about ``limit``
    rows spread evenly over the sources (smoke profile), original order kept."""
    if not limit or limit >= len(pool):
        return pool
    per = max(2, limit // pool.source.nunique())
    idx = [g.sample(n=min(len(g), per), random_state=seed).index for _, g in pool.groupby("source")]
    out = pool.loc[np.sort(np.concatenate(idx))]
    out.attrs.update(pool.attrs)
    return out


# ----------------------------------------------------------------------------- LOSO reference model
def design(emb, lengths) -> np.ndarray:
    """The reference model's inputs: unit embedding + standardised log(1 + token length)."""
    ll = np.log1p(np.asarray(lengths, float))
    ll = (ll - ll.mean()) / max(ll.std(), 1e-9)
    return np.hstack([np.asarray(emb, np.float32), ll[:, None].astype(np.float32)])


def loso_auc(X, y, source, weight=None, target=None, fixed_effects: bool = True,
             held_out=None, C: float = 1.0) -> pd.Series:
    """Leave-one-source-out within-source ROC-AUC, one value per held-out source.

    For each source s in ``held_out`` (default: all): fit on the rows of every other source (with
    ``weight``), score the rows of s where ``target`` is True (default: all); NaN when they hold
    one class. ``fixed_effects``: one-hot training source appended to X for the fit, zero when scoring.
    """
    X, y, source = np.asarray(X, np.float64), np.asarray(y).astype(int), np.asarray(source)
    weight = np.ones(len(y)) if weight is None else np.asarray(weight, float)
    target = np.ones(len(y), bool) if target is None else np.asarray(target, bool)
    if fixed_effects:  # one column per source; the held-out source's column is 0 on every training
        # row, so its L2-penalised coefficient is exactly 0: the same fit as dropping the column
        names = np.array(sorted(set(source)))
        X = np.hstack([X, (source[:, None] == names[None]).astype(np.float64)])
    # successive folds differ by one source: start each fit from the previous solution
    m = LogisticRegression(C=C, max_iter=1000, warm_start=True)
    out = {}
    for s in (sorted(set(source)) if held_out is None else held_out):
        tr, te = source != s, (source == s) & target
        if te.sum() == 0 or len(set(y[te])) < 2:
            out[s] = np.nan
            continue
        m.fit(X[tr], y[tr], sample_weight=weight[tr])
        Xte = X[te].copy()
        if fixed_effects:
            Xte[:, -len(names):] = 0.0  # scored without any source's offset
        out[s] = roc_auc_score(y[te], m.decision_function(Xte))
    return pd.Series(out, name="auc", dtype=float)


def criterion(aucs: pd.Series, rows: pd.Series) -> tuple[float, float]:
    """(row-weighted mean, plain mean) of per-source AUCs over the sources with a value."""
    a = aucs.dropna()
    w = rows.reindex(a.index).astype(float)
    return float((a * w).sum() / w.sum()), float(a.mean())


# ----------------------------------------------------------------------------- tables
def label_marginals(pool: pd.DataFrame) -> pd.DataFrame:
    """Per source: rows, share of each score 1-5, strong-needed rate, both-fail rate."""
    sc = pd.crosstab(pool.source, pool.score, normalize="index").reindex(columns=[1, 2, 3, 4, 5], fill_value=0)
    sc.columns = [f"score {c}" for c in sc.columns]
    g = pool.groupby("source")
    return pd.concat([g.size().rename("rows"), sc, g.strong_needed.mean().rename("strong needed"),
                      g.both_fail.mean().rename("both fail")], axis=1).reset_index()


def length_rho(pool: pd.DataFrame, lengths) -> pd.Series:
    """Within-source Spearman rho(token length, strong needed); NaN for a one-label source."""
    df = pd.DataFrame({"s": pool.source.to_numpy(), "n": np.asarray(lengths), "y": pool.strong_needed.to_numpy()})
    return df.groupby("s").apply(lambda g: spearmanr(g.n, g.y)[0] if g.y.nunique() > 1 else np.nan,
                                 include_groups=False).rename("spearman rho(length, strong needed)")


def transfer_table(pool: pd.DataFrame, emb=None, lengths=None, max_len: int = 128) -> pd.DataFrame:
    """The per-source transfer table of notebook 02 (see the module docstring). ``emb``: MiniLM
    sentence embeddings of ``pool.prompt`` (computed, cached, when None)."""
    emb = encoders.sentence_embeddings(pool.prompt, "minilm", max_len=max_len) if emb is None else emb
    lengths = token_lengths(pool.prompt) if lengths is None else lengths
    X = design(emb, lengths)
    y, src = pool.strong_needed.to_numpy(), pool.source.to_numpy()
    target = ~pool.both_fail.to_numpy(bool)
    tab = label_marginals(pool).merge(distinct_inputs(pool, max_len).drop(columns="rows"), on="source")
    tab = tab.merge(length_rho(pool, lengths).rename_axis("source").reset_index(), on="source")
    for fe in (False, True):
        a = loso_auc(X, y, src, pool.weight.to_numpy(), target, fixed_effects=fe)
        tab[f"LOSO AUC{' + source FE' if fe else ''}"] = tab.source.map(a)
    return tab


def choose_options(full: pd.DataFrame, emb, lengths=None, new_sources=pool_labels.NEW_SOURCES,
                   policies=pool_labels.BOTH_FAIL_POLICIES, fixed_effects=(True,),
                   target_sources=pool_labels.DEFAULT_SOURCES) -> pd.DataFrame:
    """Score every option (subset of ``new_sources`` on x ``both_fail`` policy x fixed effects)
    by LOSO on the fixed target (module docstring). ``full``: ``pool_labels.build_pool`` with every
    source on and the default policy; ``emb`` its embeddings (row-aligned). Sorted best first."""
    lengths = token_lengths(full.prompt) if lengths is None else np.asarray(lengths)
    full = full.assign(_row=np.arange(len(full)))
    target_sources = [s for s in target_sources if s in set(full.source)]
    rows = []
    for k in range(len(new_sources) + 1):
        for on in itertools.combinations(new_sources, k):
            keep = [s for s in full.source.unique() if s not in new_sources or s in on]
            for policy in policies:
                pool = pool_labels.apply_both_fail(full[full.source.isin(keep)], policy)
                idx = pool["_row"].to_numpy()
                X = design(np.asarray(emb)[idx], lengths[idx])
                # the fixed target: label as in ``full`` (policy-independent rows only)
                target = ~pool.both_fail.to_numpy(bool)
                for fe in fixed_effects:
                    a = loso_auc(X, pool.strong_needed.to_numpy(), pool.source.to_numpy(),
                                 pool.weight.to_numpy(), target, fixed_effects=fe,
                                 held_out=[*target_sources, *on])
                    n = pool[target].groupby("source").size()
                    wmean, mean = criterion(a.reindex(target_sources), n)
                    rows.append({"new sources on": "+".join(on) or "none", "both_fail": policy,
                                 "source FE": fe, "LOSO AUC (row-weighted)": wmean,
                                 "LOSO AUC (mean)": mean, "rows": len(pool),
                                 **{f"AUC {s}": a.get(s, np.nan) for s in new_sources}})
    return pd.DataFrame(rows).sort_values("LOSO AUC (row-weighted)", ascending=False).reset_index(drop=True)
