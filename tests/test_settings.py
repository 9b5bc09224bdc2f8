"""One home per setting (issue 24, item 1): router grids are class attributes whose first entry is
the defaults; RAGRouter's data settings live in the pipeline; a setting changed in one place
(``rr.setup`` override) reaches the fitted router and its cache key; a non-default run gets its own
output folder; no library module assigns into another module's globals. Each rule has a planted
counter-example."""
import ast
import json
from pathlib import Path

import pandas as pd
import pytest

from ragrouter_lib import routers, runner
from ragrouter_lib.core import config
from ragrouter_lib.pipeline import training_data
from ragrouter_lib.routers import base, selection
from ragrouter_lib.routers.ragrouter import RAGRouter
from ragrouter_lib.runs import experiments, router_runs

LIB = Path(__file__).resolve().parents[1] / "ragrouter_lib"


# ----------------------------------------------------------------------------- grids on the classes
@pytest.mark.parametrize("name", sorted(routers.ROUTERS))
def test_every_router_grid_starts_at_its_defaults(name):
    cls = routers.ROUTERS[name]
    assert base.grid_disagreements(cls) == []
    assert 1 <= len(cls.grid) <= selection.MAX_CONFIGS
    assert {**cls.defaults, **cls.grid[0]} == cls.defaults  # applying grid[0] changes nothing
    assert base.get_grid(name, 1) == [cls.grid[0]] and base.get_grid(name) == cls.grid


def test_a_planted_grid_disagreement_is_caught():
    class Planted(routers.Router):
        name = "planted"
        defaults = {"C": 1.0, "k": 10}
        grid = [{"C": 0.3}, {"C": 1.0}, {"depth": 3}]
    found = base.grid_disagreements(Planted)
    assert any("grid[0]['C'] = 0.3" in f for f in found) and any("'depth'" in f for f in found), found
    Planted.grid = []
    assert base.grid_disagreements(Planted) == ["planted: empty grid"]


def test_no_grid_table_outside_the_router_classes():
    assert not hasattr(router_runs, "GRIDS") and not hasattr(experiments, "GRIDS")


# ----------------------------------------------------------------------------- data settings: one home
def _literal_keys_of_defaults(cls_name: str, path: Path) -> set[str]:
    """String-literal keys written in class ``cls_name``'s ``defaults = {...}`` (``**spread`` excluded)."""
    tree = ast.parse(path.read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls_name)
    node = next(n for n in cls.body if isinstance(n, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == "defaults" for t in n.targets))
    return {k.value for k in node.value.keys if isinstance(k, ast.Constant)}


def test_ragrouter_reads_its_data_settings_from_the_pipeline(tmp_path):
    assert {k: RAGRouter.defaults[k] for k in training_data.DEFAULTS} == training_data.DEFAULTS
    assert not set(training_data.DEFAULTS) & _literal_keys_of_defaults("RAGRouter", LIB / "routers/ragrouter.py")
    planted = tmp_path / "ragrouter.py"  # the duplicate literal this check exists for
    planted.write_text('class RAGRouter:\n    defaults = {**DEFAULTS, "augment": True, "k": 10}\n')
    assert _literal_keys_of_defaults("RAGRouter", planted) & set(training_data.DEFAULTS) == {"augment"}


# ----------------------------------------------------------------------------- one place to change a setting
def test_an_unknown_override_is_an_error():
    with pytest.raises(ValueError, match="unknown setting"):
        config.setup("smoke", verbose=False, kk=20)


