"""The router interface and registry."""
import numpy as np
import pytest

from ragrouter_lib import routers


def test_registry_and_random_interface(tmp_path):
    r = routers.get_router("random", seed=4)
    s = r.score(["a", "b", "c"])
    assert s.shape == (3,) and ((0 <= s) & (s <= 1)).all()
    np.testing.assert_array_equal(s, routers.get_router("random", seed=4).score(["x", "y", "z"]))
    loaded = routers.load_router(r.save(tmp_path / "rnd"))
    np.testing.assert_array_equal(loaded.score(["a", "b", "c"]), s)
    assert r.route("a", threshold=0.0) == "strong" and r.route("a", threshold=1.01) == "weak"


def test_unknown_router():
    with pytest.raises(KeyError, match="unknown router"):
        routers.get_router("gpt5")
