#!/usr/bin/env bash
# The prepared GPU check (about 5 minutes on one H100; a tiny budget on a CPU).
# Writes gpu_check.json, bench.json/.md and the Multi30k Transformer's results and log
# into OUT_DIR (default docs/results/gpu). Usage: bash scripts/gpu_check.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-docs/results/gpu}"
py="${PYTHON:-python3}"
[ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ] && py=.venv/bin/python
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
"$py" scripts/gpu_check.py --out "$out"
