"""RouteLLM's random router: uniform strong-win scores, deterministic for a seed and prompt list."""
from __future__ import annotations

import numpy as np

from ..core.seeding import step_seed
from .base import Router, register


@register("random")
class RandomRouter(Router):
    def __init__(self, seed: int = 0):
        self.seed = int(seed)

    def score(self, prompts):
        return np.random.default_rng(step_seed(self.seed, "random/score")).random(len(prompts))

    def params(self):
        return {"seed": self.seed}
