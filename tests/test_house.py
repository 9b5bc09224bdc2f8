"""The house rules (issue 12): the import graph follows the pipeline, one cache-key recipe that
cannot go stale, atomic and checksummed cache files, step seeding independent of process history,
and one-line answers to bad input from ``ragrouter-score``."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from ragrouter_lib import cli, routers
from ragrouter_lib.core import cache, config, layout, seeding
from ragrouter_lib.runs import router_runs
from ragrouter_lib.features import encoders
from ragrouter_lib.routers import training

REPO = Path(__file__).resolve().parents[1]


def _modules():
    out = []
    for f in sorted((REPO / "ragrouter_lib").rglob("*.py")):
        parts = f.relative_to(REPO).with_suffix("").parts
        out.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return out


def _plant(monkeypatch, module: str, extra: str) -> None:
    """``cache.module_source(module)`` reads as its real source plus ``extra`` (a planted fault)."""
    real = cache.module_source
    monkeypatch.setattr(cache, "module_source", lambda m: real(m) + (extra if m == module else ""))


# ----------------------------------------------------------------------------- layout
def test_imports_follow_the_pipeline_order_without_cycles():
    mods = [m for m in _modules() if m != "ragrouter_lib"]  # the package facade may import anything
    unplaced = [m for m in mods if not _placed(m)]
    assert not unplaced, f"modules missing from layout.FLOW: {unplaced}"
    graph = {m: [i for i in cache.imports(m) if i != "ragrouter_lib"] for m in mods}
    back = [f"{m} -> {i}" for m, deps in graph.items() for i in deps if layout.rank(i) > layout.rank(m)]
    assert not back, "imports against the pipeline order (layout.FLOW): " + "; ".join(back)
    assert not _cycles(graph), f"import cycles: {_cycles(graph)}"


def _placed(m):
    try:
        layout.rank(m)
        return True
    except KeyError:
        return False


def _cycles(graph):
    state, found = {}, []

    def visit(m, stack):
        state[m] = 1
        for d in graph.get(m, ()):
            if state.get(d) == 1:
                found.append(" -> ".join(stack[stack.index(d):] + [d]))
            elif d not in state:
                visit(d, stack + [d])
        state[m] = 2
    for m in graph:
        if m not in state:
            visit(m, [m])
    return found


MAX_LINES = 400  # "a few hundred lines at most"


def test_every_module_is_a_few_hundred_lines_with_a_docstring():
    import ast
    long = {m: n for m in _modules() if (n := len(cache.module_source(m).splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"
    bare = [m for m in _modules() if not ast.get_docstring(ast.parse(cache.module_source(m)))]
    assert not bare, f"modules without a docstring: {bare}"


def test_every_module_sits_in_a_sub_package_of_the_flow():
    top = {m for m in _modules() if m.count(".") == 1}  # ragrouter_lib.x
    assert top == {f"ragrouter_lib.{p}" for p in (*layout.PACKAGES, "runner", "cli")}, top


def test_flow_check_catches_a_back_edge_and_a_cycle(monkeypatch):
    """The layout test can fail: a fake edge config -> experiments is a back-edge and a cycle."""
    real = cache.module_source
    monkeypatch.setattr(cache, "module_source", lambda m: real(m) + (
        "\nfrom ..runs import experiments\n" if m == "ragrouter_lib.core.config" else ""))
    assert "ragrouter_lib.runs.experiments" in cache.imports("ragrouter_lib.core.config")
    assert layout.rank("ragrouter_lib.runs.experiments") > layout.rank("ragrouter_lib.core.config")
    graph = {m: cache.imports(m) for m in _modules() if m != "ragrouter_lib"}
    assert _cycles(graph)


def _private_uses(m):
    """``from .x import _y``, and ``obj._y`` for any ``obj`` but ``self``, ``cls`` and ``super()``: a
    library module's private function (``encoders._SHARDS``) or another object's private member
    (``router._neighbours``, ``r._final_rows``, ``self.kb._quant``)."""
    import ast
    tree = ast.parse(cache.module_source(m))
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            bad += [f"{m}: from {'.' * node.level}{node.module or ''} import {a.name}" for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")]
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            own = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
            sup = (isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name)
                   and node.value.func.id == "super")
            if not (own or sup):
                bad.append(f"{m}: {ast.unparse(node)}")
    return bad


def test_no_private_function_used_across_modules():
    bad = [b for m in _modules() for b in _private_uses(m)]
    assert not bad, bad


def test_private_use_check_can_fail(monkeypatch):
    planted = ("\nfrom .features import encoders\nencoders._SHARDS\n"
               "def f(router, r):\n    return router._neighbours(1), r._final_rows, self.kb._quant, self._own, "
               "super()._inputs, cls._x, __name__.__doc__\n")
    _plant(monkeypatch, "ragrouter_lib.cli", planted)
    assert sorted(_private_uses("ragrouter_lib.cli")) == [f"ragrouter_lib.cli: {u}" for u in (
        "encoders._SHARDS", "r._final_rows", "router._neighbours", "self.kb._quant")]


def _hidden_imports(m):
    """Imports inside functions or classes of module ``m`` that break the house rule: a library
    module (it belongs at the top, where readers and ``cache.closure`` see it), or any package
    imported without a comment on its line saying why it waits (heavy or optional)."""
    import ast
    src = cache.module_source(m)
    tree, lines = ast.parse(src), src.splitlines()
    top = {id(n) for n in tree.body}
    bad = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)) or id(node) in top:
            continue
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
        library = isinstance(node, ast.ImportFrom) and node.level or any(n.startswith("ragrouter_lib") for n in names)
        if library:
            bad.append(f"{m}:{node.lineno}: library import inside a function: move it to the top")
        elif "#" not in lines[node.end_lineno - 1] and "#" not in lines[node.lineno - 1]:
            bad.append(f"{m}:{node.lineno}: in-function import of {names[0]} without a comment saying why")
    return bad


def test_imports_sit_at_the_top_unless_heavy_and_explained():
    bad = [b for m in _modules() for b in _hidden_imports(m)]
    assert not bad, bad


def test_hidden_import_check_can_fail(monkeypatch):
    planted = ("\ndef f():\n    from .core import cache\n    import json\n"
               "    import torch  # heavy: imported only when f runs\n")
    _plant(monkeypatch, "ragrouter_lib.cli", planted)
    got = _hidden_imports("ragrouter_lib.cli")
    assert len(got) == 2 and "library import" in got[0] and "json without a comment" in got[1], got


# ----------------------------------------------------------------------------- cache keys
def test_closure_is_computed_and_covers_training_core_and_normalize():
    c = cache.closure(["ragrouter_lib.routers.ragrouter"])
    assert {"ragrouter_lib.routers.training", "ragrouter_lib.data.leakage", "ragrouter_lib.features.encoders"} <= set(c)
    assert "ragrouter_lib.runs.experiments" not in c  # only what the step imports, not the whole package


def _code_edit(src: str) -> str:
    """A one-token code edit: the first ``return x`` becomes ``return -x``."""
    import re
    return re.sub(r"\breturn (?=\S)", "return -", src, count=1)


def _prose_edit(src: str) -> str:
    """Edits that do not change what the code does: module and first function/class docstrings
    reworded, a comment and blank lines added."""
    import ast
    tree = ast.parse(src)
    lines = src.splitlines(keepends=True)
    for node in [tree] + [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))]:
        doc = node.body[0] if node.body else None
        if isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant) and isinstance(doc.value.value, str):
            i = doc.lineno - 1
            lines[i] = lines[i].replace('"""', '"""Reworded. ', 1)
    i = next(n.lineno for n in tree.body if isinstance(n, (ast.FunctionDef, ast.Assign))) - 1
    lines.insert(i, "# a new comment line\n\n")
    return "".join(lines) + "\n\n# a trailing comment\n"


@pytest.mark.parametrize("edited", ["ragrouter_lib.routers.training", "ragrouter_lib.data.leakage"])
def test_editing_training_core_or_normalize_changes_ragrouter_key(edited, monkeypatch):
    train = pd.DataFrame({"prompt": ["a", "b"], "score": [1, 5]})
    before = router_runs._router_key("ragrouter", {"k": 10}, 0, train, train)
    real = cache.module_source
    if edited == "ragrouter_lib.data.leakage":  # a one-token edit inside leakage.normalize
        src = real(edited)
        i = src.index("def normalize")
        patched = src[:i] + _code_edit(src[i:])
    else:
        patched = _code_edit(real(edited))
    assert patched != real(edited)
    monkeypatch.setattr(cache, "module_source", lambda m: patched if m == edited else real(m))
    assert router_runs._router_key("ragrouter", {"k": 10}, 0, train, train) != before


@pytest.mark.parametrize("edited", ["ragrouter_lib.routers.training", "ragrouter_lib.data.leakage",
                                    "ragrouter_lib.core.cache"])
def test_docstring_comment_and_layout_edits_keep_the_key(edited, monkeypatch):
    train = pd.DataFrame({"prompt": ["a", "b"], "score": [1, 5]})
    before = router_runs._router_key("ragrouter", {"k": 10}, 0, train, train)
    real = cache.module_source
    patched = _prose_edit(real(edited))
    assert patched.count("Reworded.") >= 2 and "# a new comment line" in patched
    monkeypatch.setattr(cache, "module_source", lambda m: patched if m == edited else real(m))
    assert router_runs._router_key("ragrouter", {"k": 10}, 0, train, train) == before


@pytest.mark.parametrize("src, edit", [
    ("LIMIT = 1\n\ndef f(x):\n    return x * LIMIT\n", ("LIMIT = 1", "LIMIT = 2")),
    ("LIMIT = 1\n\ndef f(x):\n    return x * LIMIT\n", ("return x", "return -x")),
    ("LIMIT = 1\n\ndef f(x):\n    return x * LIMIT\n", ("x * LIMIT", "x / LIMIT")),
    ('def f(x):\n    """Doc."""\n    return "a"\n', ('return "a"', 'return "b"')),  # a string that is code
])
def test_one_token_code_edit_changes_the_key(src, edit, monkeypatch):
    monkeypatch.setattr(cache, "module_source", lambda m: src)
    monkeypatch.setattr(cache, "closure", lambda modules: list(modules))
    a = cache.key("s", {}, modules=["ragrouter_lib.x"])
    monkeypatch.setattr(cache, "module_source", lambda m: src.replace(*edit))
    assert cache.key("s", {}, modules=["ragrouter_lib.x"]) != a
    monkeypatch.setattr(cache, "module_source", lambda m: _prose_edit(src))  # and prose keeps it
    assert cache.key("s", {}, modules=["ragrouter_lib.x"]) == a


def test_key_changes_with_params_inputs_and_is_stable():
    k = cache.key("s", {"a": 1}, {"x": cache.digest_texts(["p"])}, modules=["ragrouter_lib.evaluation.metrics"])
    assert k == cache.key("s", {"a": 1}, {"x": cache.digest_texts(["p"])}, modules=["ragrouter_lib.evaluation.metrics"])
    assert k != cache.key("s", {"a": 2}, {"x": cache.digest_texts(["p"])}, modules=["ragrouter_lib.evaluation.metrics"])
    assert k != cache.key("s", {"a": 1}, {"x": cache.digest_texts(["q"])}, modules=["ragrouter_lib.evaluation.metrics"])
    df = pd.DataFrame({"prompt": ["a", "b"], "score": [1, 2]})
    assert cache.digest_frame(df, ["prompt"]) != cache.digest_frame(df.assign(prompt=["a", "c"]), ["prompt"])
    assert cache.digest_frame(df, ["prompt", "score"]) != cache.digest_frame(df.assign(score=[1, 3]),
                                                                             ["prompt", "score"])


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGROUTER_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _count_fits(monkeypatch):
    calls = []
    cls = routers.ROUTERS["length"]
    real_fit = cls.fit

    def fit(self, train, valid=None):
        calls.append(1)
        return real_fit(self, train, valid)
    monkeypatch.setattr(cls, "fit", fit)
    return calls


def test_router_from_another_code_version_is_never_read(tmp_cache, monkeypatch):
    calls = _count_fits(monkeypatch)
    df = pd.DataFrame({"prompt": ["a", "b"], "score": [1, 5], "strong_needed": [0, 1]})
    folder = tmp_cache / "routers"
    _, hit1 = router_runs.fit_router("length", {}, 0, df, df, folder)
    _, hit2 = router_runs.fit_router("length", {}, 0, df, df, folder)
    assert (hit1, hit2, len(calls)) == (False, True, 1)
    real = cache.module_source
    monkeypatch.setattr(cache, "module_source", lambda m: real(m) + (
        "\n# a comment is not a new code version\n" if m == "ragrouter_lib.routers.training" else ""))
    assert router_runs.fit_router("length", {}, 0, df, df, folder)[1] and len(calls) == 1
    monkeypatch.setattr(cache, "module_source", lambda m: real(m) + (
        "\nEDITED = 1\n" if m == "ragrouter_lib.routers.training" else ""))
    _, hit3 = router_runs.fit_router("length", {}, 0, df, df, folder)
    assert not hit3 and len(calls) == 2 and len(list(folder.iterdir())) == 2


def test_corrupt_router_folder_is_removed_and_refitted(tmp_cache, monkeypatch):
    calls = _count_fits(monkeypatch)
    df = pd.DataFrame({"prompt": ["a", "b"], "score": [1, 5], "strong_needed": [0, 1]})
    folder = tmp_cache / "routers"
    r, _ = router_runs.fit_router("length", {}, 0, df, df, folder)
    state = r.cache_path / "state.pt"
    state.write_bytes(state.read_bytes()[:-7])  # truncated
    with pytest.warns(cache.CacheWarning):
        _, hit = router_runs.fit_router("length", {}, 0, df, df, folder)
    assert not hit and len(calls) == 2
    assert router_runs.fit_router("length", {}, 0, df, df, folder)[1]  # the refit is cached again


# ----------------------------------------------------------------------------- atomic, checksummed files
def test_truncated_or_corrupted_entry_is_detected_removed_and_recomputed(tmp_path):
    p = tmp_path / "e.pkl"
    cache.save_pickle(p, {"x": list(range(1000))})
    assert cache.load_pickle(p) == {"x": list(range(1000))}
    raw = p.read_bytes()
    for bad in (raw[: len(raw) // 2], raw[:-1] + bytes([raw[-1] ^ 1]), b"not a cache file"):
        p.write_bytes(bad)
        with pytest.warns(cache.CacheWarning, match="removed"):
            assert cache.load_pickle(p) is None
        assert not p.exists()
    value, hit = cache.memo_pickle(p, lambda: "recomputed")
    assert (value, hit) == ("recomputed", False) and cache.memo_pickle(p, lambda: 1) == ("recomputed", True)
    cache.save_npz(tmp_path / "a.npz", x=np.arange(3))
    np.testing.assert_array_equal(cache.load_npz(tmp_path / "a.npz")["x"], np.arange(3))
    assert cache.load_npz(tmp_path / "missing.npz") is None


def test_corrupt_feature_shard_is_recomputed_with_a_warning(tmp_cache):
    encoders._SHARDS.clear()
    calls = []

    def compute(texts):
        calls.append(list(texts))
        return {"v": np.array([[len(t)] for t in texts], np.float32)}
    texts = ["one", "three", "seven!"]
    first = encoders.cached("h2test", {"p": 1}, texts, compute, verbose=False)
    shard = next(encoders.store_dir("h2test", {"p": 1}).glob("*.npz"))
    shard.write_bytes(shard.read_bytes()[:40])
    encoders._SHARDS.clear()  # a new process
    with pytest.warns(cache.CacheWarning):
        again = encoders.cached("h2test", {"p": 1}, texts, compute, verbose=False)
    np.testing.assert_array_equal(first["v"], again["v"])
    assert len(calls) == 2 and calls[1] == texts


def test_feature_store_key_covers_the_computing_code(monkeypatch):
    a = encoders.store_dir("parse", {"p": 1}, ["ragrouter_lib.features.syntax"])
    real = cache.module_source
    monkeypatch.setattr(cache, "module_source", lambda m: real(m) + ("\nEDITED = 1\n" if m == "ragrouter_lib.features.syntax" else ""))
    assert encoders.store_dir("parse", {"p": 1}, ["ragrouter_lib.features.syntax"]) != a
    assert encoders.store_dir("sentence", {"p": 1}) == encoders.store_dir("sentence", {"p": 1})


WRITER = """
import sys
from ragrouter_lib import cache
print("start", flush=True)
cache.save_pickle(sys.argv[1], b"x" * (400 << 20))
print("done", flush=True)
"""


def test_killed_writer_leaves_no_partial_entry(tmp_path):
    target = tmp_path / "big.pkl"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE,
                            cwd=REPO, text=True)
    assert proc.stdout.readline().strip() == "start"
    deadline = time.time() + 60
    while not any(f.name.startswith(".big.pkl.tmp-") and f.stat().st_size > 0 for f in tmp_path.iterdir()):
        assert time.time() < deadline and proc.poll() is None, "writer finished before it could be killed"
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not target.exists()  # killed mid-write: no entry under the real name
    assert cache.load_pickle(target) is None
    value, hit = cache.memo_pickle(target, lambda: b"small")  # a re-run recomputes
    assert (value, hit) == (b"small", False) and cache.load_pickle(target) == b"small"


def test_atomic_dir_leaves_nothing_on_failure(tmp_path):
    with pytest.raises(RuntimeError):
        with cache.atomic_dir(tmp_path / "r") as d:
            (d / "router.json").write_text("{}")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
    with cache.atomic_dir(tmp_path / "r") as d:
        (d / "router.json").write_text("{}")
    assert (tmp_path / "r" / "router.json").exists() and len(list(tmp_path.iterdir())) == 1


# ----------------------------------------------------------------------------- seeding
def test_step_seed_depends_on_seed_and_step_only():
    assert seeding.step_seed(1, "mf/init") == seeding.step_seed(1, "mf/init")
    assert len({seeding.step_seed(s, st) for s in (0, 1, 2) for st in ("a", "b")}) == 6
    torch.rand(5), np.random.rand(3)  # process history
    a = (seeding.seed_step(3, "x").random(), torch.rand(1).item())
    torch.rand(7)
    assert a == (seeding.seed_step(3, "x").random(), torch.rand(1).item())


def test_step_seed_keeps_its_values():
    """Moved from routers.training unchanged: a cached router's seeding means what it meant."""
    assert [seeding.step_seed(0, "mf/init"), seeding.step_seed(3, "ragrouter/final")] == [1576198075, 1591344972]
    import ast
    defined = {n.name for n in ast.parse(cache.module_source("ragrouter_lib.routers.training")).body
               if isinstance(n, ast.FunctionDef)}
    assert not defined & {"step_seed", "seed_step"}  # one home (TrainableRouter.seed_step calls it)


