"""The router interface (after RouteLLM's one-method ``Router`` base class) and its registry.

A router maps a list of prompts to strong-win probabilities in [0, 1]; higher means "send to the
strong model". Trained routers also implement ``fit`` and persist themselves with ``save``/``load``
under a folder of ``outputs/``; ``route`` turns a score and a threshold into a model name.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

ROUTERS: dict[str, type["Router"]] = {}


def register(name: str):
    def deco(cls):
        if name in ROUTERS:
            raise ValueError(f"router {name!r} registered twice")
        cls.name = name
        ROUTERS[name] = cls
        return cls
    return deco


def get_router(name: str, **kwargs) -> "Router":
    if name not in ROUTERS:
        raise KeyError(f"unknown router {name!r}; registered: {sorted(ROUTERS)}")
    return ROUTERS[name](**kwargs)


def load_router(path) -> "Router":
    meta = json.loads((Path(path) / "router.json").read_text())
    return ROUTERS[meta["name"]].load(path)


class Router:
    name = "base"
    fit_seconds: float | None = None  # wall time of the last fit, for the logs

    def score(self, prompts: Sequence[str]) -> np.ndarray:
        """Strong-win probability per prompt, shape (len(prompts),), values in [0, 1]."""
        raise NotImplementedError

    def fit(self, train, valid=None) -> "Router":
        return self

    def route(self, prompt: str, threshold: float, strong: str = "strong", weak: str = "weak") -> str:
        return strong if float(self.score([prompt])[0]) >= threshold else weak

    def params(self) -> dict:
        return {}

    def save(self, path) -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "router.json").write_text(json.dumps({"name": self.name, "params": self.params()}))
        return path

    @classmethod
    def load(cls, path) -> "Router":
        meta = json.loads((Path(path) / "router.json").read_text())
        return cls(**meta["params"])
