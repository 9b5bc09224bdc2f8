"""A text's features do not depend on the texts it is batched with (issue 24, item 6).

``encoders.length_batches`` gives every forward pass one token length and a fixed number of rows,
so a text encoded alone, beside much longer / shorter texts, or beside other texts of its own
length gets bit-identical floats. With the old padded batching (sorted by length, cut every
``batch_size`` rows) these tests fail: padding moves the last bits, and so does the number of rows.
"""
import numpy as np

from ragrouter_lib.features import encoders
from ragrouter_lib.pipeline import sampling

TARGETS = ["What is 2+2?", "Name the capital of France.", "Write a haiku about the sea in autumn, please.",
           "Solve for x: 3x + 5 = 20. Show your steps."]
LONG = " ".join(["The quick brown fox jumps over the lazy dog while the committee debates the budget."] * 12)
MATES = [LONG, "Hi", LONG[:200], "ok?", LONG[:400], "Who wrote Hamlet?"]


def _mixes():
    """(texts, positions of TARGETS in texts): each target among longer, shorter and same-length
    texts (TARGETS 0 and 1 have one token length under MiniLM), in two different orders."""
    a = MATES[:2] + TARGETS + MATES[2:]
    b = TARGETS[::-1] + MATES[::-1] + [TARGETS[1]] * 10
    return [(a, [2, 3, 4, 5]), (b, [3, 2, 1, 0])]


def _row(packed, i):
    off = packed["offsets"]
    return packed["states"][off[i]:off[i + 1]]


def test_grouping_one_length_every_index_fixed_size():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 12, size=300)
    for bs in (1, 3, 8, 64):
        batches = encoders.length_batches(lengths, bs)
        assert all(len(b) == bs for b in batches)  # every pass has the same number of rows
        assert all(len(set(lengths[b])) == 1 for b in batches)  # and one length: no padding
        flat = np.concatenate(batches)
        assert set(flat) == set(range(len(lengths)))  # every index appears
        assert sum(len(set(b)) for b in batches) == len(lengths)  # once (repeats only as filler in its batch)
        for b in batches:  # filler repeats the batch's last real row only
            first = list(b).index(b[-1])
            assert len(set(b[:first + 1])) == first + 1 and set(b[first:]) == {b[-1]}
        again = encoders.length_batches(lengths, bs)
        assert all(np.array_equal(x, y) for x, y in zip(batches, again))  # deterministic
    keys = [(lengths[b[0]], b[0]) for b in encoders.length_batches(lengths, 8)]
    assert keys == sorted(keys)  # by length, then by index
    assert encoders.length_batches([], 8) == []


def test_minilm_embeddings_and_token_states_ignore_batch_mates():
    alone = [encoders.encode([t], "minilm", 128, 8, 5, False) for t in TARGETS]
    for texts, pos in _mixes():
        mixed = encoders.encode(texts, "minilm", 128, 8, 5, False)
        for j, i in enumerate(pos):
            assert mixed["pooled"][i].tobytes() == alone[j]["pooled"][0].tobytes(), (texts[i], j)
            assert _row(mixed, i).tobytes() == _row(alone[j], 0).tobytes(), (texts[i], j)


def test_smollm2_perplexity_ignores_batch_mates():
    texts, pos = [LONG, TARGETS[0], "Hi", TARGETS[1], TARGETS[2]], [1, 3, 4]  # few lengths: a cheap test
    with encoders.feature_cache(enabled=False):  # computed here, whatever the cache holds
        alone = np.array([sampling.perplexities([t], progress=False)[0] for t in TARGETS[:3]])
        mixed = sampling.perplexities(texts, progress=False)[pos]
    assert mixed.tobytes() == alone.tobytes()


def test_cache_switch_covers_the_by_product_stores(monkeypatch, tmp_path):
    """``sentence_embeddings`` also stores token states, ``perplexities`` LM states (a ``store``
    outside ``cached``): with the switch off neither is written."""
    monkeypatch.setenv("RAGROUTER_CACHE", str(tmp_path))
    with encoders.feature_cache(enabled=False):
        encoders.sentence_embeddings(TARGETS[:2], progress=False)
    assert not any(tmp_path.rglob("*"))
    encoders.sentence_embeddings(TARGETS[:2], progress=False)
    kinds = {p.name.split("-")[0] for p in (tmp_path / "features").iterdir()}
    assert kinds == {"sentence", "tokens"}