def test_setup_override_reaches_the_fitted_router_and_its_cache_key():
    train = pd.DataFrame({"prompt": ["a", "b"], "score": [1, 5], "source": ["x", "y"], "strong_needed": [1, 0]})
    plain, changed = config.setup("smoke", verbose=False), config.setup("smoke", verbose=False, k=20, augment=False)
    g0, g1 = router_runs.run_grid("ragrouter", plain)[0], router_runs.run_grid("ragrouter", changed)[0]
    assert g0 == RAGRouter.grid[0]  # a default run fits the defaults
    r = routers.get_router("ragrouter", seed=0, **g1)  # what fit_router builds from the configuration
    assert r.hp["k"] == 20 and r.hp["augment"] is False
    assert router_runs._router_key("ragrouter", g1, 0, train, None) != router_runs._router_key("ragrouter", g0, 0, train, None)
    # notebook 04 shows the data notebook 05 fits on
    assert training_data.settings(changed) == {**training_data.DEFAULTS, "augment": False}
    assert router_runs.run_grid("knn", changed)[0] == {"k": 10}  # a baseline's k is its own
    # the paper profile's run-time settings are laid over (no global grid is rewritten)
    assert router_runs.run_grid("ragrouter_llm", plain, {"llm_path": "x"})[0] == {"k": 10, "llm_path": "x"}


def test_router_seeds_folds_and_settings_reach_the_fit(monkeypatch, tmp_path):
    monkeypatch.setenv("RAGROUTER_CACHE", str(tmp_path))
    calls = []

    def fake(name, pool, evals, seeds, cache_dir, grid, log, **kw):
        calls.append(dict(name=name, seeds=list(seeds), grid=grid, n_folds=kw["n_folds"]))
        return pd.DataFrame(), {}, None, {}
    monkeypatch.setattr(experiments, "train_and_evaluate", fake)
    cfg = config.setup("smoke", verbose=False, k=20, router_seeds=[7], selection_folds=4)
    experiments.run_baselines(None, {}, cfg, names=["ragrouter"], aligned=[], settings={"ragrouter": {"rag": "off"}})
    assert calls == [dict(name="ragrouter", seeds=[7], grid=[{"k": 20, "rag": "off"}], n_folds=4)]


# ----------------------------------------------------------------------------- output folders
def test_a_non_default_run_gets_its_own_folder():
    assert config.run_out_dir("offline") == "outputs"  # the delivered logs
    assert config.run_out_dir("offline", "outputs", 0, {"k": 10}) == "outputs"  # = the default: not a change
    assert config.run_out_dir("smoke") == "outputs/smoke"
    seed1 = config.run_out_dir("offline", None, 1)
    k20 = config.run_out_dir("offline", "outputs", 0, {"k": 20})
    assert seed1.startswith("outputs/runs/offline-") and k20.startswith("outputs/runs/offline-") and seed1 != k20
    assert config.run_out_dir("offline", "outputs", 1) == seed1 == config.run_out_dir("offline", "outputs/smoke", 1)
    assert config.run_out_dir("offline", "/tmp/mine", 1) == "/tmp/mine"  # a folder of the user's own is kept
    assert config.run_out_dir("offline", None, 0, {"router_seeds": [0, 1]}).startswith("outputs/runs/")
    assert config.setup("offline", data_seed=1, verbose=False).out_dir == seed1  # setup applies the same rule


def test_runner_passes_seed_and_overrides_to_the_same_rule(monkeypatch):
    got = {}
    monkeypatch.setattr(runner, "run", lambda profile, out_dir, data_seed, only, **kw: got.update(
        profile=profile, out_dir=out_dir, data_seed=data_seed, **kw) or {"profile": profile, "status": "ok",
                                                                          "total_seconds": 0})
    assert runner.main(["offline", "--seed", "1", "--set", "k=20", "--set", "augment=false", "--set", "x=y"]) == 0
    assert got == {"profile": "offline", "out_dir": None, "data_seed": 1, "overrides": {"k": 20, "augment": False, "x": "y"}}
    assert runner.parse_sets(["router_seeds=[0, 1]"]) == {"router_seeds": [0, 1]}


# ----------------------------------------------------------------------------- no module patches another's globals
MUTATORS = {"update", "setdefault", "pop", "popitem", "clear", "append", "extend", "insert", "remove", "__setitem__"}


