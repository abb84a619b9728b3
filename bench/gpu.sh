#!/usr/bin/env bash
# The GPU proof, prepared to run in under 8 minutes on one CUDA machine (run it whenever one is lent):
#   1. the CUDA-only tests;
#   2. bench/gpu.py: full-size random-weight Wan 2.1 1.3B and LTX-Video seconds per step at their
#      default sizes (bf16), each speed feature on vs off, batched vs single, the Triton kernel's
#      bandwidth vs a device copy -- the one table to quote;
#   3. bench/model_speed.py: step caching and the other catalog speed options on vs off, with the
#      quality they cost;
#   4. bench/gateway_overhead.py: the gateway's overhead on a job (and its API under load).
# Without CUDA (or with --dry) every step runs in a dry mode on tiny configs, to check the script.
#
#   bash bench/gpu.sh [--dry]          # from the repository root, in the project's virtualenv
set -uo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
PY=${PYTHON:-python}
DRY=0
if [[ "${1:-}" == "--dry" ]] || ! $PY -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  DRY=1
fi
status=0
step() {  # step <seconds> <title> <command...>: a step that fails or overruns is reported, not fatal
  local limit=$1 title=$2
  shift 2
  echo
  echo "== $title"
  timeout "$limit" "$@" || { echo "(step failed or timed out: exit $?)"; status=1; }
}
if [[ $DRY == 1 ]]; then
  echo "no CUDA (or --dry): a dry run on tiny configs"
  step 120 "CUDA-only tests (they skip here)" $PY -m pytest -q -rs tests/local_models/kernels
  step 120 "models, features, batching, kernel" $PY bench/gpu.py --dry
  step 180 "speed options" $PY bench/model_speed.py --families wan --steps 2 --size 32 --frames 5 --runs 1
else
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  step 120 "CUDA-only tests" $PY -m pytest -q -rs tests/local_models/kernels
  step 300 "models, features, batching, kernel" $PY bench/gpu.py
  step 150 "speed options" $PY bench/model_speed.py --device cuda --families wan,ltx --steps 10 --runs 1
  step 90 "gateway overhead" $PY bench/gateway_overhead.py --seconds 3 --job-runs 3
fi
exit $status
