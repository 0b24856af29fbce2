#!/usr/bin/env bash
# README command one: continual customization with C-LoRA from the shipped base model on
# the first few reserved concepts (short budget), then the forgetting benchmark report.
# Extra arguments go to `cldc train`: `npm run demo -- --set tasks=10 --set steps=200` is
# the full ten-concept run (add --fresh to start over in the same run directory).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/xdg-cld-$(id -u)}"
run_dir="${CLD_DEMO_RUN_DIR:-runs/demo}"
node bin/cldc.js train examples/clora.cld --run-dir "$run_dir" --set tasks=3 --set steps=100 "$@"
node bin/cldc.js eval "$run_dir" --n 8 --steps 20
