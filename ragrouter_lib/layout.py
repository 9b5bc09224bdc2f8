"""The pipeline's order: the one place that says which module may import which.

``FLOW`` lists the library's modules in the order data flows through the thesis's pipeline; a
module may import only modules at or before its own place (``tests/test_house.py`` walks the
imports with ``cache.imports`` and fails on a back-edge, a cycle or a module missing here).
``"routers"`` stands for the routers package and every ``routers.*`` module not listed on its own.
The package ``ragrouter_lib/__init__.py`` is the public facade and may import anything.

Placement notes: ``models`` and ``features`` (encoders, LM passes, the per-text feature store) come
before the data-pipeline steps because those steps use them (the leakage/source tables read
embeddings, sampling reads LM perplexities); ``routers.base`` (the interface) precedes
``training`` (the training core and ``TrainableRouter``), which precedes every router;
``alignment`` and ``selection`` (source-grouped validation criteria, no router imports) precede the
routers that train against them; ``sampling`` (perplexity difficulty) precedes ``augmentation``,
which uses it to filter candidates.
"""
from __future__ import annotations

FLOW: list[str] = [
    # infrastructure
    "layout", "cache", "config", "text",
    # data: loading, provenance, the paper profile's Hub data
    "data", "models", "hub",
    # labels, encoders, the training pool's composition and data pipeline
    "labels", "features", "sources", "alignment", "sampling", "augmentation", "training_data", "syntax",
    # routers: interface, training core, selection criterion, the routers themselves
    "routers.base", "training", "selection", "routers",
    # evaluation (``plots``: pure drawing, no library imports, called by the evaluation modules)
    "calibration", "metrics", "verdicts", "plots", "costs", "experiments", "ablations", "paper",
    # report and entry points
    "report", "runner", "cli",
]

PACKAGE = "ragrouter_lib"


def rank(module: str) -> int:
    """Place of a module (``ragrouter_lib.x`` or ``x``) in ``FLOW``; KeyError if not placed."""
    name = module.removeprefix(PACKAGE + ".")
    if name in FLOW:
        return FLOW.index(name)
    if name == "routers" or name.startswith("routers."):
        return FLOW.index("routers")
    raise KeyError(f"module {module!r} is not placed in layout.FLOW")
