"""The runner floor: the drivers the notebooks call, above ``evaluation``.

``router_runs`` (fit, cache and score one router; every router's grid comes from its class),
``experiments`` (the notebooks' steps for Tables 1-2), ``ablations`` (Tables 3-6) and ``paper``
(the ``paper`` profile's entry points). They read metrics, intervals and verdicts from
``evaluation``; nothing below this floor imports them.
"""
