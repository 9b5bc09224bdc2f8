"""Report: README's generated blocks and checks (``readme``), generated prose in English (``prose``)
and Chinese (``zh``), the result tables' names and reader (``results``).
``python -m ragrouter_lib.report`` rewrites the README's generated blocks."""
