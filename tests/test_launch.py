"""Every GPU from the run itself, and no silent CPU fallback (issue 27, items 3 and 4), on CPU.

- ``paper`` without CUDA stops with one line (``config.cuda_decision``: ``setup``, the runner,
  ``paper.notebook_final_model``), unless it is the dry run, which proceeds with 4-bit off.
- The launched LLM fit (``runs.launch``: ``accelerate launch -m ragrouter_lib.runs.launch``) in 2 CPU
  processes (gloo, DDP config) with an uneven last batch (N mod (batch x processes) < processes: one
  process's shard is empty) finishes within a timeout and equals the in-process fit.
- The FSDP config is parsed; its wrap class, sharding strategy and ``use_orig_params`` drive torch FSDP
  in 2 CPU processes (gloo) through ``train_scorer`` with an uneven last batch (this file run by
  torchrun is the worker). Left out on CPU, because accelerate's FSDP plugin refuses to start without
  an accelerator device: the plugin itself, bf16 mixed precision, activation checkpointing and
  ``cpu_ram_efficient_loading`` (asserted as parsed fields only).
- Mixed dtypes (bf16 backbone, fp32 head) make FSDP refuse to flatten; the launcher's dtype choice
  for the full fine-tune is uniform, and ``check_uniform_dtypes`` names the problem first.
"""
from __future__ import annotations

import copy
import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

from ragrouter_lib import runner  # noqa: E402
from ragrouter_lib.core import config  # noqa: E402
from ragrouter_lib.core.seeding import seed_step  # noqa: E402
from ragrouter_lib.data import hub  # noqa: E402
from ragrouter_lib.routers import llm_scorer as L  # noqa: E402
from ragrouter_lib.runs import launch, paper  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PAPER = SimpleNamespace(profile="paper", data_seed=0)
TIMEOUT = 400  # seconds per 2-process run: a hang (a process waiting in a collective) fails the test
# N mod (batch x processes) = 9 mod (2 x 2) = 1 < 2 processes: the last global batch has one row, so
# process 1's shard is empty (the old loop's ``continue`` left process 0 waiting forever)
N_ROWS, PER_PROCESS, PROCESSES = 9, 2, 2


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory):
    folder = hub.stand_ins(tmp_path_factory.mktemp("standins"), n_rows=30)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(hub.STANDINS_ENV, str(folder))
        yield folder


def rows(n=N_ROWS):
    rng = np.random.default_rng(0)
    return [" ".join(rng.choice(hub.WORDS, 6)) for _ in range(n)], rng.integers(0, 5, n)


def full_scorer(path, seed=0):
    """A full-parameter (lora_r = 0) fp32 scorer: no LoRA dropout, so runs compare exactly."""
    seed_step(seed, "test/init")
    tok, bb = L.load_backbone(path, load_4bit=False, lora_r=0, dtype=torch.float32)
    return tok, L.LLMScorer(bb, L.hidden_size(bb))


def max_diff(a: dict, b: dict) -> float:
    assert set(a) == set(b)
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


