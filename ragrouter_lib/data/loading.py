"""Vendored data (with checksums) and loaders for every data set the thesis's experiments touch.

Evaluation rows are RouteLLM's own files: MMLU (57 subject CSVs) and GSM8K, each with the 0/1
correctness of the weak model (Mixtral-8x7B-Instruct) and the strong model (gpt-4-1106-preview).
Decontamination drops the rows whose prompt appears in RouteLLM's ``contaminated_prompts.jsonl``
(as RouteLLM's ``benchmarks.py`` does), leaving MMLU 14,037/14,042 and GSM8K 1,307/1,319 rows.

Training-side data available offline: RouterBench train rows (11 models' correctness), RouterDC
rows (7 open models), GSM8K train questions, MMLU dev/val questions. The thesis's own training sets,
Chatbot Arena 55k and RouteLLM's ``gpt4_dataset``, cannot be fetched here; ``load_arena`` and
``load_gpt4_dataset`` read them from a user-supplied path with the Hub schemas and reject malformed
input with an error that names the row.

Exact strong/weak pair sources (pool v2): AlpacaEval 2 annotations (gpt-4-1106-preview vs Mixtral,
judged by gpt-4-1106-preview; licence CC BY-NC 4.0) and MMLU-Pro correctness of Mixtral and GPT-4o
(``load_alpaca_eval``, ``load_mmlu_pro``; their columns and values are checked row by row).

Every file is checked against ``data/MANIFEST.csv`` (sha256, size, source repo, commit, licence)
before it is read; a missing, truncated or altered file raises ``DataIntegrityError`` naming it.

>>> ev = load_eval("gsm8k")
>>> len(ev), round(float(ev.weak_correct.mean()), 4), round(float(ev.strong_correct.mean()), 4)
(1307, 0.6373, 0.8577)
"""
from __future__ import annotations

import ast
import hashlib
import io
import json
from functools import lru_cache
from pathlib import Path

import pandas as pd

from ..core.config import ROOT

DATA_DIR = ROOT / "data"
WEAK_MODEL = "mistralai/Mixtral-8x7B-Instruct-v0.1"
STRONG_MODEL = "gpt-4-1106-preview"
# RouterBench names the same pair differently.
ROUTERBENCH_PAIR = {"strong": "gpt-4-1106-preview", "weak": "mistralai/mixtral-8x7b-chat"}
ROUTERBENCH_MODELS = [
    "WizardLM/WizardLM-13B-V1.2", "claude-instant-v1", "claude-v1", "claude-v2",
    "gpt-3.5-turbo-1106", "gpt-4-1106-preview", "meta/code-llama-instruct-34b-chat",
    "meta/llama-2-70b-chat", "mistralai/mistral-7b-chat", "mistralai/mixtral-8x7b-chat",
    "zero-one-ai/Yi-34B-Chat",
]
ROUTERBENCH_FILES = ["arc_challenge_train.csv", "mbpp_train.csv", "winograde_train.csv"]
ROUTERDC_FILES = ["arc_easy_train.json", "arc_easy_test.json", "gsm8k-train.json",
                  "MATH_prealgebra.json", "humaneval_train.json", "humaneval_test.json",
                  "javascript.json"]


class DataIntegrityError(RuntimeError):
    """A vendored file is missing or its bytes differ from the manifest."""


class DataFormatError(ValueError):
    """A user-supplied file does not follow the expected schema (the message names the row)."""


# ----------------------------------------------------------------------------- checksums
@lru_cache(maxsize=1)
def manifest() -> pd.DataFrame:
    path = DATA_DIR / "MANIFEST.csv"
    if not path.exists():
        raise DataIntegrityError(f"{path} is missing: the vendored data has no manifest")
    return pd.read_csv(path, dtype=str, keep_default_na=False).set_index("path")


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_verified: dict[tuple, str] = {}


def data_path(rel: str) -> Path:
    """Absolute path of a vendored file, after checking its sha256 against the manifest."""
    m = manifest()
    if rel not in m.index:
        raise DataIntegrityError(f"data/{rel} is not in data/MANIFEST.csv")
    path = DATA_DIR / rel
    if not path.exists():
        raise DataIntegrityError(f"data/{rel} is missing (expected sha256 {m.at[rel, 'sha256']}); "
                                 "restore it from git or re-vendor with scripts/build_manifest.py")
    st = path.stat()
    key = (rel, st.st_size, st.st_mtime_ns)
    if key not in _verified:
        got = sha256(path)
        if got != m.at[rel, "sha256"]:
            size = str(m.at[rel, "bytes"]) if "bytes" in m.columns else ""
            if size.isdigit() and st.st_size < int(size):
                raise DataIntegrityError(f"data/{rel} is truncated: {st.st_size} of {size} bytes "
                                         f"(sha256 {got} != manifest {m.at[rel, 'sha256']})")
            raise DataIntegrityError(f"data/{rel} was altered: sha256 {got} != manifest "
                                     f"{m.at[rel, 'sha256']}")
        _verified[key] = got
    return path