# an RNG constructor or global seeder: its argument must be a ``step_seed(...)`` value
SEEDERS = {"default_rng", "seed", "manual_seed", "manual_seed_all", "RandomState", "Random", "SeedSequence",
           "set_seed"}


def _unseeded_streams(m):
    """Calls in ``m`` of an RNG constructor or global seeder (``np.random.default_rng(...)``,
    ``np.random.seed``, ``torch.manual_seed``, ``random.seed``, ``random.Random``, ...) whose
    argument is not a ``step_seed(...)`` call (no argument: seeded from entropy, also caught)."""
    import ast
    if m == "ragrouter_lib.core.seeding":
        return []

    def step_seeded(arg):
        f = getattr(arg, "func", None)
        return isinstance(arg, ast.Call) and (getattr(f, "id", None) or getattr(f, "attr", None)) == "step_seed"
    bad = []
    for node in ast.walk(ast.parse(cache.module_source(m))):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            args = list(node.args) + [k.value for k in node.keywords]
            if name in SEEDERS and not (len(args) == 1 and step_seeded(args[0])):
                bad.append(f"{m}:{node.lineno}: {ast.unparse(node)}")
    return bad


def test_every_random_stream_comes_from_step_seed():
    bad = [b for m in _modules() for b in _unseeded_streams(m)]
    assert not bad, bad


