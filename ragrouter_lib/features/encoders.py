"""Text features shared by every router, computed once and cached by content hash.

Thesis step: the prompt representations the routers consume. RouteLLM used OpenAI's
``text-embedding-3-small`` (SW ranking, MF) and fine-tuned BERT-base / Llama-3-8B; here:

- ``sentence_embeddings``: MiniLM-L6 (384-d) or MPNet (768-d) mean-pooled, L2-normalised sentence
  embeddings of the first ``max_len`` tokens (sentence-transformers' recipe, in plain transformers);
- ``token_states``: the same encoder's token states at one layer, packed (for fine-tuning the
  encoder's top layers without re-running the frozen bottom: the ``bert`` router);
- ``lm_states``: a causal LM's (SmolLM2-135M) hidden state after ``n_layers`` layers, last token and
  mean over tokens, for the ``causal_llm`` router's head.

Results are cached per text in ``<cache root>/features/<kind>-<key>/<shard>.npz``: the folder's key
(``cache.key``) covers every parameter, the model's weights digest and the source of this module
and everything it imports, each row is keyed by the sha256 of its text, so a stale row cannot be
read and a subset of cached texts costs nothing. Shards are written atomically and checksummed
(``cache.save_npz``); a corrupt shard is removed with a warning and its texts recomputed.
``feature_cache(enabled=False)`` is the store's off switch: within it ``cached`` (and ``store``)
compute afresh and neither read nor write anything (cost measurements, ``evaluation.costs``).

A text's features never depend on its batch mates: every forward pass holds texts of one token
length (after truncation) and exactly ``batch_size`` rows, filled by repeats (``length_batches``), so
no row is padded, the pass's shape depends on the text alone, and its floats are the same whichever
texts it is computed with (tests/test_batch_mates.py); a progress line shows the batches.

Committed derived data: ``data/derived/features/<kind>-<key>/`` (built by ``scripts/build_derived.py``,
described by its ``MANIFEST.json``) holds shards of the same format for the expensive SmolLM2 passes
(hidden states and perplexities of the evaluation prompts and the pool). They are read beside the
cache, under the same folder name, so they are only ever used when parameters, model weights and
code closure all match; any edit retires them and the from-scratch path runs (``RAGROUTER_DERIVED=off``
forces it). Deviation: SmolLM2 states are stored as float16 on every path (half the size; the
router's head reads them as float32).
"""
from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
import sys
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from ..core import cache, text
from ..data import models


def texts_digest(texts) -> str:
    """sha256 (16 hex) of a sequence of texts (``cache.digest_texts``)."""
    return cache.digest_texts(texts)


def text_keys(texts) -> np.ndarray:
    return np.array([hashlib.sha256(t.encode("utf-8", "surrogatepass")).hexdigest()[:24] for t in texts])


_SHARDS: dict[str, dict] = {}  # loaded shard files, kept for the process
_CACHE_ON = contextvars.ContextVar("ragrouter_feature_cache", default=True)


@contextlib.contextmanager
def feature_cache(enabled: bool = True):
    """The feature store's switch: within ``with feature_cache(enabled=False):`` every ``cached``
    call computes all its texts afresh and nothing is read from or written to the store (the cache
    root or the committed derived data); ``store`` (a by-product write) does nothing either. The
    previous state returns on exit (nestable; per thread/context, a ``contextvars`` variable)."""
    token = _CACHE_ON.set(bool(enabled))
    try:
        yield
    finally:
        _CACHE_ON.reset(token)


def feature_cache_enabled() -> bool:
    """Whether ``cached`` reads and writes the store here (``feature_cache``)."""
    return _CACHE_ON.get()


def derived_root() -> Path | None:
    """Committed derived data (``data/derived``; env ``RAGROUTER_DERIVED``: another folder, or
    ``off`` to compute everything from scratch)."""
    env = os.environ.get("RAGROUTER_DERIVED")
    if env == "off":
        return None
    return Path(env) if env else cache.REPO / "data" / "derived"


def store_dir(kind: str, params: dict, modules=()) -> Path:
    """The per-text store of one feature kind: ``cache.key`` of the parameters and the code closure
    of this module plus ``modules`` (the caller's module when it computes the feature itself), so
    editing the code that computes a feature retires its old rows."""
    return cache.root() / "features" / f"{kind}-{cache.key(kind, params, modules=[__name__, *modules])}"


