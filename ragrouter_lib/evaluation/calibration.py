"""Threshold calibration (RouteLLM's ``calibrate_threshold``) and routing a live prompt.

Given a router's strong-win scores on a calibration set of prompts and a target fraction of
strong-model calls, the threshold is the score quantile that sends that fraction to the strong
model (RouteLLM calibrates on Arena prompts; here use the pool's validation split or your own
traffic, never the evaluation rows).

>>> import numpy as np
>>> t = threshold_for_strong_fraction(np.linspace(0, 1, 101), 0.25)
>>> round(t, 2), round(float((np.linspace(0, 1, 101) >= t).mean()), 4)  # 26 of 101 scores
(0.75, 0.2574)
"""
from __future__ import annotations

import numpy as np


def threshold_for_strong_fraction(scores, strong_fraction: float) -> float:
    """Threshold t with mean(scores >= t) ~ strong_fraction."""
    if not 0.0 <= strong_fraction <= 1.0:
        raise ValueError("strong_fraction must be in [0, 1]")
    scores = np.asarray(scores, dtype=float)
    if strong_fraction == 0.0:
        return float(np.nextafter(scores.max(), np.inf))
    return float(np.quantile(scores, 1.0 - strong_fraction))


def calibrate(router, prompts, strong_fraction: float) -> float:
    return threshold_for_strong_fraction(router.score(list(prompts)), strong_fraction)
