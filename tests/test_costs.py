"""costs.py: every router timed in one run, caches bypassed, ratios to the reference router."""
import time

import numpy as np

from ragrouter_lib.evaluation import costs
from ragrouter_lib.features import encoders


class Sleeper:
    """Scores by sleeping ``ms`` per prompt and asking the feature cache for its features."""

    def __init__(self, name, ms):
        self.name, self.ms, self.computed = name, ms, 0

    def score(self, prompts):
        def compute(t):
            self.computed += len(t)
            return {"x": np.zeros((len(t), 1), np.float32)}
        encoders.cached("toy", {"r": self.name}, list(prompts), compute, verbose=False)
        time.sleep(self.ms / 1000 * len(prompts))
        return np.zeros(len(prompts))


def test_latency_table_bypasses_caches_and_gives_ratios(monkeypatch, tmp_path):
    monkeypatch.setenv("RAGROUTER_CACHE", str(tmp_path))
    fast, slow = Sleeper("fast", 2), Sleeper("slow", 8)
    prompts = [f"p{i}" for i in range(20)]
    tab = costs.latency_table({"base": fast, "ragrouter": slow}, prompts, batch=10, single=20).set_index("router")
    assert fast.computed >= 20 + 10  # every single query and the batch computed its features afresh
    assert tab.loc["ragrouter", "p50_ms"] > tab.loc["base", "p50_ms"]
    ratio = tab.loc["base", "ragrouter_p50_ratio"]
    assert 2.0 < ratio < 6.0  # ~4x by construction, loose for a shared CPU
    assert tab.loc["ragrouter", "ragrouter_p50_ratio"] == 1.0
    assert {"p95_ms", "batch_prompts_per_s", "peak_py_mb", "rss_mb"} <= set(tab.columns)
