"""The ``paper`` profile's Hub side: the thesis's data and model ids, loaders and dry-run stand-ins.

(The notebook entry points that run them live in ``paper.py``, after the evaluation code.)

Thesis steps: training data (Chatbot Arena human preference 55k + RouteLLM's GPT-4-judged
``gpt4_dataset``), the RouteLLM released baselines, DeBERTa-v3-base semantic features and the
Qwen-7B final model. Everything that names a Hub id lives here (``HUB_DATASETS``, ``HUB_MODELS``);
``RELEASED_CONFIG`` holds RouteLLM's released routers' config (checkpoint ids), used by ``routers/released.py``.

- ``load_arena_hub`` / ``load_gpt4_hub``: ``datasets.load_dataset`` -> a parquet file ->
  ``loading.load_arena`` / ``loading.load_gpt4_dataset`` (the same schema checks as a user-supplied
  file), then the row count is checked against ``expected_rows`` when one is set.
- ``model_path(name)``: a local folder for a model id (``huggingface_hub.snapshot_download``).
- Both refuse with one clear line naming the id and the profile when the profile is not
  ``paper`` or the Hub cannot be reached (``HubUnavailable``).
- Dry run: ``stand_ins(folder)`` writes tiny randomly initialised models (a DeBERTa-v2 encoder, a
  Qwen2 causal LM; all built from configs in code, tokenizer = the MiniLM word-piece files already
  shipped), tiny synthetic Arena / gpt4_dataset files, a stand-in of each RouteLLM released router in
  its checkpoint's format (``released_stand_ins``: BERT sequence classifier; Llama causal LM with
  the five ``[[1]]``..``[[5]]`` tokens and its two prompt files, plus a tokenizer for the gated Llama-3
  id; MF's ``config.json`` + ``model.safetensors``; SW Ranking's battle and embedding datasets), and
  an ``index.json`` mapping every Hub id to its stand-in (SW Ranking's dataset ids under
  ``SW_PREFIX``: the Arena id also names the pool's file). OpenAI's query embedding is replaced by
  ``standin_embedding`` (hashed bag of words, 1536-d), which the dry run passes to the MF and SW
  Ranking routers as an argument. With env ``RAGROUTER_PAPER_STANDINS`` pointing at that folder every loader here
  serves the stand-in and nothing reaches the network; the results are meaningless by design.

Deviations: dataset revisions are pinned to a branch name, not a commit (none could be checked
from here); the loader prints the commit the Hub resolved so the log records it. Expected row
counts are set only where known (Arena: the 57,477 rows of the Kaggle competition's train.csv).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.seeding import seed_step, step_seed
from . import loading, models

STANDINS_ENV = "RAGROUTER_PAPER_STANDINS"

HUB_DATASETS = {
    "arena": {"id": "lmsys/lmsys-arena-human-preference-55k", "revision": "main", "split": "train",
              "expected_rows": 57477},
    "gpt4": {"id": "routellm/gpt4_dataset", "revision": "main", "split": "train", "expected_rows": None},
}
HUB_MODELS = {
    "encoder": {"id": "microsoft/deberta-v3-base", "revision": "main"},  # H_sem (768-d)
    "llm": {"id": "Qwen/Qwen2.5-7B", "revision": "main"},  # final model (LoRA / QLoRA; FSDP full)
}
# RouteLLM's released routers (routellm 0.2.0's config.example.yaml): checkpoints and Arena embeddings
RELEASED_CONFIG = {
    "sw_ranking": {"arena_battle_datasets": ["lmsys/lmsys-arena-human-preference-55k",
                                             "routellm/gpt4_judge_battles"],
                   "arena_embedding_datasets": ["routellm/arena_battles_embeddings",
                                                "routellm/gpt4_judge_battles_embeddings"]},
    "causal_llm": {"checkpoint_path": "routellm/causal_llm_gpt4_augmented"},
    "bert": {"checkpoint_path": "routellm/bert_gpt4_augmented"},
    "mf": {"checkpoint_path": "routellm/mf_gpt4_augmented"},
}


EMBED_DIM = 1536  # OpenAI text-embedding-3-small: RouteLLM's MF and SW Ranking embed queries with it
LLAMA_ID = "meta-llama/Meta-Llama-3-8B"  # RouteLLM's causal_llm router loads its tokenizer from here (gated)
SPECIAL_TOKENS = ["[[1]]", "[[2]]", "[[3]]", "[[4]]", "[[5]]"]  # causal_llm's rating tokens
SW_PREFIX = "sw_ranking:"  # index.json key prefix of SW Ranking's dataset stand-ins


class HubUnavailable(RuntimeError):
    """A Hub id was needed but the profile forbids the Hub or the Hub cannot be reached."""


def _profile(cfg) -> str:
    return cfg if isinstance(cfg, str) else getattr(cfg, "profile", "?")


def standins() -> dict | None:
    """The stand-in index (Hub id -> local path) when the dry run is on, else None."""
    folder = os.environ.get(STANDINS_ENV)
    if not folder:
        return None
    index = Path(folder) / "index.json"
    if not index.exists():
        raise FileNotFoundError(f"{STANDINS_ENV}={folder}: no index.json (build it with hub.stand_ins)")
    return json.loads(index.read_text())


def require_hub(hub_id: str, cfg) -> None:
    """Refuse unless the profile is ``paper`` (stand-ins need no Hub)."""
    if _profile(cfg) != "paper":
        raise HubUnavailable(f"{hub_id}: needs the Hugging Face Hub, which profile {_profile(cfg)!r} does not "
                             f"use; run with profile 'paper' on a machine that reaches the Hub")


def _hub_error(hub_id, cfg, e) -> HubUnavailable:
    return HubUnavailable(f"{hub_id}: the Hugging Face Hub could not be reached or refused it (profile "
                          f"{_profile(cfg)!r}; gated repos need `huggingface-cli login`): {type(e).__name__}: "
                          f"{str(e).splitlines()[0] if str(e) else ''}")


def model_path(name: str, cfg) -> Path:
    """Local folder for ``HUB_MODELS[name]`` (or any Hub model id): stand-in, or Hub snapshot."""
    spec = HUB_MODELS.get(name, {"id": name, "revision": "main"})
    idx = standins()
    if idx is not None:
        if spec["id"] not in idx:
            raise KeyError(f"dry run: no stand-in for {spec['id']!r} in {os.environ[STANDINS_ENV]}")
        return Path(idx[spec["id"]])
    require_hub(spec["id"], cfg)
    try:
        from huggingface_hub import snapshot_download  # Hub client: the paper profile only
        return Path(snapshot_download(spec["id"], revision=spec["revision"]))
    except Exception as e:  # offline, gated, unknown id: one clear line
        raise _hub_error(spec["id"], cfg, e) from None


def _hub_frame(name: str, cfg, cache_dir=None) -> tuple[Path, dict]:
    """Download one dataset through ``datasets`` and write it as parquet; returns (path, info)."""
    spec = HUB_DATASETS[name]
    idx = standins()
    if idx is not None:
        return Path(idx[spec["id"]]), {"id": spec["id"], "revision": "stand-in", "rows": None}
    require_hub(spec["id"], cfg)
    try:
        import datasets  # heavy, Hub-only: imported only when the paper profile downloads
        ds = datasets.load_dataset(spec["id"], revision=spec["revision"], split=spec["split"])
        sha = getattr(getattr(ds, "info", None), "version", None)
    except Exception as e:
        raise _hub_error(spec["id"], cfg, e) from None
    folder = Path(cache_dir or Path(getattr(cfg, "out", Path("outputs"))) / "cache" / "hub")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{spec['id'].replace('/', '__')}.parquet"
    ds.to_pandas().to_parquet(path)
    return path, {"id": spec["id"], "revision": spec["revision"], "resolved": str(sha), "rows": len(ds)}


def check_rows(name: str, n: int) -> None:
    exp = HUB_DATASETS[name]["expected_rows"]
    if exp is not None and n != exp:
        raise loading.DataFormatError(f"{HUB_DATASETS[name]['id']}: {n} rows, expected {exp}")


def load_arena_hub(cfg, cache_dir=None) -> pd.DataFrame:
    """Chatbot Arena 55k with the columns and checks of ``loading.load_arena``."""
    path, info = _hub_frame("arena", cfg, cache_dir)
    df = loading.load_arena(path)
    if standins() is None:
        check_rows("arena", len(df))
    df.attrs["hub"], df.attrs["path"] = info, str(path)
    return df


def load_gpt4_hub(cfg, cache_dir=None) -> pd.DataFrame:
    """RouteLLM's gpt4_dataset with the columns and checks of ``loading.load_gpt4_dataset``."""
    path, info = _hub_frame("gpt4", cfg, cache_dir)
    df = loading.load_gpt4_dataset(path)
    if standins() is None:
        check_rows("gpt4", len(df))
    df.attrs["hub"], df.attrs["path"] = info, str(path)
    return df