def verify_all() -> dict[str, tuple[int, str]]:
    """Verify every manifest file; return {group: (n_files, digest of their hashes)}."""
    groups: dict[str, list[str]] = {}
    for rel in manifest().index:
        data_path(rel)
        group = "/".join(rel.split("/")[1:3]) if rel.count("/") > 2 else rel.split("/")[1]
        groups.setdefault(group, []).append(manifest().at[rel, "sha256"])
    return {g: (len(h), hashlib.sha256("".join(h).encode()).hexdigest()[:16])
            for g, h in sorted(groups.items())}


# ----------------------------------------------------------------------------- evaluation rows
def _contaminated(benchmark: str) -> set[str]:
    path = data_path(f"raw/routellm_evals/{benchmark}/contaminated_prompts.jsonl")
    return {json.loads(line)["eval_prompt"] for line in path.read_text().splitlines() if line.strip()}


def eval_files(benchmark: str) -> list[str]:
    if benchmark == "mmlu":
        return sorted(r for r in manifest().index if r.startswith("raw/routellm_evals/mmlu/responses/"))
    if benchmark == "gsm8k":
        return ["raw/routellm_evals/gsm8k/gsm8k_responses.csv"]
    raise ValueError(f"unknown benchmark {benchmark!r}: use 'mmlu' or 'gsm8k'")


def load_eval(benchmark: str, decontaminate: bool = True, limit: int | None = None,
              seed: int = 0) -> pd.DataFrame:
    """RouteLLM's evaluation rows: prompt, subject, weak_correct, strong_correct (bool).

    ``limit`` takes a seeded random subset (smoke profile only); the full set is the default.
    """
    frames = []
    for rel in eval_files(benchmark):
        df = pd.read_csv(data_path(rel))
        df["subject"] = Path(rel).stem.removeprefix("mmlu_") if benchmark == "mmlu" else "gsm8k"
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    for col in (WEAK_MODEL, STRONG_MODEL):
        if col not in df.columns:
            raise DataFormatError(f"{benchmark}: column {col!r} missing from evaluation files")
    df = df.rename(columns={WEAK_MODEL: "weak_correct", STRONG_MODEL: "strong_correct"})
    df["weak_correct"] = df["weak_correct"].astype(bool)
    df["strong_correct"] = df["strong_correct"].astype(bool)
    n_raw = len(df)
    if decontaminate:
        df = df[~df["prompt"].isin(_contaminated(benchmark))]
    df = df[["prompt", "subject", "weak_correct", "strong_correct"]].reset_index(drop=True)
    n_kept = len(df)
    if limit is not None and limit < len(df):
        df = df.sample(n=limit, random_state=seed).reset_index(drop=True)
    df.attrs.update(benchmark=benchmark, n_raw=n_raw, n_kept=n_kept, decontaminated=decontaminate)
    return df


# ----------------------------------------------------------------------------- training-side rows
def _routerbench_text(raw: str) -> str:
    """RouterBench stores prompts as the repr of a list of turns."""
    try:
        turns = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw
    return "\n".join(map(str, turns)) if isinstance(turns, (list, tuple)) else str(turns)


def load_routerbench() -> pd.DataFrame:
    """RouterBench train rows: sample_id, prompt, source, and one 0/1 column per model."""
    frames = []
    for name in ROUTERBENCH_FILES:
        df = pd.read_csv(data_path(f"raw/routerbench/{name}"))
        df = df[["sample_id", "prompt", "eval_name", *ROUTERBENCH_MODELS]].copy()
        df["prompt"] = df["prompt"].map(_routerbench_text)
        frames.append(df.rename(columns={"eval_name": "source"}))
    return pd.concat(frames, ignore_index=True)


def load_routerdc() -> pd.DataFrame:
    """RouterDC rows: prompt, source, and one score column per open 7-8B model (NaN if absent)."""
    rows = []
    for name in ROUTERDC_FILES:
        for i, rec in enumerate(json.loads(data_path(f"raw/routerdc_model7/{name}").read_text())):
            rows.append({"sample_id": f"{Path(name).stem}.{i}", "prompt": rec["question"],
                         "source": Path(name).stem, **rec.get("scores", {})})
    return pd.DataFrame(rows)