def _index(folder: Path) -> dict:
    index = {}
    for f in sorted(folder.glob("*.npz")):
        if str(f) not in _SHARDS:
            z = cache.load_npz(f)  # a corrupt shard: warned, removed, its texts recomputed
            if z is None:
                continue
            _SHARDS[str(f)] = z
        for i, k in enumerate(_SHARDS[str(f)]["keys"]):
            index.setdefault(k, (str(f), i))
    return index


def store(folder: Path, keys, arrays: dict) -> None:
    """Write one shard: ``keys`` (text hashes) plus row arrays or packed ``states``/``offsets``
    (atomic and checksummed: a half-written shard is never read). A no-op with the cache off."""
    if not _CACHE_ON.get():
        return
    cache.save_npz(Path(folder) / f"{texts_digest(keys)}.npz", keys=np.asarray(keys), **arrays)


def cached(kind: str, params: dict, texts, compute, verbose: bool = True, modules=()) -> dict:
    """Features of ``texts`` from the per-text cache; only texts never seen are computed.

    The folder is keyed by ``params`` (model weights digest included) and the code closure of this
    module plus ``modules`` (``store_dir``), each row by the sha256 of its text, so a changed model,
    parameter, code or text can never be served a stale row.
    ``compute(missing_texts)`` returns row arrays (n, ...) or packed ``states``/``offsets``.
    With ``feature_cache(enabled=False)`` it returns ``compute(texts)``: no store read or written.
    """
    if not _CACHE_ON.get():
        return compute(list(texts))
    folder = store_dir(kind, params, modules)
    keys = text_keys(texts)
    derived = derived_root()
    index = {**(_index(derived / "features" / folder.name) if derived else {}), **_index(folder)}
    missing = sorted({k: i for i, k in enumerate(keys) if k not in index}.values())
    if missing:
        t0 = time.time()
        out = compute([texts[i] for i in missing])
        dt = time.time() - t0
        store(folder, keys[missing], out)
        index.update(_index(folder))
        if verbose:
            print(f"{kind}: computed {len(missing)} texts in {dt:.0f}s ({len(missing) / max(dt, 1e-9):.1f}/s);"
                  f" {len(texts) - len(missing)} from cache")
    elif verbose:
        print(f"{kind}: {len(texts)} texts from cache {folder.name}")
    return _gather(index, keys)


def _gather(index, keys) -> dict:
    locs = [index[k] for k in keys]
    first = _SHARDS[locs[0][0]]
    if "offsets" in first:  # packed variable-length rows
        parts = [_SHARDS[f]["states"][_SHARDS[f]["offsets"][i]:_SHARDS[f]["offsets"][i + 1]] for f, i in locs]
        lengths = [len(p) for p in parts]
        return {"states": np.concatenate(parts), "offsets": np.concatenate([[0], np.cumsum(lengths)])}
    names = [k for k in first if k != "keys"]
    out = {}
    for n in names:
        out[n] = np.stack([_SHARDS[f][n][i] for f, i in locs])
    return out


# ----------------------------------------------------------------------------- encoders
ENCODERS = {"minilm": models.minilm_path, "mpnet": models.mpnet_path}  # name -> () -> model folder


def register_encoder(name: str, path) -> None:
    """Make the model folder ``path`` (a path, or a callable returning one) available under ``name``
    to ``load_encoder`` / ``token_states`` (e.g. the paper profile's DeBERTa-v3: ``paper.register_encoder``)."""
    ENCODERS[name] = path if callable(path) else (lambda: path)
    load_encoder.cache_clear()


@lru_cache(maxsize=4)
def load_encoder(name: str = "minilm"):
    from transformers import AutoModel, AutoTokenizer  # heavy optional package: imported only when this runs
    path = ENCODERS[name]()
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    return tok, model, model_identity(path)


def model_identity(path) -> str:
    files = sorted(Path(path).glob("*.safetensors")) + sorted(Path(path).glob("*.bin"))
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(str(f.stat().st_size).encode())
        with open(f, "rb") as fh:
            h.update(fh.read(1 << 20))
    return h.hexdigest()[:16]


