"""The pipeline's order: the one place that says which module may import which.

``FLOW`` lists the library's modules (``package.module`` under ``ragrouter_lib``) in the order
data flows through the thesis's pipeline, sub-package by sub-package: core -> data -> features ->
labels -> pipeline -> routers -> evaluation -> runs -> report, then the entry points ``runner`` and
``cli``. A module may import only modules at or before its own place (``tests/test_house.py``
walks the imports with ``cache.imports`` and fails on a back-edge, a cycle or a module missing
here). ``"routers"`` stands for the routers package and every ``routers.*`` module not listed on
its own; a sub-package's ``__init__`` (a docstring) ranks first in its room. The package
``ragrouter_lib/__init__.py`` is the public facade (short names for the notebooks) and may import
anything.

Placement notes: ``core.seeding`` (step seeds) comes right after ``core.cache`` so that every
module that draws random numbers can import it; ``features`` (encoders, LM passes, parses) comes before ``labels`` and
``pipeline`` because those steps use them (the leakage/source tables read embeddings, sampling
reads LM perplexities); the issue's sketch put it after them. ``routers.base`` (the interface)
precedes ``routers.training`` (the training core and ``TrainableRouter``), which precedes every
router; ``labels.alignment`` and ``routers.selection`` (source-grouped validation criteria, no
router imports) precede the routers that train against them; ``routers.kb`` (the KB, cross-fit folds, the
exact kNN vote) and ``routers.kb_sources`` (the KB's source choice) precede RAGRouter, which reads both; ``pipeline.sampling`` (perplexity
difficulty) precedes ``pipeline.augmentation``, which uses it to filter candidates.

>>> rank("ragrouter_lib.core.cache") < rank("ragrouter_lib.routers.ragrouter") < rank("ragrouter_lib.report.readme")
True
"""
from __future__ import annotations

FLOW: list[str] = [
    # core: infrastructure
    "core.layout", "core.cache", "core.seeding", "core.config", "core.text",
    # data: loading and provenance, packaged models, the paper profile's Hub data, the leakage guard
    "data.loading", "data.models", "data.hub", "data.leakage",
    # features: encoders, LM passes and parses shared by every router
    "features.encoders", "features.syntax", "features.gemma_lm",
    # labels: the training pool's labels, battles, per-source transfer, label alignment
    "labels.pool_labels", "labels.pairwise", "labels.sources", "labels.alignment",
    # pipeline: RAGRouter's data pipeline
    "pipeline.sampling", "pipeline.difficulty", "pipeline.aug_gate", "pipeline.variants", "pipeline.augmentation",
    "pipeline.aug_check", "pipeline.training_data",
    # routers: interface, training core, selection criterion, the routers themselves
    "routers.base", "routers.training", "routers.selection", "routers.kb", "routers.kb_sources", "routers",
    # evaluation (``plots``: pure drawing, called by the evaluation modules)
    "evaluation.calibration", "evaluation.metrics", "evaluation.bootstrap", "evaluation.verdicts",
    "evaluation.plots", "evaluation.costs",
    # runs: the runner floor (the notebooks' drivers: fit/score routers, tables, ablations, paper)
    "runs.router_runs", "runs.experiments", "runs.ablations", "runs.components", "runs.paper", "runs.launch", "runs.plan",
    # report, then the entry points
    "report.results", "report.prose", "report.zh", "report.readme", "report.__main__", "runner", "cli",
]
PACKAGES = ("core", "data", "features", "labels", "pipeline", "routers", "evaluation", "runs", "report")

PACKAGE = "ragrouter_lib"


def rank(module: str) -> int:
    """Place of a module (``ragrouter_lib.x`` or ``x``) in ``FLOW``; KeyError if not placed."""
    name = module.removeprefix(PACKAGE + ".")
    if name in FLOW:
        return FLOW.index(name)
    if name == "routers" or name.startswith("routers."):
        return FLOW.index("routers")
    if name in PACKAGES:  # a sub-package's __init__ (a docstring): first in its room
        return min(i for i, m in enumerate(FLOW) if m.startswith(name + "."))
    raise KeyError(f"module {module!r} is not placed in layout.FLOW")
