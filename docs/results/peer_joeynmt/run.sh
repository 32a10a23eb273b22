#!/bin/bash
# Usage: run.sh [SECONDS] [NAME...]: train each JoeyNMT model (default: bahdanau transformer)
# for SECONDS (default 300) and keep its log lines with the speed.
set -euo pipefail
SECONDS_EACH=${1:-300}
shift || true
NAMES=${*:-bahdanau transformer}
OUT=$(cd "$(dirname "$0")" && pwd)
cd /tmp/peer
for name in $NAMES; do
  timeout -s INT "$SECONDS_EACH" ./venv/bin/python -m joeynmt train "configs/$name.yaml" --skip-test \
    > /dev/null 2>&1 || true
  grep -E "Tokens per Sec|Total params|Train stats" "models/$name/train.log" > "$OUT/$name.log" || true
done
