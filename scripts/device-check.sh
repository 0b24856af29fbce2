#!/usr/bin/env bash
# On the lent GPU machine: every op and kernel test of the GPU path (the same files CI runs
# on lavapipe: test/compiler/gpu-ops, test/kernels/*) against the float64 reference.
#   run(command: "bash scripts/device-check.sh", carry: [".device-kit"], timeout_s: 300)
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/device-setup.sh
$node "$kit/app/device-tests.mjs" 2>&1 | tee -a "$log" | grep -v "^ok"
status=${PIPESTATUS[0]}
say "GPU tests exited $status"
exit "$status"