# ----------------------------------------------------------------------------- item 3: no silent CPU fallback
def test_paper_without_cuda_stops_with_one_line(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv(hub.STANDINS_ENV, raising=False)
    with pytest.raises(config.CudaMissing) as e:
        config.setup("paper", out_dir=str(tmp_path), verbose=False)
    msg = str(e.value)
    assert "\n" not in msg and "--dry-run" in msg and "setup.sh --cuda" in msg
    assert e.value._render_traceback_() == [f"CudaMissing: {msg}"]  # what a notebook shows: that line only
    with pytest.raises(config.CudaMissing):
        paper.notebook_final_model(PAPER)
    with pytest.raises(SystemExit) as stop:  # the runner stops before any notebook, with the same line
        runner.main(["paper", "--out-dir", str(tmp_path / "out"), "--only", "99"])
    assert stop.value.code == msg and not (tmp_path / "out").exists()
    assert config.cuda_decision("offline") is False and config.cuda_decision("smoke") is False


def test_dry_run_proceeds_without_cuda_and_4bit_follows_the_decision(stand_ins, monkeypatch, tmp_path):
    from ragrouter_lib.features import encoders
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cfg = config.setup("paper", out_dir=str(tmp_path), verbose=False)  # stand-ins env set: the dry run
    assert cfg.router_seeds == config.PAPER_DRY_RUN["router_seeds"]
    monkeypatch.setitem(encoders.ENCODERS, "placeholder", None)  # the registration below is undone after the test
    try:
        name, hp = paper.notebook_final_model(cfg)
    finally:
        encoders.ENCODERS.pop(paper.PAPER_ENCODER, None)
    assert name == "ragrouter_llm" and hp["load_4bit"] is False
    monkeypatch.setattr(runner, "KERNEL_ENV", {})
    assert runner.main(["paper", "--dry-run", "--only", "99", "--out-dir", str(tmp_path / "dry")]) == 0


def test_no_probe_for_4bit_and_8bit(stand_ins, monkeypatch):
    """``load_4bit=None`` no longer means "CUDA present"; Adam is 8-bit only for 4-bit weights."""
    with L.quiet_peft():
        import peft  # noqa: F401  (imported while CUDA is really absent: bitsandbytes picks its CPU backend)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a probe would now choose 4-bit / 8-bit
    tok, bb = L.load_backbone(hub.model_path("llm", PAPER), load_4bit=None, lora_r=2)
    scorer = L.LLMScorer(bb, L.hidden_size(bb))
    assert not L.is_4bit(scorer)
    assert type(L.adam([torch.nn.Parameter(torch.zeros(2))], 1e-3)).__name__ == "Adam"


# ----------------------------------------------------------------------------- item 4: launched fits
def test_launched_fit_with_uneven_last_batch_equals_in_process(stand_ins, monkeypatch, tmp_path):
    """``use_all_gpus`` (2 CPU processes) -> ``train_scorer`` -> ``accelerate launch`` (DDP config,
    gloo) -> ``scorer.pt`` loaded into the kernel's scorer: equal to the in-process fit with the same
    global batch, so the uneven last batch's gradient is the whole batch's (weighted shards)."""
    monkeypatch.setenv("RAGROUTER_CACHE", str(tmp_path))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setattr(launch, "config_for", lambda lora_r: launch.CONFIGS["ddp"])  # FSDP needs GPUs (below)
    texts, y = rows()
    tok, launched = full_scorer(hub.model_path("llm", PAPER))
    local = copy.deepcopy(launched)
    init = {k: v.clone() for k, v in launched.state_dict().items()}
    lines = []
    try:
        assert "2 processes" in launch.use_all_gpus(PAPER, processes=PROCESSES, log=lines.append, timeout=TIMEOUT)
        hist = L.train_scorer(launched, tok, texts, y, epochs=2, lr=1e-3, batch_size=PER_PROCESS * PROCESSES,
                              grad_accum=2, max_len=24)
    finally:
        launch.use_all_gpus(SimpleNamespace(profile="offline"))
    assert L.LAUNCHER["fn"] is None
    assert "2 processes (DistributedType.MULTI_CPU, ddp_lora.yaml)" in lines[0] and "global batch 4" in lines[0]
    assert len(hist) == 2 and hist[0]["rows"] == 5  # process 0's shards: 2 + 2 + 1 of 9 rows
    L.set_launcher(None)
    L.train_scorer(local, tok, texts, y, epochs=2, lr=1e-3, batch_size=PER_PROCESS * PROCESSES, grad_accum=2, max_len=24)
    assert max_diff(launched.state_dict(), local.state_dict()) < 1e-5
    assert max_diff(launched.state_dict(), init) > 1e-4  # every weight trains (lora_r = 0) and came back
    assert not any((tmp_path / "launch").iterdir())  # the work folder is removed


def test_fsdp_config_parses_to_what_the_launcher_expects():
    import yaml
    from transformers.models.qwen2 import modeling_qwen2
    cfg = yaml.safe_load(launch.CONFIGS["fsdp"].read_text())
    f = cfg["fsdp_config"]
    assert cfg["distributed_type"] == "FSDP" and cfg["mixed_precision"] == "bf16"
    assert f["fsdp_auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"
    assert hasattr(modeling_qwen2, f["fsdp_transformer_layer_cls_to_wrap"])
    assert f["fsdp_sharding_strategy"] == "FULL_SHARD" and f["fsdp_state_dict_type"] == "FULL_STATE_DICT"
    assert f["fsdp_use_orig_params"] is True
    # GPU-only fields, not exercised on CPU (see the module docstring)
    assert f["fsdp_activation_checkpointing"] is True and f["fsdp_cpu_ram_efficient_loading"] is True
    assert yaml.safe_load(launch.CONFIGS["ddp"].read_text())["distributed_type"] == "MULTI_GPU"
    assert launch.config_for(0) == launch.CONFIGS["fsdp"] and launch.config_for(8) == launch.CONFIGS["ddp"]
    # the full fine-tune's dtype is uniform on GPU too (bf16 compute comes from mixed_precision)
    assert launch.backbone_dtype(0, cuda=True) == torch.float32 and launch.backbone_dtype(8, cuda=True) == torch.bfloat16


def test_mixed_dtypes_are_named_before_fsdp(stand_ins):
    _, scorer = full_scorer(hub.model_path("llm", PAPER))
    launch.check_uniform_dtypes(scorer)
    scorer.backbone.to(torch.bfloat16)  # bf16 backbone, fp32 head: what FSDP refuses to flatten
    with pytest.raises(ValueError, match="one parameter dtype.*bfloat16.*float32"):
        launch.check_uniform_dtypes(scorer)


def test_fsdp_two_processes_uneven_last_batch_on_cpu(stand_ins, tmp_path):
    """torch FSDP (gloo, CPU) with the committed config's wrap class, sharding and use_orig_params:
    ``train_scorer`` with an empty shard in the last batch finishes and equals the in-process fit;
    a bf16 backbone with the fp32 head is refused by FSDP itself."""
    texts, y = rows()
    tok, scorer = full_scorer(hub.model_path("llm", PAPER))
    (tmp_path / "data.json").write_text(json.dumps({"texts": texts, "y": y.tolist(),
                                                    "model": str(hub.model_path("llm", PAPER))}))
    torch.save(scorer.state_dict(), tmp_path / "init.pt")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(PROCESSES),
           "--master_port", str(launch._free_port()), __file__, str(tmp_path)]
    os.environ["OMP_NUM_THREADS"], saved = "1", os.environ.get("OMP_NUM_THREADS")
    try:
        done = launch.run_launch(cmd, timeout=TIMEOUT)
    finally:
        os.environ.pop("OMP_NUM_THREADS") if saved is None else os.environ.update(OMP_NUM_THREADS=saved)
    assert done.returncode == 0, done.stderr[-3000:]
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["mixed_dtype_error"].startswith("Must flatten tensors with uniform dtype")
    assert meta["fsdp_units"] >= 3 and meta["rows_rank0"] == 5  # root + one unit per decoder layer
    L.train_scorer(scorer, tok, texts, y, epochs=2, lr=1e-3, batch_size=PER_PROCESS * PROCESSES, grad_accum=2,
                   max_len=24)
    assert max_diff(torch.load(tmp_path / "fsdp.pt"), scorer.state_dict()) < 1e-5


def fsdp_worker(folder: Path) -> None:
    """One torchrun process of the FSDP test: the parsed config's fields -> torch FSDP on CPU (gloo)."""
    import functools

    import torch.distributed as dist
    import yaml
    from torch.distributed.fsdp import FullStateDictConfig, ShardingStrategy, StateDictType
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
    from torch.distributed.fsdp.wrap import transformer_auto_wrap_policy
    from transformers.models.qwen2 import modeling_qwen2

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    f = yaml.safe_load(launch.CONFIGS["fsdp"].read_text())["fsdp_config"]
    data = json.loads((folder / "data.json").read_text())
    tok, bb = L.load_backbone(data["model"], load_4bit=False, lora_r=0, dtype=torch.float32)
    scorer = L.LLMScorer(bb, L.hidden_size(bb))
    scorer.load_state_dict(torch.load(folder / "init.pt"))
    kw = dict(auto_wrap_policy=functools.partial(transformer_auto_wrap_policy, transformer_layer_cls={
        getattr(modeling_qwen2, f["fsdp_transformer_layer_cls_to_wrap"])}),
        sharding_strategy=ShardingStrategy[f["fsdp_sharding_strategy"]], use_orig_params=f["fsdp_use_orig_params"],
        device_id=torch.device("cpu"))
    mixed = copy.deepcopy(scorer)
    mixed.backbone.to(torch.bfloat16)
    try:
        FSDP(mixed, **kw)
        mixed_error = ""
    except ValueError as e:
        mixed_error = str(e)
    launch.check_uniform_dtypes(scorer)
    model = FSDP(scorer, **kw)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    acc = SimpleNamespace(device=torch.device("cpu"), process_index=rank, num_processes=world,
                          backward=lambda loss: loss.backward())
    hist = L.train_scorer(model, tok, data["texts"], data["y"], 2, 1e-3, PER_PROCESS, 2, 24, optimizer=opt,
                          accelerator=acc)
    with FSDP.state_dict_type(model, StateDictType.FULL_STATE_DICT, FullStateDictConfig(rank0_only=True)):
        state = model.state_dict()
    if rank == 0:
        torch.save({k: v.clone() for k, v in state.items()}, folder / "fsdp.pt")
        (folder / "meta.json").write_text(json.dumps({
            "mixed_dtype_error": mixed_error, "rows_rank0": hist[0]["rows"],
            "fsdp_units": sum(isinstance(m, FSDP) for m in model.modules())}))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":  # torchrun runs this file as the FSDP test's worker
    fsdp_worker(Path(sys.argv[1]))