def test_extractor_vectors_ignore_batch_mates_and_pass_size():
    """RAGRouter's extractor embeds in passes of ``EMBED_BATCH`` rows: a text's h_fuse_global is
    the same alone and among longer, shorter and same-length texts."""
    import torch
    from ragrouter_lib import routers
    from ragrouter_lib.features import syntax
    from ragrouter_lib.routers import ragrouter_parts as ragrouter
    from ragrouter_lib.routers.ragrouter_parts import FeatureExtractor

    r = routers.get_router("ragrouter", seed=0)
    torch.manual_seed(0)
    r.extractor = FeatureExtractor(d_sem=384, n_dep=len(syntax.dep_labels()))
    texts, pos = _mixes()[1]
    with encoders.feature_cache(enabled=False):
        alone = [r._embed(r._inputs([t]))[0] for t in TARGETS]
        inp = r._inputs(texts)
        default = r._embed(inp)
    assert ragrouter.EMBED_BATCH > 1
    for j, i in enumerate(pos):
        assert default[i].tobytes() == alone[j].tobytes(), (texts[i], j)


def test_graph_memo_gives_the_same_batches():
    """``syntax.build_graphs`` with a per-row memo (the extractor's training epochs) returns the batch
    it builds without one, also when every row comes from the memo and in another batch order."""
    from ragrouter_lib.features import syntax
    texts = TARGETS + MATES
    tok = encoders.token_states(texts, "minilm", layer=5, max_len=128, progress=False)
    parsed, wp = syntax.parses(texts, progress=False), syntax.wordpiece_offsets(texts, "minilm", 128)

    def batch(idx, memo=None):
        g, sem, pos, dep, counts = syntax.build_graphs(parsed, idx, [wp[i] for i in idx], tok["states"],
                                                       tok["offsets"], memo=memo)
        return [*(x.numpy().tobytes() for x in (*g.edges(), sem, pos, dep)), counts]
    memo = {}
    for idx in ([0, 3, 5, 9], [9, 5, 3, 0], [1, 2, 4, 6, 7, 8]):
        plain = batch(idx)
        assert batch(idx, memo) == plain and batch(idx, memo) == plain  # filled, then read
    assert sorted(memo) == list(range(len(texts)))


def test_row_graphs_are_built_once_per_text(monkeypatch):
    """RAGRouter's inputs share one store of row graphs (``RowGraphs``): a second input set with the
    same texts (another fit, another seed's scoring) builds none, and its vectors are the same."""
    import torch
    from ragrouter_lib import routers
    from ragrouter_lib.features import syntax
    from ragrouter_lib.routers.ragrouter_parts import RowGraphs
    from ragrouter_lib.routers.ragrouter_parts import FeatureExtractor

    r = routers.get_router("ragrouter", seed=0)
    torch.manual_seed(0)
    r.extractor = FeatureExtractor(d_sem=384, n_dep=len(syntax.dep_labels()))
    monkeypatch.setattr(RowGraphs, "store", {})
    built, row_graph = [], syntax.row_graph
    monkeypatch.setattr(syntax, "row_graph", lambda *a: built.append(a[1]) or row_graph(*a))
    with encoders.feature_cache(enabled=False):
        first = r._embed(r._inputs(TARGETS + MATES))
        n = len(built)
        again = r._embed(r._inputs(MATES[::-1] + TARGETS))
    assert n == len(TARGETS + MATES) and len(built) == n  # every row once, then none
    assert again[len(MATES):].tobytes() == first[:len(TARGETS)].tobytes()
    monkeypatch.setattr(RowGraphs, "MAX_ROWS", 3)  # past the bound the store starts again
    monkeypatch.setattr(RowGraphs, "store", {})
    with encoders.feature_cache(enabled=False):
        bounded = r._embed(r._inputs(TARGETS + MATES))
    assert 0 < len(RowGraphs.store) <= 3 and bounded.tobytes() == first.tobytes()
