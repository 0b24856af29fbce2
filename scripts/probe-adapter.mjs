// Exit 0 and print the adapter when Dawn finds a WebGPU adapter, else exit 3.
import { create, globals } from "webgpu";

Object.assign(globalThis, globals);
const gpu = create([]);
const adapter = await gpu.requestAdapter();
if (!adapter) {
  console.error("probe: Dawn found no WebGPU adapter");
  process.exit(3);
}
const i = adapter.info;
console.log(
  `probe: ${[i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(" ")}`,
);
process.exit(0);
