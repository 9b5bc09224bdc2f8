"""Every GPU of the server for the final model's fits: ``accelerate launch`` started by the run itself.

Thesis step: "final model: fine-tune of Qwen-7B into a 5-class predictor" (``paper`` profile), on all
visible GPUs. With more than one GPU, notebook 05 calls ``use_all_gpus(cfg)``; from then on every
LLM fit of the kernel (``llm_scorer.train_scorer``: the selection folds' and the seeds' final fits)
goes through ``fit_launched``:

1. it writes its input itself into a work folder: the router's training prompts and labels
   (``data.jsonl``: the texts ``RAGRouterLLM.fit`` trains on), the scorer's freshly initialised
   weights (``init.pt``: LoRA adapters + head, ``llm_scorer.fresh_state``) and the settings
   (``spec.json``: model folder, LoRA layout, epochs, lr, batches, seed);
2. it runs ``accelerate launch --config_file <config> --num_processes <n> -m ragrouter_lib.runs.launch
   <folder>`` with the committed config (``config_for``): ``configs/ddp_lora.yaml`` (DDP) for LoRA /
   QLoRA, ``configs/fsdp_full_finetune.yaml`` (FSDP) for the full fine-tune (``lora_r = 0``);
3. each launched process (``main``) rebuilds the scorer, loads ``init.pt``, trains through the same
   ``train_scorer`` (its shard of every global batch; uneven last batches handled there) and the
   main process writes ``scorer.pt`` (the trained weights: adapters + head, or every weight for
   ``lora_r = 0``) and ``history.json``;
4. the kernel loads ``scorer.pt`` into its scorer (``llm_scorer.load_trained``), so the router
   scores, saves and caches exactly as after an in-process fit, and the notebook scores its output.

On one GPU or the CPU nothing is installed: the in-process fit stays. Batches: each process takes
``ceil(llm_batch_size / n)`` rows, so the global batch equals the in-process one when ``n`` divides it
(the launched fit then computes the same gradients as the in-process one; the cache does not tell
them apart). Dtypes, decided here and not probed: LoRA on CUDA loads the frozen backbone in bf16
(each DDP process holds one copy; 4-bit QLoRA stays the one-GPU memory saver), the full fine-tune
loads fp32 (FSDP refuses to flatten mixed dtypes; bf16 compute comes from the config's mixed
precision), CPU processes fp32.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import torch

from ..core import cache
from ..core.config import ROOT
from ..routers import llm_scorer as L

CONFIGS = {"ddp": ROOT / "configs" / "ddp_lora.yaml", "fsdp": ROOT / "configs" / "fsdp_full_finetune.yaml"}


def config_for(lora_r: int) -> Path:
    """The committed accelerate config of a fit: DDP for LoRA / QLoRA, FSDP for the full fine-tune."""
    return CONFIGS["ddp"] if lora_r and lora_r > 0 else CONFIGS["fsdp"]


def backbone_dtype(lora_r: int, cuda: bool) -> torch.dtype:
    """The launched backbone's dtype (see the module docstring): bf16 for LoRA on CUDA, else fp32."""
    return torch.bfloat16 if cuda and lora_r and lora_r > 0 else torch.float32


def check_uniform_dtypes(module: torch.nn.Module) -> None:
    """FSDP flattens a unit's parameters into one tensor of one dtype; fail before wrapping, naming the
    dtypes, instead of inside FSDP (e.g. a bf16 backbone with the fp32 head)."""
    dtypes = {}
    for name, p in module.named_parameters():
        dtypes.setdefault(p.dtype, name)
    if len(dtypes) > 1:
        raise ValueError("FSDP needs one parameter dtype per wrapped unit; found "
                         + ", ".join(f"{d} (e.g. {n})" for d, n in dtypes.items())
                         + ": load the backbone in the head's dtype (runs.launch.backbone_dtype)")


def spec_of(scorer: L.LLMScorer) -> dict:
    """Model folder and LoRA layout of a scorer built by ``llm_scorer.load_backbone``."""
    bb = scorer.backbone
    peft_cfg = getattr(bb, "peft_config", {}).get("default")
    base = bb.get_base_model() if peft_cfg is not None else bb
    out = {"model": base.config.name_or_path, "n_layers": int(base.config.num_hidden_layers), "lora_r": 0}
    if peft_cfg is not None:
        out.update(lora_r=int(peft_cfg.r), lora_alpha=int(peft_cfg.lora_alpha),
                   targets=sorted(peft_cfg.target_modules))
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_command(folder, processes: int, config: Path) -> list[str]:
    return [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config),
            "--num_processes", str(processes), "--main_process_port", str(_free_port()),
            "-m", "ragrouter_lib.runs.launch", str(folder)]