def length_batches(lengths, batch_size):
    """Row indices in batches of ONE length and EXACTLY ``batch_size`` rows: the last batch of a
    length is filled by repeating its last row (the caller's ``out[b] = ...`` writes a repeated row
    twice, with the same value). So no row is ever padded and every forward pass has the shape
    (``batch_size``, the text's own length): a text's floats do not depend on its batch mates.
    Equal lengths alone are not enough: the CPU's matrix kernels change with the number of rows
    (measured: one MiniLM row alone vs beside 1, 7 or 15 texts of its length differ by ~2e-6).
    Deterministic: by length, then by index. ``lengths`` must be the token lengths the model sees
    (after truncation); ``batch_size`` is part of a feature's definition, so keep it small.

    >>> [b.tolist() for b in length_batches([3, 1, 3, 3, 1], 2)]
    [[1, 4], [0, 2], [3, 3]]
    """
    lengths = np.asarray(lengths)
    order = np.argsort(lengths, kind="stable")
    cuts = np.flatnonzero(np.diff(lengths[order])) + 1
    out = []
    for g in np.split(order, cuts) if len(order) else []:
        n = -(-len(g) // batch_size) * batch_size  # a multiple of batch_size
        g = np.concatenate([g, np.repeat(g[-1:], n - len(g))])
        out += [g[i:i + batch_size] for i in range(0, n, batch_size)]
    return out


def progress_bar(it, total, desc, show, every: float = 0.25):
    """``it`` with progress when ``show``: a tqdm bar on a terminal; anywhere else (a notebook,
    papermill, a log file) one plain line per ``every`` of the way and one at the end, so an
    executed notebook holds neither tqdm's IProgress widget warning nor carriage-return fragments."""
    if not show:
        return it
    if sys.stderr.isatty():
        from tqdm import tqdm  # a terminal only: notebooks get plain lines
        return tqdm(it, total=total, desc=desc, mininterval=5)

    def lines():
        t0, step = time.perf_counter(), max(1, int(np.ceil(total * every)))
        for i, x in enumerate(it, 1):
            yield x
            if i % step == 0 or i == total:
                print(f"{desc}: {i}/{total} ({100 * i / max(total, 1):.0f}%), "
                      f"{time.perf_counter() - t0:.0f} s", flush=True)
    return lines()


@torch.inference_mode()
def encode(texts, name, max_len, batch_size, layer, progress):
    """One uncached encoder pass: {'pooled'} (+ packed 'states'/'offsets' of ``layer``)."""
    tok, model, _ = load_encoder(name)
    ids = text.encode_window(tok, texts, max_len)  # the shared truncation rule (text.py)
    lengths = np.array([len(x) for x in ids])
    d = model.config.hidden_size
    pooled = np.zeros((len(texts), d), np.float32)
    states = [None] * len(texts) if layer is not None else None
    batches = length_batches(lengths, batch_size)
    for b in progress_bar(batches, len(batches), f"{name} encode", progress):
        batch = tok.pad({"input_ids": [ids[i] for i in b]}, return_tensors="pt")
        out = model(**batch, output_hidden_states=layer is not None)
        mask = batch["attention_mask"].unsqueeze(-1).float()
        emb = (out.last_hidden_state * mask).sum(1) / mask.sum(1)
        pooled[b] = torch.nn.functional.normalize(emb, dim=-1).numpy()
        if layer is not None:
            h = out.hidden_states[layer]
            for k, i in enumerate(b):
                states[i] = h[k, : lengths[i]].to(torch.float16).numpy()
    out = {"pooled": pooled}
    if layer is not None:
        out["states"] = np.concatenate(states)
        out["offsets"] = np.concatenate([[0], np.cumsum(lengths)])
    return out


# the token-state layer the routers read (``bert``, ``ragrouter``): a sentence-embedding pass
# stores it too, so the leakage check's pass (notebook 02) is not repeated for the routers
TOKEN_LAYER = {"minilm": 5}


def sentence_embeddings(texts, name: str = "minilm", max_len: int = 128, batch_size: int = 8,
                        progress: bool = True) -> np.ndarray:
    """(n, d) float32 unit vectors."""
    texts = list(texts)
    params = {"encoder": name, "model": load_encoder(name)[2], "max_len": max_len, "layer": None,
              "truncation": text.TRUNCATION_RULE}

    def compute(t):
        layer = TOKEN_LAYER.get(name)
        out = encode(t, name, max_len, batch_size, layer, progress)
        if layer is not None:
            store(store_dir("tokens", {**params, "layer": layer}), text_keys(t),
                  {"states": out.pop("states"), "offsets": out.pop("offsets")})
        return out
    return cached("sentence", params, texts, compute, verbose=progress)["pooled"]


def token_states(texts, name: str = "minilm", layer: int = 5, max_len: int = 128,
                 batch_size: int = 8, progress: bool = True) -> dict:
    """Packed token states of ``layer``: {'states': (sum_len, d) fp16, 'offsets'}."""
    texts = list(texts)
    params = {"encoder": name, "model": load_encoder(name)[2], "max_len": max_len, "layer": layer,
              "truncation": text.TRUNCATION_RULE}

    def compute(t):  # the same pass yields the sentence embeddings: cache them too
        out = encode(t, name, max_len, batch_size, layer, progress)
        store(store_dir("sentence", {**params, "layer": None}), text_keys(t), {"pooled": out.pop("pooled")})
        return out
    return cached("tokens", params, texts, compute, verbose=progress)


def unpack(packed: dict, idx) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded (B, T, d) float32 states and (B, T) mask for rows ``idx`` of a packed array."""
    off = packed["offsets"]
    rows = [packed["states"][off[i]:off[i + 1]] for i in idx]
    T = max(len(r) for r in rows)
    x = np.zeros((len(rows), T, rows[0].shape[1]), np.float32)
    m = np.zeros((len(rows), T), np.float32)
    for k, r in enumerate(rows):
        x[k, : len(r)] = r
        m[k, : len(r)] = 1
    return torch.from_numpy(x), torch.from_numpy(m)


# ----------------------------------------------------------------------------- causal LM states
@lru_cache(maxsize=2)
def load_lm(n_layers: int | None = None):
    from transformers import AutoModelForCausalLM, AutoTokenizer  # heavy optional package: imported only when this runs
    path = models.smollm2_path()
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    if n_layers is not None:
        model.model.layers = model.model.layers[:n_layers]
        model.config.num_hidden_layers = n_layers
    return tok, model, model_identity(path)


@torch.inference_mode()
def lm_encode(texts, n_layers, max_len, batch_size, progress):
    """One uncached SmolLM2 pass: {'last', 'mean'} hidden states after ``n_layers`` layers."""
    tok, model, _ = load_lm(n_layers)
    tok.padding_side = "right"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    ids = text.encode_window(tok, texts, max_len)  # the shared truncation rule (text.py)
    lengths = np.array([len(x) for x in ids])
    d = model.config.hidden_size
    last = np.zeros((len(texts), d), np.float16)  # stored as float16 on every path (module docstring)
    mean = np.zeros((len(texts), d), np.float16)
    batches = length_batches(lengths, batch_size)
    for b in progress_bar(batches, len(batches), "smollm2 states", progress):
        batch = tok.pad({"input_ids": [ids[i] for i in b]}, return_tensors="pt")
        lm_pool(model.model(**batch).last_hidden_state, batch["attention_mask"], lengths[b], b, last, mean)
    return {"last": last, "mean": mean}


def lm_pool(h, attention_mask, lengths, rows, last, mean) -> None:
    """Write the last-token and mean hidden states of one batch into ``last``/``mean`` rows."""
    mask = attention_mask.unsqueeze(-1).float()
    mean[rows] = ((h * mask).sum(1) / mask.sum(1)).numpy()
    last[rows] = h[torch.arange(len(rows)), torch.as_tensor(lengths - 1)].numpy()


def lm_params(n_layers, max_len) -> dict:
    return {"lm": "smollm2-135m", "model": load_lm(n_layers)[2], "n_layers": n_layers, "max_len": max_len,
            "truncation": text.TRUNCATION_RULE}


def lm_states(texts, n_layers: int | None = 12, max_len: int = 48, batch_size: int = 8,
              progress: bool = True) -> np.ndarray:
    """(n, 2 d) [last-token, mean] hidden states of SmolLM2 after ``n_layers`` layers.

    ``sampling.perplexities(..., lm_states_layers=n)`` fills the same cache as a by-product of
    its full-model pass (the final norm applied to the states after ``n`` layers: identical values).
    """
    texts = list(texts)
    out = cached("lm", lm_params(n_layers, max_len), texts,
                 lambda t: lm_encode(t, n_layers, max_len, batch_size, progress), verbose=progress)
    return np.concatenate([out["last"], out["mean"]], axis=1).astype(np.float32)