def test_stream_check_can_fail(monkeypatch):
    planted = ("\nnp.random.default_rng([seed, 7103])\nnp.random.default_rng(step_seed(seed, 'ok'))\n"
               "torch.manual_seed(seed)\nrandom.seed(0)\nnp.random.seed(seeding.step_seed(1, 'ok'))\n"
               "np.random.default_rng()\n")
    _plant(monkeypatch, "ragrouter_lib.cli", planted)
    assert [b.split(": ", 1)[1] for b in _unseeded_streams("ragrouter_lib.cli")] == [
        "np.random.default_rng([seed, 7103])", "torch.manual_seed(seed)", "random.seed(0)", "np.random.default_rng()"]


def test_setup_seeds_nothing():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    config.setup("smoke", data_seed=7, verbose=False)
    assert torch.equal(torch.rand(3), expected)


def _train_head(seed, cold_validation):
    class R:
        name = "toy"
        history = []
    x = torch.randn(64, 4, generator=torch.Generator().manual_seed(0))
    y = (x[:, 0] > 0).long().numpy()
    seeding.seed_step(seed, "toy/init")
    net = torch.nn.Sequential(torch.nn.Dropout(0.3), torch.nn.Linear(4, 2))
    valid = pd.DataFrame({"prompt": list("abcd"), "strong_needed": [0, 1, 0, 1]})
    first = [True]

    def val_scores():  # a cold cache: the first validation pass loads a model (draws from torch's RNG)
        if cold_validation and first[0]:
            torch.nn.Linear(100, 100)
            first[0] = False
        with torch.no_grad():
            return torch.softmax(net(x[:4]), -1)[:, 1].numpy()
    training.HeadTrainer.run(R, net, lambda idx: net(x[idx]), 64, y, valid, 4, 0.05, 0.0, 16, seed,
                             val_scores=val_scores)
    return torch.cat([p.detach().flatten() for p in net.parameters()])


