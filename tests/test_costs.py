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


def test_feature_cache_switch_reads_and_writes_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("RAGROUTER_CACHE", str(tmp_path))
    monkeypatch.setenv("RAGROUTER_DERIVED", "off")
    calls = []

    def compute(t):
        calls.append(list(t))
        return {"x": np.arange(len(t), dtype=np.float32)[:, None]}
    texts = ["a", "b", "a"]
    with encoders.feature_cache(enabled=False):
        assert not encoders.feature_cache_enabled()
        out = encoders.cached("toy", {"v": 1}, texts, compute, verbose=False)
        encoders.store(encoders.store_dir("toy", {"v": 2}), encoders.text_keys(["c"]), {"x": np.zeros((1, 1))})
    assert encoders.feature_cache_enabled()  # restored on exit
    assert calls == [texts] and out["x"].shape == (3, 1)  # computed, every text
    assert not any(tmp_path.rglob("*"))  # nothing written under the cache root
    encoders.cached("toy", {"v": 1}, texts, compute, verbose=False)  # on: the entry appears
    assert sorted(calls[-1]) == ["a", "b"] and len(list(tmp_path.rglob("*.npz"))) == 1
    with encoders.feature_cache(enabled=False):  # off: the stored entry is not read
        encoders.cached("toy", {"v": 1}, texts, compute, verbose=False)
    assert calls[-1] == texts and len(list(tmp_path.rglob("*.npz"))) == 1
    encoders.cached("toy", {"v": 1}, texts, compute, verbose=False)  # on again: served from the store
    assert len(calls) == 3