def run_launch(cmd, timeout=None) -> subprocess.CompletedProcess:
    """Run ``cmd``; on ``timeout`` kill it and every process it started, by process id (torchrun puts
    each worker in a session of its own, so killing the launcher's group would leave them waiting),
    and raise ``subprocess.TimeoutExpired``."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        for p in [*psutil.Process(proc.pid).children(recursive=True), psutil.Process(proc.pid)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()
        proc.communicate()
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def fit_launched(scorer, tok, texts, y, hp: dict, processes: int, timeout=None, log=print) -> list[dict]:
    """Steps 1, 2 and 4 of the module docstring; returns the main process's history rows (``tok`` is
    not sent: the launched processes load the model folder's own tokenizer)."""
    spec = {**spec_of(scorer), **hp, "batch_size": math.ceil(hp["batch_size"] / processes)}
    root = cache.root() / "launch"
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fit-", dir=root) as work:
        work = Path(work)
        (work / "spec.json").write_text(json.dumps(spec))
        (work / "data.jsonl").write_text("".join(json.dumps({"text": t, "label": int(c)}) + "\n"
                                                 for t, c in zip(texts, y)))
        torch.save(L.fresh_state(scorer), work / "init.pt")
        config = config_for(spec["lora_r"])
        t0 = time.time()
        done = run_launch(launch_command(work, processes, config), timeout)
        if done.returncode != 0:
            raise RuntimeError(f"accelerate launch of the LLM fit failed ({config.name}, {processes} processes):\n"
                               + done.stderr[-4000:])
        L.load_trained(scorer, torch.load(work / "scorer.pt"))
        meta = json.loads((work / "history.json").read_text())
    log(f"LLM fit: accelerate launch, {meta['world_size']} processes ({meta['distributed_type']}, {config.name}), "
        f"{len(texts)} rows, global batch {meta['global_batch']}, {time.time() - t0:.0f}s")
    return meta["history"]


def use_all_gpus(cfg, processes: int | None = None, log=print, timeout=None) -> str:
    """Notebook 05: in ``paper`` with more than one visible GPU, make every following LLM fit a launched
    one (``fit_launched`` on all GPUs); otherwise (one GPU, CPU, other profiles) the in-process fit.
    ``processes`` forces a count (tests: 2 CPU processes); ``timeout`` (seconds) bounds each launch.
    Returns the line that says which."""
    n = processes or (torch.cuda.device_count() if cfg.profile == "paper" else 0)
    if n <= 1:
        L.set_launcher(None)
        where = f"{n} GPU visible" if cfg.profile == "paper" else f"profile {cfg.profile!r}"
        return f"LLM fits: in-process ({where})"
    L.set_launcher(lambda scorer, tok, texts, y, hp: fit_launched(scorer, tok, texts, y, hp, n, timeout, log))
    return (f"LLM fits: accelerate launch on {n} processes ({CONFIGS['ddp'].name} for LoRA/QLoRA, "
            f"{CONFIGS['fsdp'].name} for lora_r=0)")


def main(argv=None) -> None:
    """Step 3 of the module docstring, in each process ``accelerate launch`` starts."""
    from accelerate import Accelerator  # heavy optional package: only the launched processes need it
    from accelerate.utils import DistributedType  # same package

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", help="work folder written by fit_launched (spec.json, data.jsonl, init.pt)")
    folder = Path(ap.parse_args(argv).folder)
    spec = json.loads((folder / "spec.json").read_text())
    rows = [json.loads(x) for x in (folder / "data.jsonl").read_text().splitlines() if x.strip()]
    cuda = torch.cuda.is_available()
    acc = Accelerator(cpu=not cuda)  # no CUDA: CPU processes in a gloo group (how the tests run it)
    tok, backbone = L.load_backbone(spec["model"], load_4bit=False, lora_r=spec["lora_r"],
                                    lora_alpha=spec.get("lora_alpha", 16), targets=spec.get("targets", L.LORA_TARGETS),
                                    gradient_checkpointing=cuda and spec["lora_r"] > 0, n_layers=spec["n_layers"],
                                    dtype=backbone_dtype(spec["lora_r"], cuda))
    scorer = L.LLMScorer(backbone, L.hidden_size(backbone))
    L.load_trained(scorer, torch.load(folder / "init.pt"))
    names = L.trainable_names(scorer)
    if acc.distributed_type == DistributedType.FSDP:
        check_uniform_dtypes(scorer)
    scorer = acc.prepare(scorer)  # DDP/FSDP wrap first, then the optimiser over the wrapped parameters
    opt = acc.prepare(L.adam([p for p in scorer.parameters() if p.requires_grad], spec["lr"]))
    hist = L.train_scorer(scorer, tok, [r["text"] for r in rows], np.array([r["label"] for r in rows]),
                          spec["epochs"], spec["lr"], spec["batch_size"], spec["grad_accum"], spec["max_len"],
                          spec["seed"], optimizer=opt, accelerator=acc)
    state = acc.get_state_dict(scorer)  # the full state dict, gathered (a collective: every process calls it)
    acc.wait_for_everyone()
    if acc.is_main_process:
        torch.save(L.trained_state(state, names), folder / "scorer.pt")
        (folder / "history.json").write_text(json.dumps({
            "world_size": acc.num_processes, "distributed_type": str(acc.distributed_type),
            "backend": str(getattr(acc.state, "backend", "")), "global_batch": spec["batch_size"] * acc.num_processes,
            "lora_r": spec["lora_r"], "history": hist}, indent=1))
    acc.end_training()


if __name__ == "__main__":
    main()