def test_training_core_is_independent_of_cache_state_and_history():
    warm = _train_head(1, cold_validation=False)
    torch.rand(11)
    cold = _train_head(1, cold_validation=True)
    assert torch.equal(warm, cold)
    assert not torch.equal(warm, _train_head(2, cold_validation=False))


def test_training_core_logs_one_line_per_epoch(capsys):
    lines = []
    training.set_verbose(True, log=lines.append)
    try:
        _train_head(0, cold_validation=False)
    finally:
        training.set_verbose(False)
    assert len(lines) == 4 and all("loss=" in s and "val_auc=" in s and "s" in s for s in lines)


# ----------------------------------------------------------------------------- ragrouter-score
def _run_cli(capsys, *argv):
    code = cli.main(list(argv))
    err = capsys.readouterr().err.strip()
    return code, err


@pytest.mark.parametrize("args, needle", [
    (["--strong-fraction", "1.5"], "--strong-fraction: 1.5 is outside (0, 1)"),
    (["--strong-fraction", "0"], "outside (0, 1)"),
    (["--threshold", "-0.1"], "--threshold: -0.1 is outside [0, 1]"),
    (["--threshold", "abc"], "not a number"),
    (["--threshold", "0.5", "--strong-fraction", "0.3"], "not allowed with"),
    ([], "one of the arguments --threshold --strong-fraction is required"),
])
def test_cli_checks_arguments_before_anything_else(args, needle, capsys, tmp_path):
    code, err = _run_cli(capsys, "--router", str(tmp_path / "nope"), "--input", str(tmp_path / "none.jsonl"),
                         "--output", str(tmp_path / "o.jsonl"), *args)
    assert code == 2 and len(err.splitlines()) == 1 and needle in err, err


