"""``paper`` profile: RouteLLM's released routers, loaded through the ``routellm`` package.

RouteLLM (0.2.0) publishes trained checkpoints on the Hugging Face Hub: ``mf``, ``bert`` and
``causal_llm`` trained on Arena + GPT-4-judge augmentation (``*_gpt4_augmented``), and
``sw_ranking`` over precomputed Arena embeddings (it needs an OpenAI key to embed queries).
This module wraps them in our ``Router`` interface so the same evaluation code scores them.
It reaches the Hub, so it refuses to run unless the profile allows it; tests replace the
``routellm`` classes with local stand-ins (no network).

GPU-server usage (see README):
    pip install routellm==0.2.0 and its runtime deps (openai, litellm, ...); export OPENAI_API_KEY
    r = get_router("routellm_released", router="mf")   # then r.score(prompts)
"""
from __future__ import annotations

import importlib
import os

import numpy as np

from .base import Router, register

# RouteLLM's default config (routellm/config.example.yaml), the released checkpoints.
RELEASED_CONFIG = {
    "sw_ranking": {"arena_battle_datasets": ["lmsys/lmsys-arena-human-preference-55k",
                                             "routellm/gpt4_judge_battles"],
                   "arena_embedding_datasets": ["routellm/arena_battles_embeddings",
                                                "routellm/gpt4_judge_battles_embeddings"]},
    "causal_llm": {"checkpoint_path": "routellm/causal_llm_gpt4_augmented"},
    "bert": {"checkpoint_path": "routellm/bert_gpt4_augmented"},
    "mf": {"checkpoint_path": "routellm/mf_gpt4_augmented"},
}
STRONG, WEAK = "gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1"


@register("routellm_released")
class ReleasedRouter(Router):
    def __init__(self, router: str = "mf", allow_hub: bool | None = None, config: dict | None = None):
        if router not in RELEASED_CONFIG:
            raise KeyError(f"no released RouteLLM router {router!r}; choose from {sorted(RELEASED_CONFIG)}")
        allow = allow_hub if allow_hub is not None else os.environ.get("HF_HUB_OFFLINE") != "1"
        if not allow:
            raise RuntimeError("RouteLLM's released routers live on the Hugging Face Hub: "
                               "use the `paper` profile on a machine that reaches it")
        self.router = router
        os.environ.setdefault("OPENAI_API_KEY", "unused")  # routellm's import needs it set
        routers_mod = importlib.import_module("routellm.routers.routers")
        cls = routers_mod.ROUTER_CLS[router]
        self.impl = cls(**(config if config is not None else RELEASED_CONFIG[router]))

    def score(self, prompts):
        return np.array([float(self.impl.calculate_strong_win_rate(p)) for p in prompts])

    def params(self):
        return {"router": self.router}
