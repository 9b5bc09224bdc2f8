"""``paper`` profile: RouteLLM's released routers (Tables 1-2 baseline rows), through ``routellm``.

Thesis step: the RouteLLM baselines of Tables 1-2 as RouteLLM published them. RouteLLM 0.2.0's
checkpoints on the Hugging Face Hub are wrapped in our ``Router`` interface and scored by our own
evaluation code (``router_runs.evaluate_scores``), never by RouteLLM's ``evaluate.py``. The routers
retrained on our pool (``routellm_baselines.py``) stay as extra rows.

What each released router needs (stated in the log's status table, ``released_status``):
- ``bert`` (``routellm/bert_gpt4_augmented``): the Hub only; runs on CPU or GPU.
- ``causal_llm`` (``routellm/causal_llm_gpt4_augmented``, Llama-3-8B, bf16 ~16 GB): the Hub, access
  to the gated ``meta-llama/Meta-Llama-3-8B`` tokenizer, and CUDA (RouteLLM moves it to "cuda").
- ``mf`` (``routellm/mf_gpt4_augmented``) and ``sw_ranking`` (Arena battles + RouteLLM's released
  Arena embeddings ``routellm/arena_battles_embeddings`` / ``routellm/gpt4_judge_battles_embeddings``):
  both embed every query with OpenAI's ``text-embedding-3-small`` at scoring time, so they need
  ``OPENAI_API_KEY`` (paid API calls, ~15k queries). With no key their rows are marked missing and
  the run goes on.

``routellm`` is installed with ``--no-deps`` (requirements-models.txt); its import needs
``OPENAI_API_KEY`` set (it builds an OpenAI client at import), so a placeholder is set for the
import only when no key exists - routers that would call OpenAI are refused before that.
Dry run (``hub.stand_ins``): checkpoint ids are mapped to local stand-ins; tests monkeypatch
``ROUTER_CLS``-style factories (``router_factory``).
"""
from __future__ import annotations

import importlib
import os

import numpy as np

from ..data import hub
from ..data.hub import RELEASED_CONFIG  # noqa: F401  (RouteLLM's checkpoint ids live with every Hub id)
from .base import Router, register

# RouteLLM's default config (routellm/config.example.yaml), the released checkpoints.
NEEDS_OPENAI = {"mf", "sw_ranking"}
NEEDS_CUDA = {"causal_llm"}
STRONG, WEAK = "gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1"
PLACEHOLDER_KEY = "placeholder-for-routellm-import"


class ReleasedUnavailable(RuntimeError):
    """A released router cannot run here (no OpenAI key, no CUDA, no Hub); its row is missing."""


def openai_key() -> bool:
    key = os.environ.get("OPENAI_API_KEY", "")
    return bool(key) and key != PLACEHOLDER_KEY


def router_factory(router: str):
    """RouteLLM's router class (``routellm.routers.routers.ROUTER_CLS[router]``)."""
    if not os.environ.get("OPENAI_API_KEY"):
        os.environ["OPENAI_API_KEY"] = PLACEHOLDER_KEY  # routellm builds an OpenAI client at import
    return importlib.import_module("routellm.routers.routers").ROUTER_CLS[router]


def requirements_missing(router: str) -> str | None:
    """Why ``router`` cannot run here, or None."""
    import torch  # heavy optional package: imported only when this runs
    if router in NEEDS_OPENAI and not openai_key():
        return ("needs OPENAI_API_KEY: RouteLLM embeds every query with OpenAI text-embedding-3-small "
                "(released Arena embeddings are OpenAI embeddings too)")
    if router in NEEDS_CUDA and not torch.cuda.is_available():
        return "needs CUDA (RouteLLM's causal_llm router moves Llama-3-8B to 'cuda')"
    return None


def resolved_config(router: str) -> dict:
    """RouteLLM's config with checkpoint ids mapped to local stand-ins in the dry run."""
    conf = {k: (list(v) if isinstance(v, list) else v) for k, v in RELEASED_CONFIG[router].items()}
    idx = hub.standins()
    if idx is not None and "checkpoint_path" in conf:
        if conf["checkpoint_path"] not in idx:
            raise ReleasedUnavailable(f"dry run: no stand-in for {conf['checkpoint_path']}")
        conf["checkpoint_path"] = idx[conf["checkpoint_path"]]
    return conf


@register("routellm_released")
class ReleasedRouter(Router):
    def __init__(self, router: str = "mf", profile: str = "paper", config: dict | None = None):
        if router not in RELEASED_CONFIG:
            raise KeyError(f"no released RouteLLM router {router!r}; choose from {sorted(RELEASED_CONFIG)}")
        ids = RELEASED_CONFIG[router].get("checkpoint_path") or RELEASED_CONFIG[router]["arena_embedding_datasets"][0]
        if hub.standins() is None:
            hub.require_hub(ids, profile)
        why = requirements_missing(router)
        if why:
            raise ReleasedUnavailable(f"released {router} ({ids}): {why}")
        self.router, self.profile = router, profile
        try:
            cls = router_factory(router)
        except ImportError as e:  # routellm is installed --no-deps; its module imports openai at the top
            raise ReleasedUnavailable(f"released {router} ({ids}): routellm could not be imported ({type(e).__name__}: "
                                      f"{e}); routellm 0.2.0 needs `pip install openai` even for BERT") from None
        try:
            self.impl = cls(**(config if config is not None else resolved_config(router)))
        except (OSError, ConnectionError) as e:
            raise ReleasedUnavailable(f"released {router} ({ids}): could not load from the Hub "
                                      f"(profile {profile!r}): {str(e).splitlines()[0]}") from None

    def score(self, prompts):
        return np.array([float(self.impl.calculate_strong_win_rate(p)) for p in prompts], dtype=np.float64)

    def params(self):
        return {"router": self.router, "profile": self.profile}
