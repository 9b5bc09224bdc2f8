"""RAGRouter reproduction library: all logic behind the numbered notebooks.

Modules, by what they do:
    config   - profiles, the setup() call every notebook starts with, seeding, cache keys
    data     - vendored data with checksums, loaders for evaluation and training sets
    metrics  - routing curves, CPT(x%), PGR, APGR (RouteLLM's protocol, re-implemented)
    routers  - one interface (prompts -> strong-win probability) and a registry
    experiments - evaluation loops shared by the notebooks
    plots    - figures (no metric logic inside)
"""
from . import config, data, metrics, plots, routers, experiments, training_data, ablations  # noqa: F401
from .config import setup  # noqa: F401

__version__ = "0.1.0"
