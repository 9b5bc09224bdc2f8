"""One cache root for the whole test session (a temporary folder), unless ``RAGROUTER_CACHE`` is set.

Every test that does not point ``RAGROUTER_CACHE`` at its own folder shares this root: the smoke
series (``test_notebooks.py``) computes the MiniLM / SmolLM2 features of the smoke slices once, and
the paper dry run (``test_paper_dry_run.py``, which keeps a set ``RAGROUTER_CACHE``) reads the real
models' features of the same texts from it instead of recomputing them. Cache keys are content
(model digest, parameters, code closure, text hash), so a shared root serves only rows the same code
would compute; the stand-ins' results stay in this temporary root, never in ``outputs/cache``.
A test that needs an empty cache still sets its own ``RAGROUTER_CACHE`` (monkeypatch), as before.
The session no longer depends on (or fills) the developer's ``outputs/cache``: a fresh clone and a
second run see the same cold start. Set ``RAGROUTER_CACHE`` to keep a warm cache between runs.
"""
import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def session_cache(tmp_path_factory):
    if os.environ.get("RAGROUTER_CACHE"):
        yield os.environ["RAGROUTER_CACHE"]
        return
    mp = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("session-cache")
    mp.setenv("RAGROUTER_CACHE", str(root))
    yield str(root)
    mp.undo()
