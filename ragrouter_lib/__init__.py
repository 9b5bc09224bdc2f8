"""RAGRouter reproduction library: all logic behind the numbered notebooks.

Modules, by what they do:
    config   - profiles, the setup() call every notebook starts with, seeding, cache keys
    data     - vendored data with checksums, loaders for evaluation and training sets
    metrics  - routing curves, CPT(x%), PGR, APGR (RouteLLM's protocol, re-implemented)
    routers  - one interface (prompts -> strong-win probability) and a registry
    labels, augmentation, sampling, training_data - the training pool and RAGRouter's data pipeline
    features, syntax - cached encoder / LM / parser passes shared by every router
    experiments - evaluation loops shared by the notebooks
    ablations - Tables 3-6: RAGRouter with one part switched off
    plots    - figures (no metric logic inside)
    runner, report - run_all.sh's papermill driver and the README's generated results
"""
from . import config, data, metrics, plots, routers, experiments, training_data, ablations  # noqa: F401
from .config import setup  # noqa: F401

__version__ = "0.1.0"
