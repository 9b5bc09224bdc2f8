"""Infrastructure every step uses: the pipeline's order (``layout``), the one cache and its key
recipe (``cache``), profiles and the notebooks' ``setup`` call (``config``), question text rules
(``text``)."""
