"""Score a JSONL of prompts with any trained router (what a user does with a new prompt set).

    ragrouter-score --router outputs/cache/routers/mf-<hash> --input prompts.jsonl \\
                    --output scores.jsonl [--field prompt] (--strong-fraction 0.3 | --threshold 0.5)
                    [--device cuda]

Each input line is a JSON object with the prompt under ``--field`` (default ``prompt``); each
output line repeats it with ``strong_win`` and, when a threshold is given or calibrated, ``route``
(``strong``/``weak``). ``--strong-fraction`` calibrates the threshold on the input prompts.
``--device`` (the LLM final model only; default its saved setting, else "cuda" when present, else
"cpu") is where the whole model is built: every parameter and the inputs on that one device.

Bad input gets one line on stderr and exit code 2, checked cheapest first: the arguments (exactly
one of ``--threshold`` in [0, 1] and ``--strong-fraction`` in (0, 1)), the router folder (a wrong
one lists the cached router folders and the registered router names), then every input line
(file, line number and problem). The output file is written to a temporary name and renamed.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from .core import cache
from .evaluation.calibration import threshold_for_strong_fraction
from .routers import ROUTERS, load_router

PROG = "ragrouter-score"


class BadInput(Exception):
    """One line for the user; ``main`` prints it and returns 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse's default adds the usage block)
        raise BadInput(message)


def _unit(lo_open: bool):
    def parse(text):
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        ok = 0.0 < v < 1.0 if lo_open else 0.0 <= v <= 1.0
        if not ok:
            raise argparse.ArgumentTypeError(f"{v} is outside {'(0, 1)' if lo_open else '[0, 1]'}")
        return v
    return parse


def parse_args(argv=None) -> argparse.Namespace:
    ap = _Parser(prog=PROG, description=__doc__.splitlines()[0])
    ap.add_argument("--router", required=True, help="folder of a saved router (router.json inside)")
    ap.add_argument("--input", required=True, help="JSONL file, one object per line")
    ap.add_argument("--output", required=True)
    ap.add_argument("--field", default="prompt", help="key of the prompt in each input object")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--threshold", type=_unit(False), help="route to strong when strong_win >= this, in [0, 1]")
    g.add_argument("--strong-fraction", type=_unit(True),
                   help="calibrate the threshold so this fraction of the input goes strong, in (0, 1)")
    ap.add_argument("--device", help="device of a router with a device setting (LLM final model), e.g. cuda:1, cpu")
    return ap.parse_args(argv)


def available_routers(limit: int = 8) -> str:
    """The cached router folders (under the cache root) and the registered router names, one line."""
    folder = cache.root() / "routers"
    found = sorted(str(p) for p in folder.glob("*") if (p / "router.json").is_file()) if folder.is_dir() else []
    shown = ", ".join(found[:limit]) + (f" (+{len(found) - limit} more)" if len(found) > limit else "")
    return (f"cached routers in {folder}: {shown or 'none'}; registered router names: {', '.join(sorted(ROUTERS))}"
            " (a name must be trained and saved first)")


def check_router_folder(path: str) -> Path:
    p = Path(path)
    if not (p / "router.json").is_file():
        why = "does not exist" if not p.exists() else "has no router.json"
        raise BadInput(f"--router {path}: folder {why}; {available_routers()}")
    return p


def read_prompts(path: str, field: str) -> list[dict]:
    """The input records; BadInput naming file, line and problem for the first bad line."""
    try:
        f = open(path, encoding="utf-8")
    except OSError as e:
        raise BadInput(f"--input {path}: cannot open ({e.strerror})") from None
    records = []
    with f:
        try:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    raise BadInput(f"{path}: line {n}: invalid JSON ({e.msg} at column {e.colno})") from None
                if not isinstance(rec, dict):
                    raise BadInput(f"{path}: line {n}: expected a JSON object, got {type(rec).__name__}")
                if not isinstance(rec.get(field), str) or not rec[field].strip():
                    raise BadInput(f"{path}: line {n}: no non-empty string {field!r} field")
                records.append(rec)
        except UnicodeDecodeError as e:
            raise BadInput(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    if not records:
        raise BadInput(f"{path}: no prompts (the file is empty)")
    return records


def write_jsonl(path: str, rows) -> None:
    """Write to a temporary name beside ``path``, then rename (never a half-written output)."""
    with cache.atomic_file(path, "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


def load(folder, device=None):
    """The saved router with its model built (a reloaded LLM final model builds its scorer lazily:
    here, so a folder that does not fit fails at load), on ``device`` when given (routers with a
    ``set_device``; others run on the CPU and refuse it)."""
    router = load_router(folder)
    if device is not None:
        if not hasattr(router, "set_device"):
            raise BadInput(f"--device {device}: router {router.name} has no device setting (it runs on the CPU)")
        router.set_device(device)
    getattr(router, "llm", None)  # the LLM final model's scorer, built now
    return router


def run(args) -> str:
    folder = check_router_folder(args.router)
    records = read_prompts(args.input, args.field)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        router = load(folder, args.device)
    except BadInput:
        raise
    except Exception as e:  # noqa: BLE001 - a corrupt or foreign folder: one line, not a traceback
        raise BadInput(f"--router {folder}: cannot load ({type(e).__name__}: {e})") from None
    t0 = time.time()
    scores = router.score([r[args.field] for r in records])
    dt = time.time() - t0
    thr = args.threshold
    if args.strong_fraction is not None:
        thr = threshold_for_strong_fraction(scores, args.strong_fraction)
    write_jsonl(args.output, ({**rec, "strong_win": float(s), "route": "strong" if s >= thr else "weak"}
                              for rec, s in zip(records, scores)))
    return f"scored {len(records)} prompts with {router.name} in {dt:.2f}s; threshold {thr:.4f}"


def main(argv=None) -> int:
    try:
        print(run(parse_args(argv)), file=sys.stderr)
    except BadInput as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
