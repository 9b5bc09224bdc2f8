"""One router interface and a registry: every router, baseline or ours, is scored the same way.

>>> r = get_router("random", seed=3)
>>> s = r.score(["What is 2+2?", "Prove Fermat's last theorem."])
>>> s.shape, bool(((s >= 0) & (s <= 1)).all())
((2,), True)
"""
from .base import ROUTERS, Router, get_router, load_router, register  # noqa: F401
from . import random_router, routellm_baselines, extra, released, ragrouter, ragrouter_llm  # noqa: F401

# Table names as in the thesis; the rest are extra rows.
THESIS_NAMES = {"ragrouter": "RAGRouter", "random": "Random", "sw_ranking": "SW Ranking", "mf": "Matrix Factorization",
                "bert": "BERT", "causal_llm": "Causal LLM"}
EXTRA_NAMES = {"knn": "KNN (semantic router)", "kmeans": "KMeans (semantic router)",
               "svm": "SVM (semantic router)", "logreg": "LogReg on MiniLM (reference)",
               "length": "Token-length rule (reference)"}
