#!/usr/bin/env bash
# Runs on the lent GPU machine (no Node, no registry): unpacks .device-kit/ (built here by
# scripts/device-kit.sh and carried along), runs the GPU tests (SKIP_CHECK=1 skips them),
# then continues the base model's pre-training from models/base.safetensors for
# SECONDS_BUDGET seconds (default 420) with the same program and code as on lavapipe, and
# leaves the checkpoint, the log, the loss plot and the latest sample grid in $OUT. The
# SIGTERM at the end makes cldc finish its step and write the checkpoint atomically.
#
#   run(command: "SECONDS_BUDGET=420 bash scripts/device-pretrain.sh", carry: [".device-kit"],
#       timeout_s: 540)
set -uo pipefail
cd "$(dirname "$0")/.."
budget="${SECONDS_BUDGET:-420}"
source scripts/device-setup.sh
# A kernel that is wrong on this GPU would train a useless checkpoint: test first.
if [ -z "${SKIP_CHECK:-}" ]; then
  $node "$kit/app/device-tests.mjs" >>"$log" 2>&1 || { say "GPU tests failed: not training"; grep FAIL "$log" | head; exit 1; }
  say "$(tail -n 1 "$log")"
fi

mkdir -p runs/pretrain
[ -f runs/pretrain/checkpoint.safetensors ] || cp models/base.safetensors runs/pretrain/checkpoint.safetensors
say "training for ${budget}s from $($node -e 'const fs=require("fs");const b=fs.readFileSync(process.argv[1]);const n=Number(b.readBigUInt64LE(0));const h=JSON.parse(b.subarray(8,8+n));console.log("event "+JSON.parse(h.__metadata__["cld.state"]).events)' runs/pretrain/checkpoint.safetensors)"
timeout -s TERM -k 60 "$budget" $node "$kit/app/cldc.mjs" train examples/pretrain.cld \
  --run-dir runs/pretrain 2>&1 | tr '\r' '\n' | grep -v "^$" >>"$log"
say "cldc exited (${PIPESTATUS[0]}; 124 or 130 = stopped by the time budget, checkpoint written)"
cp runs/pretrain/checkpoint.safetensors runs/pretrain/loss.png "$out/" 2>/dev/null
latest=$(ls -t runs/pretrain/samples/*.png 2>/dev/null | head -1)
[ -n "$latest" ] && cp "$latest" "$out/samples-latest.png"
tail -c 2000000 runs/pretrain/metrics.jsonl >"$out/metrics-tail.jsonl" 2>/dev/null
tail -n 5 "$log"
