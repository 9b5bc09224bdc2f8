#!/usr/bin/env bash
# Batch re-execution of the whole notebook series for one profile:
#   bash run_all.sh [offline|smoke|paper]      (default: offline)
# Checks the setup first (setup.sh is idempotent and fast once done; `paper` runs `setup.sh --cuda`:
# the CUDA build of the torch pin, no sudo; `paper --dry-run` runs on CPU stand-ins and keeps the CPU
# setup), then converts each
# notebook source notebooks/NN_*.py (jupytext percent format) to a temporary .ipynb and executes
# it in order with papermill into outputs/executed/NN_*.ipynb (smoke: outputs/smoke/, paper:
# outputs/paper/), stopping at the first failure; timings go to results/run_summary.json.
set -euo pipefail
cd "$(dirname "$0")"
profile=${1:-offline}
setup_args=()
if [ "$profile" = paper ] && [[ " ${*:2} " != *" --dry-run "* ]]; then
  setup_args=(--cuda)
fi
bash setup.sh "${setup_args[@]+"${setup_args[@]}"}"
exec .venv/bin/python -m ragrouter_lib.runner "$profile" "${@:2}"
