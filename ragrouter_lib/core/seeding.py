"""Step seeding: the one source of every random stream in the library.

Thesis step: none of its own; the reproducibility rule under every step. A step's random draws
derive from ``(seed, step name)`` only (``step_seed``: sha256, 31 bits), never from process
history or cache state, so a result does not depend on what ran before or on which steps came from
the cache. Two forms:

- ``step_seed(seed, step)``: the derived integer, for a private stream
  (``np.random.default_rng(step_seed(seed, "selection-folds"))``), a FAISS or sklearn seed;
- ``seed_step(seed, step)``: also seeds torch's, numpy's legacy, Python's (and DGL's, if loaded)
  global RNGs, for draws made through them (a module's weight init, dropout, shuffles), and returns
  a numpy Generator from the same seed. Call it *immediately before* the draws it governs.

``tests/test_house.py`` fails on any RNG constructor or global seeder in the library called with
anything but a ``step_seed(...)`` value outside this module. Step names are part of the meaning
of a cached result: renaming a step changes its draws.

>>> step_seed(0, "mf/init") == step_seed(0, "mf/init"), step_seed(0, "a") == step_seed(0, "b")
(True, False)
"""
from __future__ import annotations

import hashlib
import random
import sys

import numpy as np
import torch


def step_seed(seed: int, step: str) -> int:
    """A 31-bit seed derived from (seed, step name) by sha256 (independent of process state)."""
    return int(hashlib.sha256(f"{int(seed)}:{step}".encode()).hexdigest()[:8], 16) & 0x7FFFFFFF


def seed_step(seed: int, step: str) -> np.random.Generator:
    """Seed torch's, numpy's legacy, Python's (and DGL's, if loaded) global RNGs from
    ``step_seed(seed, step)``; return a fresh numpy Generator from the same derived seed."""
    s = step_seed(seed, step)
    torch.manual_seed(s)
    np.random.seed(s)
    random.seed(s)
    if "dgl" in sys.modules:
        sys.modules["dgl"].seed(s)
    return np.random.default_rng(s)
