"""What a router reads of a prompt: shared few-shot preambles removed, one truncation rule.

Thesis step: the input text of every encoder (semantic features, KB vectors, baselines). Two
defects of the offline pool motivate this module (issue 13): every RouterBench ARC-Challenge and
Winogrande row starts with the same 1.2-1.7k characters of few-shot examples, so an encoder that
reads the first 128 tokens sees one identical input per source; and any long user prompt loses its
question (which comes last) to head-only truncation.

**Preamble removal** (training side, per source; ``strip_preambles``): the preamble is detected
from the data, never typed by hand: the longest prefix that at least ``min_share`` of a source's
rows share verbatim (rows must continue after it), cut back to the last blank line inside it (else
the last line break) so the question's own first line stays whole. It is removed only if the cut
prefix is at least ``min_chars`` long: a short shared opening such as ``Question:`` or a one-line
instruction fits the window and stays. The question keeps its options and instructions.

**Truncation rule** (every encoder and LM, any input; ``truncate_ids``/``encode_window``): when a
tokenised prompt is longer than the window, keep its first ``HEAD_SHARE`` of the window's tokens
and fill the rest with its last tokens (special tokens such as [CLS]/[SEP] are kept in place and
do not count). The head names the task, the tail carries the question actually asked (after a
preamble, a document or a chat history). A prompt that fits is tokenised exactly as before.

>>> truncate_ids(list(range(10)), 6)
[0, 1, 6, 7, 8, 9]
>>> truncate_ids([1, 2, 3], 6)
[1, 2, 3]
"""
from __future__ import annotations

import math
from collections import Counter

import pandas as pd

HEAD_SHARE = 0.25  # share of the window kept from the start of an over-long prompt
TRUNCATION_RULE = f"head{HEAD_SHARE:g}+tail"  # part of every feature cache key that tokenises


def truncate_ids(ids: list, max_len: int, head_share: float = HEAD_SHARE) -> list:
    """``ids`` itself when it fits in ``max_len``; else its first ceil(head_share * max_len) and
    its last max_len - that many items."""
    ids = list(ids)
    if max_len <= 0:
        raise ValueError(f"max_len must be positive, got {max_len}")
    if len(ids) <= max_len:
        return ids
    head = min(max_len, math.ceil(head_share * max_len))
    tail = max_len - head
    return ids[:head] + (ids[len(ids) - tail:] if tail else [])


def window_positions(ids, special, max_len: int, head_share: float = HEAD_SHARE) -> list[int]:
    """Positions of ``ids`` that the window keeps: leading/trailing special tokens stay where they
    are; ``truncate_ids`` applies to the content tokens between them. Shared by ``encode_window``
    and every per-token view that must stay aligned with it (e.g. word-piece character offsets)."""
    n = len(ids)
    if n <= max_len:
        return list(range(n))
    a = 0
    while a < n and ids[a] in special:
        a += 1
    b = n
    while b > a and ids[b - 1] in special:
        b -= 1
    budget = max_len - a - (n - b)
    if budget <= 0:
        raise ValueError(f"max_len {max_len} leaves no room for content tokens")
    return list(range(a)) + truncate_ids(list(range(a, b)), budget, head_share) + list(range(b, n))


def encode_window(tok, texts, max_len: int, head_share: float = HEAD_SHARE, offsets: bool = False):
    """Token ids of ``texts`` (with the tokenizer's special tokens) cut to ``max_len`` by
    ``window_positions``: the drop-in replacement of ``tok(texts, truncation=True, max_length=max_len)``.
    With ``offsets=True`` also returns each kept token's character span (fast tokenizers)."""
    special = set(getattr(tok, "all_special_ids", []) or [])
    enc = tok(list(texts), truncation=False, verbose=False, return_offsets_mapping=offsets)
    out, spans = [], []
    for j, ids in enumerate(enc["input_ids"]):
        keep = window_positions(ids, special, max_len, head_share)
        out.append([ids[i] for i in keep])
        if offsets:
            spans.append([tuple(enc["offset_mapping"][j][i]) for i in keep])
    return (out, spans) if offsets else out


# ----------------------------------------------------------------------------- preambles
def shared_prefix(texts, min_share: float = 0.5) -> str:
    """The longest prefix that at least ``min_share`` of ``texts`` share verbatim and continue past."""
    texts = [str(t) for t in texts]
    need = max(2, math.ceil(min_share * len(texts)))
    if len(texts) < need:
        return ""

    def best(n):  # the most common n-character prefix among texts longer than n, and its count
        c = Counter(t[:n] for t in texts if len(t) > n)
        return c.most_common(1)[0] if c else ("", 0)
    lo, hi = 0, max(len(t) for t in texts)
    while lo < hi:  # the count of the most common prefix never grows with its length
        mid = (lo + hi + 1) // 2
        if best(mid)[1] >= need:
            lo = mid
        else:
            hi = mid - 1
    return best(lo)[0] if lo else ""


def detect_preamble(texts, min_share: float = 0.5, min_chars: int = 200) -> str:
    """The shared few-shot preamble of one source's rows ('' when there is none): the shared
    prefix cut at its last blank line (else line break), kept only if >= ``min_chars`` long."""
    pre = shared_prefix(texts, min_share)
    cut = pre.rfind("\n\n")
    cut = cut + 2 if cut >= 0 else pre.rfind("\n") + 1
    pre = pre[:cut]
    return pre if len(pre) >= min_chars else ""


def strip_preambles(texts, groups, min_share: float = 0.5, min_chars: int = 200):
    """(questions, {group: preamble}): each text without its group's detected preamble."""
    texts = pd.Series(list(texts), dtype=object)
    groups = pd.Series(list(groups), index=texts.index)
    out = texts.copy()
    found = {}
    for g, idx in groups.groupby(groups, sort=True).groups.items():
        pre = detect_preamble(texts[idx], min_share, min_chars)
        found[g] = pre
        if pre:
            sub = texts[idx]
            has = sub.str.startswith(pre)
            out[sub.index[has]] = sub[has].str.slice(len(pre))
    return out.tolist(), found
