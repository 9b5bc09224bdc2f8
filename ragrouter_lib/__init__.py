"""RAGRouter reproduction library: all logic behind the numbered notebooks.

The modules' order along the pipeline (and which may import which) is ``layout.FLOW``.
Modules, by what they do:
    config   - profiles, the setup() call every notebook starts with, the run's identity
    cache    - the one cache root, key recipe (code closure) and atomic checksummed files
    text     - the question without a shared few-shot preamble; the encoder-window truncation rule
    data, hub - vendored data with checksums and loaders; the paper profile's Hub ids and stand-ins
    labels, sources - the training pool (label semantics per source), per-source transfer table
    features, syntax - cached encoder / LM / parser passes shared by every router
    alignment, sampling, augmentation, training_data - label alignment across sources, RAGRouter's
               data pipeline (perplexity sampling, multi-source augmentation)
    training - step seeding, the one training loop (early stopping, history), TrainableRouter
    selection - source-grouped model selection (the one protocol every router is tuned by)
    routers  - one interface (prompts -> strong-win probability) and a registry
    metrics, verdicts - routing curves, CPT(x%), APGR; paired bootstrap intervals and the verdict rule
    costs, experiments, ablations - latency/cost tables, evaluation loops, Tables 3-6
    paper    - the paper profile's notebook entry points
    plots, report, runner, cli - figures, generated README text, run_all.sh's driver, ragrouter-score
"""
from . import (ablations, alignment, cache, config, costs, data, experiments, features, hub, labels,  # noqa: F401
               metrics, paper, plots, report, routers, selection, sources, text, training,
               training_data, verdicts)
from .config import setup  # noqa: F401

config.CHECKS["data"] = data.verify_all  # setup prints the data checksums (config imports no data)

__version__ = "0.1.0"
