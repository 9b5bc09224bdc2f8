"""RAGRouter: feature shapes, GraphSAGE on real parses, FAISS recall, save/load, ablation switches."""
import numpy as np
import pytest
import torch

from ragrouter_lib import routers
from ragrouter_lib.core import cache
from ragrouter_lib.core.config import setup
from ragrouter_lib.runs import experiments
from ragrouter_lib.features import encoders, syntax
from ragrouter_lib.labels import pool_labels
from ragrouter_lib.routers.kb import KnowledgeBase
from ragrouter_lib.routers.ragrouter_parts import FeatureExtractor

TEXTS = ["The boy read the book in the library.", "How many apples does Sam have left after eating two?",
         "Which gas do plants absorb from the air during photosynthesis?"]
FAST = {"extractor_epochs": 2, "final_epochs": 4}


def _inputs(texts):
    tok = encoders.token_states(texts, "minilm", layer=5, max_len=128, progress=False)
    parse = syntax.parses(texts, progress=False)
    wp = syntax.wordpiece_offsets(texts)
    return tok, parse, wp


def test_graphsage_and_fusion_shapes_on_real_parses():
    tok, parse, wp = _inputs(TEXTS)
    g, node_sem, pos, dep, counts = syntax.build_graphs(parse, range(len(TEXTS)), wp, tok["states"], tok["offsets"])
    n_tokens = [len(parse["states"][parse["offsets"][i]:parse["offsets"][i + 1]]) for i in range(len(TEXTS))]
    assert counts == n_tokens  # every spaCy token aligned to at least one word-piece
    assert node_sem.shape == (sum(counts), 384)
    # edges: each non-root token to its head and back
    assert g.num_edges() == 2 * (sum(counts) - len(TEXTS))
    ex = FeatureExtractor(n_dep=len(syntax.dep_labels()))
    assert ex.h_syn(g, node_sem, pos, dep).shape == (sum(counts), 128)
    x, m = encoders.unpack(tok, range(len(TEXTS)))
    assert ex(x, m, g, node_sem, pos, dep, counts).shape == (len(TEXTS), 256)


def test_node_features_are_the_aligned_token_vectors():
    tok, parse, wp = _inputs(TEXTS[:1])
    _, node_sem, pos, _, _ = syntax.build_graphs(parse, [0], wp, tok["states"], tok["offsets"])
    states = tok["states"].astype(np.float32)
    # "boy" is one word-piece: its node vector is exactly that word-piece's state
    k = [i for i, (s, e) in enumerate(wp[0]) if TEXTS[0][s:e] == "boy"][0]
    assert torch.allclose(node_sem[1], torch.from_numpy(states[k]))
    assert syntax.UPOS[int(pos[1])] == "NOUN"


def test_faiss_ivf_recall_on_a_small_index():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(8, 32)) * 5
    vec = (centers[rng.integers(8, size=2000)] + rng.normal(size=(2000, 32))).astype(np.float32)
    kb = KnowledgeBase(vec, rng.integers(1, 6, size=2000))
    q = vec[:100] + 0.01
    table = kb.choose_nprobe(q, k=5)
    assert table["recall@5_ties"].is_monotonic_increasing and table["recall@5_ties"].iloc[-1] >= 0.95
    assert table.nprobe.iloc[-1] == kb.nlist  # searched up to nlist
    assert kb.nprobe == table[table["recall@5_ties"] >= 0.95].nprobe.iloc[0]
    _, idx = kb.search(q, 5)
    assert (idx[:, 0] == np.arange(100)).mean() > 0.9


def test_nprobe_is_chosen_for_queries_outside_the_kb():
    # probing with KB rows finds each query in its own list (k=1: recall 1.0 at nprobe 1); fresh queries
    # from the same distribution need far more lists, which the held-out probe sees
    centers = np.random.default_rng(1).normal(size=(20, 32)) * 0.5
    rng = np.random.default_rng(0)
    draw = lambda n: (centers[rng.integers(20, size=n)] + rng.normal(size=(n, 32))).astype(np.float32)  # noqa: E731
    vec, fresh = draw(3000), draw(300)
    kb = KnowledgeBase(vec, rng.integers(1, 6, size=3000))
    kb.choose_nprobe(vec[:500], k=1)
    naive = kb.nprobe
    kb.choose_nprobe_held_out(np.arange(3000) < 600, 1, np.random.default_rng(2))
    r = kb.recall(fresh, 1, nprobes=[naive, kb.nprobe]).set_index("nprobe")["recall@1_ties"]
    assert naive == 1 and kb.nprobe > naive
    assert r[naive] < 0.8 and r[kb.nprobe] >= 0.95


