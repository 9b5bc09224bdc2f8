"""Distributed fine-tune of RAGRouter's final model (the thesis's full-parameter mode), via accelerate.

Thesis step: "final model: full-parameter fine-tune of Qwen-7B into a 5-class predictor". Launched by
the ecosystem's launcher with the committed FSDP config, never by hand-made process spawning:

    accelerate launch --config_file configs/fsdp_full_finetune.yaml --num_processes 4 \\
        scripts/finetune_llm.py --model Qwen/Qwen2.5-7B --data prompts.jsonl --out outputs/paper/llm_full

``--data``: JSON lines {"text": <textual retrieval-augmented prompt>, "label": 0-4} (written by
``paper.write_finetune_data`` from a fitted ``ragrouter_llm``). ``--lora-r 0`` (default here) trains
every parameter; ``--lora-r 8`` trains LoRA adapters instead. The training loop is the library's
(``routers.ragrouter_llm.train_scorer``); batches are sharded by process rank. Writes
``<out>/history.json`` (per-epoch loss, tokens/s, world size) and, on the main process,
``<out>/scorer.pt`` (full state dict, gathered from the shards).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="local folder, or a Hub id (paper profile)")
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=1e-5)
    ap.add_argument("--batch-size", type=int, default=1, help="per process")
    ap.add_argument("--grad-accum", type=int, default=16)
    ap.add_argument("--max-len", type=int, default=1024)
    ap.add_argument("--lora-r", type=int, default=0, help="0 = full-parameter fine-tune")
    ap.add_argument("--seed", type=int, default=0)
    return ap.parse_args(argv)


def main(argv=None):
    import torch
    from accelerate import Accelerator

    from ragrouter_lib.data import hub
    from ragrouter_lib.routers import ragrouter_llm as L

    args = parse(argv)
    # no CUDA: CPU processes (gloo) - how the test runs the launch; accumulation is in train_scorer
    acc = Accelerator(cpu=not torch.cuda.is_available())
    torch.manual_seed(args.seed)
    path = args.model if Path(args.model).exists() else hub.model_path(args.model, "paper")
    tok, backbone = L.load_backbone(path, load_4bit=False, lora_r=args.lora_r)
    scorer = L.LLMScorer(backbone, L.hidden_size(backbone))
    rows = [json.loads(x) for x in Path(args.data).read_text().splitlines() if x.strip()]
    texts, y = [r["text"] for r in rows], [int(r["label"]) for r in rows]
    scorer = acc.prepare(scorer)  # FSDP/DDP wrap first, then the optimiser over the wrapped params
    opt = acc.prepare(torch.optim.Adam([p for p in scorer.parameters() if p.requires_grad], lr=args.lr))
    hist = L.train_scorer(scorer, tok, texts, y, args.epochs, args.lr, args.batch_size, args.grad_accum,
                          args.max_len, args.seed, optimizer=opt, accelerator=acc,
                          log=lambda r: acc.print(f"rank0 {r}"))
    n_trainable = sum(p.numel() for p in scorer.parameters() if p.requires_grad)
    state = acc.get_state_dict(scorer)  # gathered full state dict (collective: every rank calls it)
    acc.wait_for_everyone()
    if acc.is_main_process:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        torch.save(state, out / "scorer.pt")
        (out / "history.json").write_text(json.dumps({
            "world_size": acc.num_processes, "distributed_type": str(acc.distributed_type),
            "backend": str(getattr(acc.state, "backend", "")), "lora_r": args.lora_r,
            "trainable_params_local": n_trainable, "history": hist}, indent=1))
    acc.end_training()


if __name__ == "__main__":
    main()
