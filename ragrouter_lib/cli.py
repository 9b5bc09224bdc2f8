"""Score a JSONL of prompts with any trained router (what a user does with a new prompt set).

    ragrouter-score --router outputs/cache/routers/mf-<hash> --input prompts.jsonl \\
                    --output scores.jsonl [--field prompt] [--strong-fraction 0.3 | --threshold 0.5]

Each input line is a JSON object with the prompt under ``--field`` (default ``prompt``); each
output line repeats it with ``strong_win`` and, when a threshold is given or calibrated, ``route``
(``strong``/``weak``). ``--strong-fraction`` calibrates the threshold on the input prompts.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

from .calibration import threshold_for_strong_fraction


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--router", required=True, help="folder of a saved router (router.json inside)")
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--field", default="prompt")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--threshold", type=float)
    g.add_argument("--strong-fraction", type=float)
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from .routers import load_router
    records = []
    with open(args.input, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            rec = json.loads(line)
            if not isinstance(rec.get(args.field), str) or not rec[args.field].strip():
                print(f"{args.input}: line {n}: no non-empty {args.field!r} field", file=sys.stderr)
                return 2
            records.append(rec)
    router = load_router(args.router)
    t0 = time.time()
    scores = router.score([r[args.field] for r in records])
    dt = time.time() - t0
    thr = args.threshold
    if args.strong_fraction is not None:
        thr = threshold_for_strong_fraction(scores, args.strong_fraction)
    with open(args.output, "w", encoding="utf-8") as f:
        for rec, s in zip(records, scores):
            out = {**rec, "strong_win": float(s)}
            if thr is not None:
                out["route"] = "strong" if s >= thr else "weak"
            f.write(json.dumps(out) + "\n")
    print(f"scored {len(records)} prompts with {router.name} in {dt:.2f}s"
          + (f"; threshold {thr:.4f}" if thr is not None else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