def test_recall_counts_equally_near_duplicates_fairly():
    """Exact duplicates tie at equal distance: an index that returns another member of a tied block
    than exact search does is not wrong; strict recall counts it as a miss, the tie-aware one not."""
    rng = np.random.default_rng(1)
    base = rng.normal(size=(400, 16)).astype(np.float32)
    vec = np.concatenate([base, base[:40]])  # row i and row 400 + i are the same vector (i < 40)
    kb = KnowledgeBase(vec, rng.integers(1, 6, size=len(vec)), nlist=8)
    q = base[:40] + 1e-3
    t = kb.recall(q, k=1, nprobes=[kb.nlist])
    assert t["recall@1_ties"].iloc[0] == 1.0 and t["dup_share"].iloc[0] == 1.0

    class Twin:  # returns the other copy of each query's nearest row
        nprobe = 1

        def search(self, x, k):
            d, i = kb.exact(x, k)
            return d, np.where(i < 40, i + 400, i - 400)
    kb.index = Twin()
    t = kb.recall(q, k=1, nprobes=[kb.nlist])
    assert t["recall@1"].iloc[0] == 0.0 and t["recall@1_ties"].iloc[0] == 1.0

    class Wrong(Twin):  # a truly farther row is still a miss
        def search(self, x, k):
            d, i = kb.exact(x, k)
            return d, (i + 1) % 40
    kb.index = Wrong()
    assert kb.recall(q, k=1, nprobes=[kb.nlist])["recall@1_ties"].iloc[0] == 0.0


# The module reads and writes the session's cache root (tests/conftest.py: a temporary folder), so the
# text features of the smoke slice that the smoke series or another test already computed are reused.
INPUT_FEATURES = ("tokens", "sentence", "parse", "ppl", "lm")  # per-text inputs; not hfuse (the extractor's output)


def cache_with_input_features_only(folder):
    """An otherwise empty cache root at ``folder`` that sees the session root's per-text input
    features (links to their stores): no trained extractor, no h_fuse rows, no prepared data."""
    src = cache.root() / "features"
    (folder / "features").mkdir(parents=True)
    for store in src.glob("*-*") if src.exists() else []:
        if store.name.split("-")[0] in INPUT_FEATURES:
            (folder / "features" / store.name).symlink_to(store, target_is_directory=True)
    return folder


@pytest.fixture(scope="module")
def split_():
    cfg = setup("smoke", verbose=False)
    pool = experiments.load_pool(cfg).head(200)
    part = pool_labels.split(pool, seed=0)
    return pool[part == "train"], pool[part == "valid"]


@pytest.fixture(scope="module")
def full(split_):
    return routers.get_router("ragrouter", seed=0, **FAST).fit(*split_)


def test_save_load_whole_router(full, split_, tmp_path):
    prompts = list(split_[1].prompt[:10])
    s = full.score(prompts)
    assert s.shape == (10,) and ((s >= 0) & (s <= 1)).all()
    loaded = routers.load_router(full.save(tmp_path / "rag"))
    np.testing.assert_allclose(loaded.score(prompts), s, rtol=1e-5, atol=1e-6)


def test_each_switch_changes_exactly_its_part(full, split_):
    no_rag = routers.get_router("ragrouter", seed=0, rag="off", **FAST).fit(*split_)
    # rag: same data, same extractor and KB; only the final model's input differs
    assert no_rag.data_summary == full.data_summary
    for k, v in full.extractor.state_dict().items():
        assert torch.equal(v, no_rag.extractor.state_dict()[k]), k
    assert not no_rag.final.rag and full.final.rag
    plain = routers.get_router("ragrouter", seed=0, features="plain", **FAST).fit(*split_)
    assert plain.data_summary == full.data_summary and plain.extractor is None
    no_aug = routers.get_router("ragrouter", seed=0, augment=False, **FAST).fit(*split_)
    assert no_aug.data_summary["augmented_rows"] == 0 < full.data_summary["augmented_rows"]


