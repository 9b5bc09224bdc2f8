"""Evaluation: routing curves, CPT(x%), APGR (``metrics``), bootstrap intervals and the verdict rule
(``bootstrap``, ``verdicts``), latency/cost (``costs``), calibration and figures (``calibration``,
``plots``). The drivers that run routers and assemble tables sit one floor up, in ``runs``."""
