#!/usr/bin/env bash
# Runs on the lent GPU machine (no Node, no registry): unpacks .device-kit/ (built here by
# scripts/device-kit.sh and carried along), continues the base model's pre-training from
# models/base.safetensors for SECONDS (default 420) with the same program and code as on
# lavapipe, then leaves the checkpoint, its log and loss plot in $OUT. SIGTERM at the end
# makes cldc finish its step and write the checkpoint atomically, as on any machine.
#
#   run(command: "SECONDS_BUDGET=420 bash scripts/device-pretrain.sh", carry: [".device-kit"],
#       timeout_s: 540)
set -uo pipefail
kit=.device-kit
budget="${SECONDS_BUDGET:-420}"
out="${OUT:-/tmp/cld-out}"
mkdir -p "$out" /tmp/cld-bin
log="$out/pretrain.log"
say() { echo "device-pretrain: $*" | tee -a "$log"; }

[ -d "$kit" ] || { echo "device-pretrain: no $kit here (build it with scripts/device-kit.sh, then carry it)"; exit 1; }
xz -dc "$kit/node.xz" >/tmp/cld-bin/node && chmod +x /tmp/cld-bin/node
for f in $(find "$kit/app" -name "*.xz"); do xz -dkf "$f"; done
for f in "$kit"/debs/*.deb; do dpkg -x "$f" /; done
ldconfig
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES="$icd"
export XDG_CACHE_HOME=/tmp/cld-cache XDG_RUNTIME_DIR=/tmp/cld-xdg CLD_EMOJI_CACHE_ONLY=1
mkdir -p "$XDG_CACHE_HOME/cld" "$XDG_RUNTIME_DIR"
tar -C "$XDG_CACHE_HOME/cld" -xJf "$kit/emoji-32.tar.xz"
say "node $(/tmp/cld-bin/node --version); $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || echo 'no nvidia-smi')"

mkdir -p runs/pretrain
[ -f runs/pretrain/checkpoint.safetensors ] || cp models/base.safetensors runs/pretrain/checkpoint.safetensors
say "training for ${budget}s from $(/tmp/cld-bin/node -e 'const fs=require("fs");const b=fs.readFileSync(process.argv[1]);const n=Number(b.readBigUInt64LE(0));const h=JSON.parse(b.subarray(8,8+n));console.log("event "+JSON.parse(h.__metadata__["cld.state"]).events)' runs/pretrain/checkpoint.safetensors)"
timeout -s TERM -k 60 "$budget" /tmp/cld-bin/node "$kit/app/cldc.mjs" train examples/pretrain.cld \
  --run-dir runs/pretrain 2>&1 | tr '\r' '\n' | grep -v "^$" >>"$log"
say "cldc exited (${PIPESTATUS[0]}; 124 or 130 = stopped by the time budget, checkpoint written)"
cp runs/pretrain/checkpoint.safetensors runs/pretrain/loss.png "$out/" 2>/dev/null
latest=$(ls -t runs/pretrain/samples/*.png 2>/dev/null | head -1)
[ -n "$latest" ] && cp "$latest" "$out/samples-latest.png"
tail -c 2000000 runs/pretrain/metrics.jsonl >"$out/metrics-tail.jsonl" 2>/dev/null
tail -n 5 "$log"