def load_gsm8k_train() -> pd.DataFrame:
    path = data_path("raw/routellm_evals/gsm8k/train.jsonl")
    return pd.read_json(path, lines=True)


def load_mmlu_questions(split: str = "dev") -> pd.DataFrame:
    """MMLU dev (5 per subject) or val questions: question, choices A-D, answer, subject."""
    if split not in ("dev", "val"):
        raise ValueError("split must be 'dev' or 'val'")
    frames = []
    for rel in sorted(r for r in manifest().index if r.startswith(f"raw/mmlu_questions/{split}/")):
        df = pd.read_csv(data_path(rel), header=None, names=["question", "A", "B", "C", "D", "answer"])
        df["subject"] = Path(rel).stem.removesuffix(f"_{split}")
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


# ----------------------------------------------------------------------------- strong/weak pair sources
ALPACA_FILE = "raw/alpaca_eval/mixtral_vs_gpt4_1106_annotations.json"
MMLU_PRO_FILE = "raw/mmlu_pro/mixtral_vs_gpt4o.csv"
ALPACA_COLUMNS = ["instruction", "output_1", "generator_1", "output_2", "generator_2", "dataset",
                  "preference"]
MMLU_PRO_COLUMNS = ["question_id", "src", "category", "prompt", "mixtral_correct", "gpt4o_correct"]


def _pair_file(rel: str, path) -> tuple[Path, str]:
    """(path, name for messages): the vendored file (sha256-checked) or a user-supplied copy."""
    if path is None:
        return data_path(rel), f"data/{rel}"
    path = Path(path)
    if not path.exists():
        raise DataIntegrityError(f"{path} is missing")
    return path, str(path)


def load_alpaca_eval(path=None) -> pd.DataFrame:
    """AlpacaEval 2 annotations (licence CC BY-NC 4.0): one row per instruction with the strong
    model's answer (``output_1``, gpt-4-1106-preview), the weak model's (``output_2``, Mixtral) and
    the judge's ``preference`` (1 strong preferred, 2 weak preferred, 1.5 tie). Columns:
    sample_id, prompt, dataset, preference. ``path``: a copy to check instead of the vendored file."""
    path, name = _pair_file(ALPACA_FILE, path)
    text = _read_text_strict(path)
    try:
        recs = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataFormatError(f"{name}: not valid JSON at line {e.lineno} (truncated?): {e.msg}") from None
    if not isinstance(recs, list) or not recs:
        raise DataFormatError(f"{name}: expected a non-empty JSON list of records")
    rows = []
    for i, r in enumerate(recs):
        missing = [c for c in ALPACA_COLUMNS if not isinstance(r, dict) or c not in r]
        if missing:
            raise DataFormatError(f"{name}: record {i + 1}: missing field(s) {missing}")
        if r["preference"] not in (1, 1.5, 2):
            raise DataFormatError(f"{name}: record {i + 1}: preference must be 1, 1.5 or 2, got {r['preference']!r}")
        if not isinstance(r["instruction"], str) or not r["instruction"].strip():
            raise DataFormatError(f"{name}: record {i + 1}: empty instruction")
        if "gpt4_1106" not in str(r["generator_1"]) or "Mixtral" not in str(r["generator_2"]):
            raise DataFormatError(f"{name}: record {i + 1}: expected generator_1 gpt4_1106_preview and "
                                  f"generator_2 Mixtral, got {r['generator_1']!r} / {r['generator_2']!r}")
        rows.append({"sample_id": f"alpaca.{i}", "prompt": r["instruction"], "dataset": r["dataset"],
                     "preference": float(r["preference"])})
    return pd.DataFrame(rows)


def load_mmlu_pro(path=None) -> pd.DataFrame:
    """MMLU-Pro STEM rows (original-MMLU rows removed upstream): sample_id, prompt, src, category,
    weak_correct (Mixtral) and strong_correct (GPT-4o, stand-in for gpt-4-1106-preview), 0/1.
    ``path``: a copy to check instead of the vendored file."""
    path, name = _pair_file(MMLU_PRO_FILE, path)
    df = pd.read_csv(io.StringIO(_read_text_strict(path)), dtype=str, keep_default_na=False)
    _require_columns(df, MMLU_PRO_COLUMNS, name)
    for col in ("mixtral_correct", "gpt4o_correct"):
        bad = ~df[col].isin(["0", "1"])
        if bad.any():
            i = int(bad.to_numpy().nonzero()[0][0])
            raise DataFormatError(f"{name}: row {i + 1} (question_id={df.question_id.iloc[i]}): {col} "
                                  f"must be 0 or 1, got {df[col].iloc[i]!r}")
    empty = df.prompt.str.strip() == ""
    if empty.any():
        i = int(empty.to_numpy().nonzero()[0][0])
        raise DataFormatError(f"{name}: row {i + 1} (question_id={df.question_id.iloc[i]}): empty prompt")
    return pd.DataFrame({"sample_id": "mmlupro." + df.question_id, "prompt": df.prompt, "src": df.src,
                         "category": df.category, "weak_correct": df.mixtral_correct.astype(int),
                         "strong_correct": df.gpt4o_correct.astype(int)})