def test_paper_llm_path_on_a_tiny_stand_in(split_, tmp_path):
    """The `paper` final model (LoRA LLM over the textual augmented prompt) on a tiny local model."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaModel

    from ragrouter_lib.data import models
    from ragrouter_lib.routers import llm_scorer
    tok = AutoTokenizer.from_pretrained(models.smollm2_path())
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2)
    torch.manual_seed(0)
    LlamaModel(cfg).save_pretrained(tmp_path / "tiny")
    tok.save_pretrained(tmp_path / "tiny")
    train, valid = split_
    r = routers.get_router("ragrouter_llm", llm_path=str(tmp_path / "tiny"), llm_max_len=96, load_4bit=False, **FAST)
    r.fit(train, valid)
    trainable = {n for n, p in r.llm.named_parameters() if p.requires_grad}
    assert trainable and all(".lora_A." in n or ".lora_B." in n or n.startswith("head.") for n in trainable)
    s = r.score(list(valid.prompt[:6]))
    assert s.shape == (6,) and ((s >= 0) & (s <= 1)).all()
    prompt = llm_scorer.augmented_prompt("What is 2+2?", [("What is 3+3?", 5), ("Prove P != NP.", 1)])
    assert "(5) What is 3+3?" in prompt and prompt.endswith("Rating:")
    before = LlamaModel.from_pretrained(tmp_path / "tiny").state_dict()
    after = {k.replace("base_model.model.", "").replace(".base_layer.", "."): v
             for k, v in r.llm.backbone.state_dict().items() if "lora_" not in k}
    assert any(".base_layer." in k for k in r.llm.backbone.state_dict())  # peft wrapped q/v projections
    for k, v in before.items():  # frozen base weights never move
        assert torch.equal(after[k], v), k


def test_cached_extractor_is_the_one_training_gives(full, split_, tmp_path, monkeypatch):
    """A variant that loads the extractor from the cache ends with the same weights as one that
    trains it afresh (the final model is re-seeded, so it matches too). The fresh root holds only the
    per-text input features (content-keyed, checked by test_batch_mates / test_derived): the data
    preparation, the extractor and its h_fuse rows are computed afresh."""
    monkeypatch.setenv("RAGROUTER_CACHE", str(cache_with_input_features_only(tmp_path / "cache")))
    fresh = routers.get_router("ragrouter", seed=0, **FAST).fit(*split_)
    assert fresh.extractor_key == full.extractor_key
    for mod in ("extractor", "final"):
        a, b = getattr(fresh, mod).state_dict(), getattr(full, mod).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), mod
    assert any(h.get("stage") == "extractor" for h in fresh.history)


def test_extractor_key_covers_its_settings_and_nothing_else(split_):
    train, valid = split_
    def key(**hp):
        return routers.get_router("ragrouter", **{"seed": 0, **FAST, **hp})._extractor_key(train, valid)
    base = key()
    assert key(k=20) == base and key(rag="off") == base and key(final_lr=1e-2) == base
    assert len({base, key(extractor_lr=2e-3), key(features="plain"), key(augment=False), key(seed=1)}) == 5
    assert routers.get_router("ragrouter", seed=0, **FAST)._extractor_key(train.iloc[1:], valid) != base


def test_a_final_fit_builds_each_fold_kb_once(split_, monkeypatch):
    """Without ``valid`` (a final fit), nprobe is chosen on one fold's out-of-fold KB, the same KB
    that gives that fold's training neighbours: one scoring KB + one KB per fold, none built twice."""
    built = []
    real = KnowledgeBase.__init__

    def counting(self, vectors, *args, **kw):
        built.append(len(vectors))
        real(self, vectors, *args, **kw)
    monkeypatch.setattr(KnowledgeBase, "__init__", counting)
    r = routers.get_router("ragrouter", seed=0, features="plain", n_folds=3, **FAST).fit(split_[0])
    folds = np.unique(r.train_folds)
    assert len(folds) == 3 and len(built) == 1 + len(folds), built
    kb_fold = r.train_folds[r.kb_rows]
    assert sorted(built[1:]) == sorted(int((kb_fold != f).sum()) for f in folds)  # each fold's out-of-fold KB
    assert len(r.kb_recall) and 1 <= r.kb.nprobe <= r.kb.nlist