# ----------------------------------------------------------------------------- dry-run stand-ins
WORDS = ("explain prove compute write list compare summarize translate derive estimate the a of to "
         "prime number integral poem story code python function theorem energy market history river "
         "why how what which small large fast slow first last every each").split()


def synthetic_sets(n: int = 60, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tiny Arena-shaped and gpt4_dataset-shaped frames (random words; labels from a word rule so a
    model has something to learn). Never mixed with real data: prompts start with 'synthetic'."""
    rng = np.random.default_rng(step_seed(seed, "synthetic-sets"))
    prompts = [" ".join(["synthetic", *rng.choice(WORDS, int(rng.integers(4, 14)))]) for _ in range(n)]
    hard = np.array(["prove" in p or "theorem" in p or "integral" in p for p in prompts])
    others = ["koala-13b", "vicuna-13b", "llama-2-13b-chat", "claude-1"]
    rows = []
    for i, p in enumerate(prompts):
        strong_a = bool(i % 2)
        other = others[i % len(others)]
        strong_wins = hard[i] or rng.random() < 0.3
        tie = not strong_wins and rng.random() < 0.3
        a_wins = (strong_a == strong_wins) and not tie
        rows.append({"id": 1000 + i, "model_a": "gpt-4-1106-preview" if strong_a else other,
                     "model_b": other if strong_a else "gpt-4-1106-preview", "prompt": json.dumps([p]),
                     "response_a": json.dumps(["a"]), "response_b": json.dumps(["b"]),
                     "winner_model_a": int(a_wins), "winner_model_b": int(not a_wins and not tie),
                     "winner_tie": int(tie)})
    arena = pd.DataFrame(rows)
    score = np.where(hard, rng.integers(1, 4, n), rng.integers(3, 6, n))
    gpt4 = pd.DataFrame({"prompt": [p + " please" for p in prompts], "source": "synthetic",
                         "gpt4_response": "g", "mixtral_response": "m", "mixtral_score": score})
    return arena, gpt4


def _save_random(folder, build) -> Path:
    """Save into ``folder`` the MiniLM word-piece tokenizer (shipped files) and the randomly
    initialised model ``build(tok)`` returns (torch seeded by ``seed_step``, so a stand-in is the same
    every time)."""
    folder = Path(folder)
    tok = _save_tokenizer(folder)
    seed_step(0, "stand-in-weights")
    build(tok).save_pretrained(str(folder))
    return folder


def _save_tokenizer(folder, **special):
    """The shipped MiniLM word-piece tokenizer saved into ``folder`` (with ``special`` tokens set)."""
    from transformers import AutoTokenizer  # heavy optional package: imported only when this runs
    tok = AutoTokenizer.from_pretrained(str(models.minilm_path()), **special)
    tok.save_pretrained(str(folder))
    return tok


def tiny_llm(folder, layers: int = 2, hidden: int = 32) -> Path:
    """A randomly initialised Qwen2 causal LM (Qwen2.5's architecture) with the MiniLM vocabulary."""
    from transformers import Qwen2Config, Qwen2ForCausalLM  # heavy optional package: imported only when this runs
    return _save_random(folder, lambda tok: Qwen2ForCausalLM(Qwen2Config(
        vocab_size=len(tok), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
        pad_token_id=tok.pad_token_id, tie_word_embeddings=True)))


def tiny_encoder(folder, layers: int = 2, hidden: int = 32) -> Path:
    """A randomly initialised DeBERTa-v2 encoder (DeBERTa-v3-base's architecture, tiny)."""
    from transformers import DebertaV2Config, DebertaV2Model  # heavy optional package: imported only when this runs
    return _save_random(folder, lambda tok: DebertaV2Model(DebertaV2Config(
        vocab_size=len(tok), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
        num_attention_heads=4, max_position_embeddings=512, relative_attention=True, position_buckets=64,
        pos_att_type=["p2c", "c2p"], pad_token_id=tok.pad_token_id)))


def tiny_seq_classifier(folder, num_labels: int = 3, hidden: int = 32) -> Path:
    """Stand-in for RouteLLM's released BERT router checkpoint (3 labels, as ``BERTRouter`` loads)."""
    from transformers import (  # heavy optional package: imported only when this runs
        BertConfig,
        BertForSequenceClassification,
    )
    return _save_random(folder, lambda tok: BertForSequenceClassification(BertConfig(
        vocab_size=len(tok), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=1,
        num_attention_heads=2, num_labels=num_labels)))


def standin_embedding(texts, dim: int = EMBED_DIM) -> np.ndarray:
    """Dry run: a local stand-in for OpenAI's ``text-embedding-3-small`` (unit vectors, ``dim`` wide):
    a signed hashed bag of the lower-cased words plus a constant component. Meaningless by design.

    >>> e = standin_embedding(["Prove it", "prove it!"])
    >>> e.shape, bool(np.allclose(e[0], e[1])), round(float(np.linalg.norm(e[0])), 3)
    ((2, 1536), True, 1.0)
    """
    out = np.zeros((len(texts), dim), np.float32)
    for i, t in enumerate(texts):
        out[i, 0] = 1.0
        for w in "".join(c if c.isalnum() else " " for c in str(t).lower()).split():
            h = int(hashlib.sha256(w.encode()).hexdigest()[:12], 16)
            out[i, 1 + h % (dim - 1)] += 1.0 if (h >> 40) & 1 else -1.0
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def tiny_causal_llm_router(folder, tokenizer, hidden: int = 32) -> Path:
    """Stand-in for RouteLLM's released causal_llm checkpoint (Llama-3-8B fine-tuned to answer with
    one of ``SPECIAL_TOKENS``): a tiny Llama causal LM over ``tokenizer``'s vocabulary plus the five
    rating tokens, with ``system_ft_v5.txt`` / ``classifier_ft_v5.txt`` as in the Hub repo. Its output
    layer favours the rating tokens, so generation reaches RouteLLM's score parsing."""
    import torch  # heavy optional package: imported only when this runs
    from transformers import (  # heavy optional package: imported only when this runs
        AutoTokenizer,
        LlamaConfig,
        LlamaForCausalLM,
    )
    folder = Path(folder)
    n = len(AutoTokenizer.from_pretrained(str(tokenizer)))
    seed_step(0, "stand-in-weights")
    model = LlamaForCausalLM(LlamaConfig(vocab_size=n + len(SPECIAL_TOKENS), hidden_size=hidden,
                                         intermediate_size=2 * hidden, num_hidden_layers=1, num_attention_heads=2,
                                         num_key_value_heads=1, max_position_embeddings=1024, tie_word_embeddings=False))
    with torch.no_grad():
        model.lm_head.weight[:n] = 0.0  # rating tokens win most greedy steps (some prompts: none -> "route strong")
    model.save_pretrained(str(folder))
    (folder / "system_ft_v5.txt").write_text("You rate how well a weak model answers. (stand-in)")
    (folder / "classifier_ft_v5.txt").write_text("Rate 1-5 as [[n]]: {question}")
    return folder


def tiny_mf_checkpoint(folder, dim: int = 128, num_models: int = 64) -> Path:
    """Stand-in for ``routellm/mf_gpt4_augmented``: ``MFModel``'s ``config.json`` and
    ``model.safetensors`` (P, text_proj, classifier; RouteLLM's sizes), random weights."""
    import torch  # heavy optional package: imported only when this runs
    from safetensors.torch import save_file  # heavy optional package: imported only when this runs
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    seed_step(0, "stand-in-weights")
    save_file({"P.weight": torch.randn(num_models, dim), "text_proj.0.weight": torch.randn(dim, EMBED_DIM) * 0.05,
               "classifier.0.weight": torch.randn(1, dim) * 0.3}, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps({"dim": dim, "num_models": num_models, "text_dim": EMBED_DIM,
                                                    "num_classes": 1, "use_proj": True}))
    return folder


def tiny_sw_datasets(folder, n: int = 40, seed: int = 0) -> dict[str, str]:
    """Stand-ins for SW Ranking's datasets: per battle set (Arena schema: model_a/b, prompt as a JSON
    list, winner_model_a/b, winner_tie; 12 models incl. the routed pair, first turns >= 16 characters)
    a folder with ``train.parquet``, and its embedding set (column ``embeddings``, one
    ``standin_embedding`` per battle). Returns {Hub id: folder}."""
    models_ = ["gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1", "claude-1", "claude-2.0", "vicuna-13b",
               "vicuna-7b", "koala-13b", "llama-2-13b-chat", "gpt-3.5-turbo-0613", "wizardlm-13b", "zephyr-7b-beta",
               "palm-2"]
    out, ids = {}, RELEASED_CONFIG["sw_ranking"]
    for k, (battles, embeddings) in enumerate(zip(ids["arena_battle_datasets"], ids["arena_embedding_datasets"])):
        rng = np.random.default_rng(step_seed(seed, f"sw-stand-in/{k}"))
        prompts = [" ".join(["synthetic battle", *rng.choice(WORDS, int(rng.integers(4, 12)))]) for _ in range(n)]
        pairs = [rng.choice(len(models_), 2, replace=False) for _ in range(n)]
        win = rng.integers(0, 3, n)
        df = pd.DataFrame({"model_a": [models_[a] for a, _ in pairs], "model_b": [models_[b] for _, b in pairs],
                           "prompt": [json.dumps([p]) for p in prompts], "winner_model_a": (win == 0).astype(int),
                           "winner_model_b": (win == 1).astype(int), "winner_tie": (win == 2).astype(int)})
        for hub_id, frame in ((battles, df), (embeddings, pd.DataFrame({"embeddings": list(standin_embedding(prompts))}))):
            sub = Path(folder) / hub_id.replace("/", "__")
            sub.mkdir(parents=True, exist_ok=True)
            frame.to_parquet(sub / "train.parquet")
            out[hub_id] = str(sub)
    return out


def released_stand_ins(folder) -> dict[str, str]:
    """Every RouteLLM released router's stand-in under ``folder`` (see the module docstring); returns
    the index entries {Hub id: path} (SW Ranking's datasets under ``SW_PREFIX``)."""
    folder = Path(folder)
    tok = folder / "llama_tokenizer"  # RouteLLM adds the rating tokens itself and pads with EOS
    _save_tokenizer(tok, eos_token="[SEP]")
    return {RELEASED_CONFIG["bert"]["checkpoint_path"]: str(tiny_seq_classifier(folder / "released_bert")),
            LLAMA_ID: str(tok),
            RELEASED_CONFIG["causal_llm"]["checkpoint_path"]: str(tiny_causal_llm_router(folder / "released_causal_llm", tok)),
            RELEASED_CONFIG["mf"]["checkpoint_path"]: str(tiny_mf_checkpoint(folder / "released_mf")),
            **{SW_PREFIX + k: v for k, v in tiny_sw_datasets(folder / "released_sw_ranking").items()}}


def stand_ins(folder, n_rows: int = 60, seed: int = 0) -> Path:
    """Write every dry-run stand-in under ``folder`` and its ``index.json`` (Hub id -> path).
    Set env ``RAGROUTER_PAPER_STANDINS`` to ``folder`` to switch the dry run on."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arena, gpt4 = synthetic_sets(n_rows, seed)
    arena.to_csv(folder / "arena_train.csv", index=False)
    gpt4.to_json(folder / "gpt4_dataset.jsonl", orient="records", lines=True)
    index = {HUB_DATASETS["arena"]["id"]: str(folder / "arena_train.csv"),
             HUB_DATASETS["gpt4"]["id"]: str(folder / "gpt4_dataset.jsonl"),
             HUB_MODELS["encoder"]["id"]: str(tiny_encoder(folder / "encoder")),
             HUB_MODELS["llm"]["id"]: str(tiny_llm(folder / "llm")), **released_stand_ins(folder)}
    (folder / "index.json").write_text(json.dumps(index, indent=1))
    return folder
