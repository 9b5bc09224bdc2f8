"""The router interface (after RouteLLM's one-method ``Router`` base class) and its registry.

A router maps a list of prompts to strong-win probabilities in [0, 1]; higher means "send to the
strong model". Trained routers also implement ``fit`` and persist themselves with ``save``/``load``
under a folder of ``outputs/``; ``route`` turns a score and a threshold into a model name.

Settings have one home per router: ``defaults`` (every hyper-parameter) and ``grid`` (the
configurations model selection may try, at most ``selection.MAX_CONFIGS``) are class attributes,
and ``grid[0]`` changes nothing in ``defaults`` (``grid_disagreements``; tests/test_settings.py), so
a run that tries only the first entry (``offline``: ``grid_limit=1``) runs the defaults.
``get_grid(name, limit)`` reads a registered router's grid.
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


def get_grid(name: str, limit: int | None = None) -> list[dict]:
    """The first ``limit`` (None: all) configurations of router ``name``'s class ``grid`` (copies)."""
    if name not in ROUTERS:
        raise KeyError(f"unknown router {name!r}; registered: {sorted(ROUTERS)}")
    return [dict(g) for g in ROUTERS[name].grid[:limit]]


def grid_disagreements(cls) -> list[str]:
    """Where ``cls.grid`` breaks "grid[0] is the defaults": an empty grid, a grid key that is no
    setting of ``cls.defaults``, or a first-entry value that differs from the default (one line each)."""
    if not cls.grid:
        return [f"{cls.name}: empty grid"]
    out = [f"{cls.name}: grid entry {i} sets unknown setting {k!r}"
           for i, g in enumerate(cls.grid) for k in g if k not in cls.defaults]
    out += [f"{cls.name}: grid[0][{k!r}] = {v!r} but defaults[{k!r}] = {cls.defaults[k]!r}"
            for k, v in cls.grid[0].items() if k in cls.defaults and cls.defaults[k] != v]
    return out


def load_router(path) -> "Router":
    meta = json.loads((Path(path) / "router.json").read_text())
    return ROUTERS[meta["name"]].load(path)


class Router:
    name = "base"
    defaults: dict = {}  # every hyper-parameter and its value (trainable routers)
    grid: list[dict] = [{}]  # configurations model selection may try; grid[0] == the defaults
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