def foreign_writes(source: str, own: str = "") -> list[str]:
    """Assignments (or mutating calls) into an attribute of another ragrouter_lib module bound by an
    import, e.g. ``router_runs.GRIDS[...] = ...`` or ``encoders.ENCODERS.update(...)``."""
    tree = ast.parse(source)
    mods = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom) and (n.level > 0 or (n.module or "").startswith("ragrouter_lib")):
            mods |= {a.asname or a.name for a in n.names}
        elif isinstance(n, ast.Import):
            mods |= {a.asname or a.name for a in n.names if a.name.startswith("ragrouter_lib")}

    def root(node):  # the module name an attribute chain starts from, if it is an imported module's attribute
        while isinstance(node, ast.Subscript):
            node = node.value
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in mods:
            return f"{node.value.id}.{node.attr}"
        return None
    out = []
    for n in ast.walk(tree):
        targets = n.targets if isinstance(n, ast.Assign) else [n.target] if isinstance(n, (ast.AugAssign, ast.AnnAssign)) else []
        out += [f"{own}:{n.lineno}: assigns into {root(t)}" for t in targets if root(t)]
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in MUTATORS and root(n.func.value):
            out.append(f"{own}:{n.lineno}: {n.func.attr}() on {root(n.func.value)}")
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "setattr" and \
                isinstance(n.args[0], ast.Name) and n.args[0].id in mods:
            out.append(f"{own}:{n.lineno}: setattr on {n.args[0].id}")
    return out


def test_no_module_patches_another_modules_globals():
    found = []
    for f in sorted(LIB.rglob("*.py")):
        if f == LIB / "__init__.py":  # the facade: registrations through the owners' functions only
            continue
        found += foreign_writes(f.read_text(), str(f.relative_to(LIB)))
    assert found == []
    facade = (LIB / "__init__.py").read_text()
    assert "register_settings(" in facade and "SETTINGS[" not in facade


@pytest.mark.parametrize("line", ['router_runs.GRIDS["ragrouter_llm"] = []', "encoders.ENCODERS[name] = f",
                                  "encoders.ENCODERS.update(x=f)", "router_runs.GRIDS = {}", "setattr(encoders, 'X', 1)"])
def test_planted_global_patches_are_found(line):
    src = "from ..features import encoders\nfrom . import router_runs\n\n\ndef f(name, f):\n    " + line + "\n"
    assert len(foreign_writes(src)) == 1
    assert foreign_writes("import os\nos.environ['X'] = '1'\nd = {}\nd['a'] = 1\n") == []  # not a library module


def test_encoders_own_their_registration():
    from ragrouter_lib.features import encoders
    try:
        encoders.register_encoder("planted-test-encoder", "/nonexistent")
        assert encoders.ENCODERS["planted-test-encoder"]() == "/nonexistent"
    finally:
        encoders.ENCODERS.pop("planted-test-encoder", None)
    assert json.dumps(sorted(config.SETTINGS)) == json.dumps(sorted(routers.OURS))


# ----------------------------------------------------------------------------- notebook check sizes
NOTEBOOK_SIZES = {"03": ["feature_cost"], "04": ["aug_check"], "05": ["encoder_cost", "kb_recall", "latency"]}


def test_check_sizes_offline_as_delivered_and_smoke_smaller():
    """The notebooks' cost and check cells read their sizes from ``cfg.size`` (one home: config); offline and paper
    measure what the delivered offline logs measured (03: 128 prompts, 04: 150 variants, 05: 64 / 500 / 200)."""
    delivered = dict(feature_cost=128, encoder_cost=64, kb_recall=500, latency=200, aug_check=150)
    for profile in ("offline", "paper"):
        cfg = config.Config(profile, 0, "o", config.resolve(profile))
        assert {k: cfg.size(k) for k in delivered} == delivered, profile
    smoke = config.setup("smoke", verbose=False)
    assert all(0 < smoke.size(k) < v for k, v in delivered.items())
    sources = {p.name[:2]: p.read_text() for p in runner.notebooks()}
    for nb, names in NOTEBOOK_SIZES.items():
        for name in names:
            assert f'cfg.size("{name}")' in sources[nb], (nb, name)