@pytest.fixture
def saved_router(tmp_path):
    return routers.get_router("length").fit(None).save(tmp_path / "length-router")


def test_cli_wrong_router_folder_lists_the_routers_available(capsys, tmp_path, tmp_cache, saved_router):
    (tmp_cache / "routers").mkdir(parents=True)
    routers.get_router("length").save(tmp_cache / "routers" / "length-abc")
    src = tmp_path / "in.jsonl"
    src.write_text('{"prompt": "hi"}\n')
    code, err = _run_cli(capsys, "--router", str(tmp_path / "typo"), "--input", str(src), "--output",
                         str(tmp_path / "o.jsonl"), "--threshold", "0.5")
    assert code == 2 and len(err.splitlines()) == 1
    assert "typo" in err and "length-abc" in err and "sw_ranking" in err and "does not exist" in err


@pytest.mark.parametrize("content, needle", [
    ('{"prompt": "fine"}\n{"prompt": "broken"\n', "line 2: invalid JSON"),
    ('{"prompt": "fine"}\n\n[1, 2]\n', "line 3: expected a JSON object, got list"),
    ('{"text": "no prompt field"}\n', "line 1: no non-empty string 'prompt' field"),
    ("", "no prompts"),
])
def test_cli_malformed_input_names_file_line_and_problem(content, needle, capsys, tmp_path, saved_router,
                                                         monkeypatch):
    loads = []
    monkeypatch.setattr(routers, "load_router", lambda p: loads.append(p))  # input is checked first
    src = tmp_path / "in.jsonl"
    src.write_text(content)
    out = tmp_path / "o.jsonl"
    code, err = _run_cli(capsys, "--router", str(saved_router), "--input", str(src), "--output", str(out),
                         "--strong-fraction", "0.5")
    assert code == 2 and len(err.splitlines()) == 1 and str(src) in err and needle in err, err
    assert not loads and not out.exists()


