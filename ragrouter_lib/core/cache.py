"""One cache: one root, one key recipe, atomic and checksummed files.

Pipeline role: every expensive step (embeddings, parses, perplexities, LM states, augmentation,
trained routers and extractors, evaluation scores) stores its result here, under ``root()``
(env ``RAGROUTER_CACHE`` or ``<repo>/outputs/cache``).

Key recipe (``key``): a 16-hex sha256 of the step name, its parameters (model identity included
when the caller puts it in ``params``), the digests of its inputs, and the code of every
``ragrouter_lib`` module the step's modules import *transitively*. The import closure is computed
by parsing the modules (``import``/``from . import``, function-level imports included), never
listed by hand, so editing any code a step runs gives the step a new key and an entry written by
another code version is never read. A module's code is its syntax tree with the module, class and
function docstrings removed (``_code_text``: ``ast.dump`` without line numbers), so editing a
comment, a docstring or the layout keeps every key (and ``data/derived``), while any change to
what the code does - one token, say ``1`` -> ``2`` - gives a new one.

Files (``save_*``/``load_*``): the payload is written to a temporary name in the same folder,
flushed to disk and renamed (``os.replace``), so a run killed mid-write leaves no entry, only a
hidden ``.*.tmp-*`` file that is never read. Each file starts with a header carrying the sha256
of its payload; a loader that finds a bad or missing checksum warns, deletes the entry and
returns None, so the caller recomputes it. Folders (``atomic_dir``) are built under a temporary
name and renamed when complete.

>>> k = key("demo", {"a": 1}, modules=["ragrouter_lib.core.cache"])
>>> len(k), k == key("demo", {"a": 1}, modules=["ragrouter_lib.core.cache"]), k == key("demo", {"a": 2})
(16, True, False)
"""
from __future__ import annotations

import ast
import contextlib
import hashlib
import io
import json
import os
import pickle
import shutil
import uuid
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np

PACKAGE = "ragrouter_lib"
PKG_DIR = Path(__file__).resolve().parents[1]
REPO = PKG_DIR.parent
FORMAT = "rrcache-1"  # part of every key: bump when the file format changes
MAGIC = b"RRCACHE1"
CHUNK = 1 << 20


class CacheWarning(UserWarning):
    """A cache entry failed its checksum (or could not be read) and was removed."""


def root() -> Path:
    """The cache root, re-reading ``RAGROUTER_CACHE`` (tests point it at a tmp folder)."""
    env = os.environ.get("RAGROUTER_CACHE")
    return Path(env) if env else PKG_DIR.parent / "outputs" / "cache"


def path(kind: str, name: str) -> Path:
    """``root()/kind/name``, with the ``kind`` folder created."""
    folder = root() / kind
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


# ----------------------------------------------------------------------------- code closure
def module_file(name: str) -> Path | None:
    """The file of a ``ragrouter_lib`` module (package -> its ``__init__.py``); None if absent."""
    if name != PACKAGE and not name.startswith(PACKAGE + "."):
        return None
    rel = name.split(".")[1:]
    base = PKG_DIR.joinpath(*rel)
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def module_source(name: str) -> str:
    """Source text of a ``ragrouter_lib`` module (tests monkeypatch this to simulate an edit)."""
    f = module_file(name)
    if f is None:
        raise KeyError(f"no module {name!r} in {PACKAGE}")
    return f.read_text(encoding="utf-8")


def _is_package(name: str) -> bool:
    f = module_file(name)
    return f is not None and f.name == "__init__.py"


@lru_cache(maxsize=512)
def _imports(name: str, src: str) -> tuple[str, ...]:
    """``ragrouter_lib`` modules imported anywhere in ``src`` (the module ``name``)."""
    pkg = name if _is_package(name) else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = pkg.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            subs = [f"{target}.{a.name}" for a in node.names if module_file(f"{target}.{a.name}")]
            found.update(subs)  # `from . import features`: the names are submodules
            if len(subs) < len(node.names):  # a name defined in `target` itself
                found.add(target)
    out = set()
    for m in found:
        while m and module_file(m) is None and "." in m:  # `import ragrouter_lib.x.y` -> known prefix
            m = m.rpartition(".")[0]
        if module_file(m) is not None and m != name:
            out.add(m)
    return tuple(sorted(out))


def imports(name: str) -> tuple[str, ...]:
    """Direct ``ragrouter_lib`` imports of module ``name`` (from its current source)."""
    return _imports(name, module_source(name))


def closure(modules) -> list[str]:
    """Sorted names of ``modules`` and every ``ragrouter_lib`` module they import, transitively."""
    todo, seen = [m for m in modules], set()
    while todo:
        m = todo.pop()
        if m in seen or module_file(m) is None:
            if module_file(m) is None and m.startswith(PACKAGE):
                raise KeyError(f"no module {m!r} in {PACKAGE}")
            continue
        seen.add(m)
        todo.extend(imports(m))
    return sorted(seen)


@lru_cache(maxsize=512)
def _code_text(src: str) -> str:
    """The syntax tree of ``src`` as text, docstrings removed: what the code does, not how it reads.

    A module, class or function docstring (its first statement when that is a string constant)
    is dropped; comments, blank lines and layout are not in the tree; line and column numbers
    are left out of the dump. Any other edit (a name, a constant, an operator) changes the text.

    >>> _code_text("def f(x):\\n    'Doc.'\\n    return x  # note\\n") == _code_text("def f(x): return x")
    True
    >>> _code_text("def f(x): return x") == _code_text("def f(x): return -x")
    False
    """
    tree = ast.parse(src)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)):
                node.body = node.body[1:]
    return ast.dump(tree, annotate_fields=True, include_attributes=False)


