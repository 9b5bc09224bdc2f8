"""Evaluation: routing curves, CPT(x%), APGR (``metrics``), bootstrap intervals and the verdict rule
(``bootstrap``, ``verdicts``), every router's fit-score-metric run (``router_runs``), the notebooks'
drivers (``experiments``), latency/cost (``costs``), ablations (Tables 3-6), the ``paper``
profile's entry points (``paper``), calibration and figures (``calibration``, ``plots``)."""
