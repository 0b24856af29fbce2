#!/usr/bin/env bash
# Diagnoses "No WebGPU adapter found" on the lent GPU machine: unpacks the kit, lists the
# NVIDIA device nodes, and asks Dawn for an adapter with the Vulkan loader's messages on.
#   run(command: "bash scripts/device-probe.sh", carry: [".device-kit"], timeout_s: 90)
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/device-setup.sh
ls -la /dev/nvidia* /dev/dri 2>&1 | head
echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-}"
cd "$kit/app"
cat > probe.mjs <<'JS'
import { create, globals } from "webgpu";
Object.assign(globalThis, globals);
for (const flags of [[], ["backend=vulkan"], ["backend=vulkan", "adapter=NVIDIA"]]) {
  try {
    const gpu = create(flags);
    const a = await gpu.requestAdapter();
    console.log(JSON.stringify(flags), a ? JSON.stringify({ ...a.info, f: [...a.features] }) : "null");
  } catch (e) { console.log(JSON.stringify(flags), "threw", String(e)); }
}
JS
VK_LOADER_DEBUG=error,warn,info $node ./probe.mjs 2>&1 | grep -v "^$" | head -60