def code_digest(modules) -> str:
    """sha256 over the names and docstring-free syntax trees (``_code_text``) of ``closure(modules)``."""
    h = hashlib.sha256()
    for m in closure(modules):
        h.update(m.encode() + b"\x00" + _code_text(module_source(m)).encode("utf-8") + b"\x00")
    return h.hexdigest()


# ----------------------------------------------------------------------------- keys
def key(step: str, params: dict, inputs: dict[str, str] | None = None, modules=()) -> str:
    """The cache key of one step: 16 hex digits.

    ``params``: every parameter of the step (JSON-able; model identity included when it matters);
    ``inputs``: name -> digest of each input (``digest_texts``/``digest_frame``); ``modules``:
    the ``ragrouter_lib`` modules that run the step (e.g. ``type(router).__module__``) - the code
    (docstring-free syntax tree) of everything they import, transitively, is part of the key.
    """
    blob = json.dumps({"format": FORMAT, "step": step, "params": params, "inputs": inputs or {},
                       "code": code_digest(modules) if modules else ""},
                      sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def digest_texts(texts) -> str:
    """sha256 (16 hex) of a sequence of strings, order and boundaries included."""
    h = hashlib.sha256()
    for t in texts:
        h.update(str(t).encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()[:16]


def digest_frame(df, cols) -> str:
    """sha256 (16 hex) of the index and the columns ``cols`` of a DataFrame (values as text)."""
    h = hashlib.sha256()
    h.update(digest_texts(map(repr, df.index)).encode())
    for c in cols:
        h.update(f"\x01{c}\x01{df[c].dtype}".encode())
        h.update(digest_texts(map(repr, df[c].tolist())).encode())
    return h.hexdigest()[:16]


# ----------------------------------------------------------------------------- atomic IO
def _tmp_name(p: Path) -> Path:
    return p.parent / f".{p.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def write_bytes(p, payload: bytes) -> Path:
    """Write ``MAGIC + sha256 + payload`` to a temp file beside ``p``, fsync, rename to ``p``."""
    p = Path(p)
    digest = hashlib.sha256(payload).hexdigest().encode()
    with atomic_file(p, "wb") as fh:
        fh.write(MAGIC + digest + b"\n")
        view = memoryview(payload)
        for i in range(0, len(view), CHUNK):
            fh.write(view[i:i + CHUNK])
    return p


def _discard(p: Path, why: str) -> None:
    warnings.warn(f"cache entry {p} {why}: removed, it will be recomputed", CacheWarning, stacklevel=3)
    with contextlib.suppress(OSError):
        p.unlink()


def read_bytes(p) -> bytes | None:
    """The payload of an entry written by ``write_bytes``; None if missing or corrupt (removed)."""
    p = Path(p)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        return None
    head = len(MAGIC) + 65
    if len(raw) < head or not raw.startswith(MAGIC):
        _discard(p, "has no checksum header (truncated or foreign)")
        return None
    payload = raw[head:]
    if hashlib.sha256(payload).hexdigest().encode() != raw[len(MAGIC):head - 1]:
        _discard(p, "failed its checksum (truncated or corrupted)")
        return None
    return payload


def _decode(p, loader):
    payload = read_bytes(p)
    if payload is None:
        return None
    try:
        return loader(payload)
    except Exception as e:  # checksum fine but unreadable (e.g. a class that no longer exists)
        _discard(Path(p), f"could not be decoded ({type(e).__name__}: {e})")
        return None


def save_pickle(p, obj) -> Path:
    return write_bytes(p, pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def load_pickle(p):
    return _decode(p, pickle.loads)


def save_npz(p, **arrays) -> Path:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return write_bytes(p, buf.getvalue())


def load_npz(p) -> dict | None:
    def load(b):
        with np.load(io.BytesIO(b), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    return _decode(p, load)


def save_torch(p, obj) -> Path:
    import torch  # heavy optional package: imported only when this runs
    buf = io.BytesIO()
    torch.save(obj, buf)
    return write_bytes(p, buf.getvalue())


def load_torch(p):
    import torch  # heavy optional package: imported only when this runs
    return _decode(p, lambda b: torch.load(io.BytesIO(b), weights_only=False))


def save_json(p, obj) -> Path:
    return write_bytes(p, json.dumps(obj, sort_keys=True, default=str).encode())


def load_json(p):
    return _decode(p, lambda b: json.loads(b.decode()))


@contextlib.contextmanager
def atomic_file(p, mode: str = "w", **kw):
    """Open a temporary file beside ``p`` (an output, not a cache entry: no checksum header);
    renamed to ``p`` when the block succeeds, deleted when it fails."""
    p = Path(p)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(p)
    try:
        with open(tmp, mode, **({"encoding": "utf-8"} if "b" not in mode else {}) | kw) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_dir(p):
    """Build a folder under a temporary name; renamed to ``p`` only when the block succeeds.

    If ``p`` appeared meanwhile (another process with the same key), the new copy is dropped.
    """
    p = Path(p)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(p)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        os.replace(tmp, p)
    except OSError:
        if not p.is_dir():
            raise
        shutil.rmtree(tmp, ignore_errors=True)


def remove(p) -> None:
    """Delete an entry (file or folder), e.g. after it failed to load."""
    p = Path(p)
    if p.is_dir():
        shutil.rmtree(p, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            p.unlink()


def memo_pickle(p, compute):
    """``load_pickle(p)`` or, when missing/corrupt, ``compute()`` saved to ``p``; (value, hit)."""
    got = load_pickle(p)
    if got is not None:
        return got, True
    value = compute()
    save_pickle(p, value)
    return value, False
