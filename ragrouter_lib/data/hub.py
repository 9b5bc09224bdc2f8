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
  Qwen2 causal LM, a BERT sequence classifier standing in for RouteLLM's released BERT router;
  all built from configs in code, tokenizer = the MiniLM word-piece files already shipped) and
  tiny synthetic Arena / gpt4_dataset files, and an ``index.json`` mapping every Hub id to its
  stand-in. With env ``RAGROUTER_PAPER_STANDINS`` pointing at that folder every loader here
  serves the stand-in and nothing reaches the network; the results are meaningless by design.

Deviations: dataset revisions are pinned to a branch name, not a commit (none could be checked
from here); the loader prints the commit the Hub resolved so the log records it. Expected row
counts are set only where known (Arena: the 57,477 rows of the Kaggle competition's train.csv).
"""
from __future__ import annotations

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
    from transformers import AutoTokenizer  # heavy optional package: imported only when this runs

    folder = Path(folder)
    tok = AutoTokenizer.from_pretrained(str(models.minilm_path()))
    tok.save_pretrained(str(folder))
    seed_step(0, "stand-in-weights")
    build(tok).save_pretrained(str(folder))
    return folder


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
             HUB_MODELS["llm"]["id"]: str(tiny_llm(folder / "llm")),
             RELEASED_CONFIG["bert"]["checkpoint_path"]: str(tiny_seq_classifier(folder / "released_bert"))}
    (folder / "index.json").write_text(json.dumps(index, indent=1))
    return folder