def test_cli_scores_and_writes_atomically(capsys, tmp_path, saved_router):
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(json.dumps({"id": i, "prompt": "word " * (i + 1)}) + "\n" for i in range(4)))
    code, err = _run_cli(capsys, "--router", str(saved_router), "--input", str(src), "--output", str(dst),
                         "--strong-fraction", "0.5")
    assert code == 0, err
    out = [json.loads(line) for line in dst.read_text().splitlines()]
    assert [o["route"] for o in out] == ["weak", "weak", "strong", "strong"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_readme_layout_table_matches_the_tree():
    import re
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Layout"):]
    section = section[: section.index("\n\n", section.index("| sub-package"))]
    listed = set()
    for row in section.splitlines():
        m = re.match(r"\| `(\w+)/` \| (.*) \|$", row) or re.match(r"\| entry points \| (.*) \|$", row)
        if not m:
            continue
        pkg, body = (m.group(1), m.group(2)) if m.lastindex == 2 else (None, m.group(1))
        while re.search(r"\([^()]*\)", body):
            body = re.sub(r"\([^()]*\)", "", body)
        for item in body.split(","):
            name = re.search(r"`(\w+)`", item).group(1)
            listed.add(f"ragrouter_lib.{pkg}.{name}" if pkg else f"ragrouter_lib.{name}")
    tree = {m for m in _modules() if m != "ragrouter_lib" and not m.endswith("__main__")
            and m.removeprefix("ragrouter_lib.") not in layout.PACKAGES}
    assert listed == tree, f"README only: {sorted(listed - tree)}; tree only: {sorted(tree - listed)}"
