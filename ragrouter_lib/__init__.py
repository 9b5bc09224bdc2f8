"""RAGRouter reproduction library: all logic behind the numbered notebooks.

Sub-packages in the order data flows (``core.layout.FLOW`` says which module may import which):
    core       - layout (the order), cache (one root, key recipe, atomic checksummed files),
                 config (profiles, the setup() call every notebook starts with), text
    data       - loading (vendored data, checksums), models (packaged weights), hub (the paper
                 profile's Hub ids and stand-ins), leakage (the evaluation-rows guard)
    features   - encoders (cached encoder / LM passes, the feature store), syntax (parses)
    labels     - pool_labels (training pool, label semantics per source), pairwise (battles,
                 Bradley-Terry tiers), sources (per-source transfer table), alignment
    pipeline   - sampling (SmolLM2 perplexities), difficulty (levels, weights, signal choice),
                 variants + aug_gate + augmentation (multi-source augmentation; aug_check measures it),
                 training_data (one split's training rows)
    routers    - base (interface + registry), training (the one training loop), selection
                 (source-grouped model selection), the baselines, RAGRouter (kb, ragrouter_parts,
                 ragrouter), ragrouter_llm, released
    evaluation - metrics, bootstrap, verdicts, costs, calibration, plots
    runs       - the runner floor: router_runs, experiments, ablations, paper, launch (the notebooks' drivers)
    report     - readme (generated README blocks and checks), prose, zh (Chinese prose), results
Entry points: runner (run_all.sh's driver), cli (``ragrouter-score``).

The notebooks call modules by their short names (``rr.experiments``, ``rr.pool_labels``): each
module's name is unique across the sub-packages and bound here.
"""
from . import core, data, evaluation, features, labels, pipeline, report, routers, runs  # noqa: F401
from .core import cache, config, layout, text  # noqa: F401
from .core.config import setup  # noqa: F401
from .data import hub, leakage, loading, models  # noqa: F401
from .evaluation import bootstrap, calibration, costs, metrics, plots, verdicts  # noqa: F401
from .features import encoders, syntax  # noqa: F401
from .labels import alignment, pairwise, pool_labels, sources  # noqa: F401
from .pipeline import aug_check, aug_gate, augmentation, difficulty, sampling, training_data, variants  # noqa: F401
from .report import prose, readme, results, zh  # noqa: F401
from .routers import kb_sources, selection, training  # noqa: F401
from .runs import ablations, components, experiments, launch, paper, router_runs  # noqa: F401

config.CHECKS["data"] = loading.verify_all  # setup prints the data checksums (config imports no data)
for _name in routers.OURS:  # setup(..., k=20, augment=False) may override our router's settings
    config.register_settings(_name, routers.ROUTERS[_name].defaults)

__version__ = "0.1.0"
