"""One router interface and a registry: every router, baseline or ours, is scored the same way.

>>> r = get_router("random", seed=3)
>>> s = r.score(["What is 2+2?", "Prove Fermat's last theorem."])
>>> s.shape, bool(((s >= 0) & (s <= 1)).all())
((2,), True)
"""
from .base import ROUTERS, Router, get_router, load_router, register  # noqa: F401
from . import random_router  # noqa: F401  (registers "random")