# ----------------------------------------------------------------------------- user-supplied sets
ARENA_COLUMNS = ["id", "model_a", "model_b", "prompt", "response_a", "response_b",
                 "winner_model_a", "winner_model_b", "winner_tie"]
GPT4_COLUMNS = ["prompt", "source", "gpt4_response", "mixtral_response", "mixtral_score"]


def _read_text_strict(path: Path) -> str:
    raw = Path(path).read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataFormatError(f"{path}: not UTF-8 at byte {e.start} (line {line}): {e.reason}") from None


def _read_table(path: Path) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    text = _read_text_strict(path)
    if path.suffix == ".csv":
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    if path.suffix == ".jsonl":
        return pd.read_json(io.StringIO(text), lines=True, dtype=False)
    if path.suffix == ".json":
        return pd.read_json(io.StringIO(text), dtype=False)
    raise DataFormatError(f"{path}: unsupported file type {path.suffix!r} (csv, json, jsonl, parquet)")


def _require_columns(df: pd.DataFrame, cols: list[str], path) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataFormatError(f"{path}: missing column(s) {missing}; expected {cols}")


def _row_name(df, i, key=None) -> str:
    return f"row {i + 1}" + (f" (id={df[key].iloc[i]})" if key else "")


def load_arena(path) -> pd.DataFrame:
    """Chatbot Arena 55k ``train.csv``; adds ``prompt_text`` (turns joined) and ``winner`` a/b/tie."""
    df = _read_table(path)
    _require_columns(df, ARENA_COLUMNS, path)
    winners, texts = [], []
    for i in range(len(df)):
        try:
            flags = [int(float(df[c].iloc[i])) for c in ("winner_model_a", "winner_model_b", "winner_tie")]
        except (TypeError, ValueError):
            flags = None
        if flags is None or sorted(flags) != [0, 0, 1]:
            raise DataFormatError(f"{path}: {_row_name(df, i, 'id')}: winner columns must be one-hot "
                                  f"0/1, got {df[['winner_model_a', 'winner_model_b', 'winner_tie']].iloc[i].tolist()}")
        winners.append(["a", "b", "tie"][flags.index(1)])
        raw = df["prompt"].iloc[i]
        try:
            turns = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError:
            raise DataFormatError(f"{path}: {_row_name(df, i, 'id')}: prompt is not a JSON list of turns") from None
        if not isinstance(turns, list) or not any(isinstance(t, str) and t.strip() for t in turns):
            raise DataFormatError(f"{path}: {_row_name(df, i, 'id')}: empty prompt")
        texts.append("\n".join(t for t in turns if isinstance(t, str)))
    df = df.copy()
    df["winner"] = winners
    df["prompt_text"] = texts
    return df


def load_gpt4_dataset(path) -> pd.DataFrame:
    """RouteLLM's ``gpt4_dataset``: mixtral_score must be an integer 1-5, prompts non-empty."""
    df = _read_table(path)
    _require_columns(df, GPT4_COLUMNS, path)
    scores = []
    for i in range(len(df)):
        if not isinstance(df["prompt"].iloc[i], str) or not df["prompt"].iloc[i].strip():
            raise DataFormatError(f"{path}: {_row_name(df, i)}: empty prompt")
        try:
            s = float(df["mixtral_score"].iloc[i])
        except (TypeError, ValueError):
            s = float("nan")
        if not (s == int(s) if s == s else False) or not 1 <= s <= 5:
            raise DataFormatError(f"{path}: {_row_name(df, i)}: mixtral_score must be an integer "
                                  f"1-5, got {df['mixtral_score'].iloc[i]!r}")
        scores.append(int(s))
    df = df.copy()
    df["mixtral_score"] = scores
    return df


def load_reference(name: str) -> pd.DataFrame:
    """Published numbers: ``paper_tables`` (the thesis) or ``routellm_paper_tables`` (RouteLLM)."""
    return pd.read_csv(data_path(f"raw/reference/{name}.csv"))
