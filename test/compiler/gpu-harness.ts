// Runs an IR graph through the whole pipeline (simplify -> plan -> WGSL -> Dawn) and
// returns its outputs, to compare against the float64 reference interpreter.
import { interpret, type Feeds } from "../../compiler/interpret.ts";
import type { Graph } from "../../compiler/ir.ts";
import { buildPlan } from "../../compiler/plan.ts";
import { simplify } from "../../compiler/simplify.ts";
import type { HostTensor } from "../../runtime/executor.ts";
import { createExecutor, type Device } from "../../runtime/device.ts";
import { ParamStore } from "../../runtime/params.ts";

/** Runs `g` on `gpu`: Dawn (WGSL) or the native target (C++), whichever it is. */
export async function runOnGpu(
  gpu: Device,
  g: Graph,
  feeds: Feeds,
  opts: { subgroups?: boolean } = {},
): Promise<Map<string, HostTensor>> {
  const s = simplify(g);
  const plan = buildPlan(s, {
    ...gpu.target,
    subgroups: (opts.subgroups ?? true) && gpu.hasSubgroups,
  });
  const store = new ParamStore(gpu, new Map());
  const ex = createExecutor(gpu, plan, store, "test");
  await ex.check();
  const host = new Map<string, HostTensor>();
  for (const n of s.inputs()) {
    const v = feeds.get(n.name!)!;
    host.set(n.name!, n.type.dtype === "i32" ? Int32Array.from(v.data) : Float32Array.from(v.data));
  }
  return ex.run(host);
}

/** Max |gpu - ref| / (1 + |ref|) over all outputs. */
export function compareOutputs(g: Graph, feeds: Feeds, got: Map<string, HostTensor>): number {
  const ref = interpret(g, feeds);
  let worst = 0;
  for (const [name, id] of g.outputs) {
    const want = ref[id].data;
    const have = got.get(name)!;
    if (have.length !== want.length)
      throw new Error(`${name}: length ${have.length} vs ${want.length}`);
    for (let i = 0; i < want.length; i++) {
      const e = Math.abs(have[i] - want[i]) / (1 + Math.abs(want[i]));
      if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : Math.max(worst, e);
    }
  }
  return worst;
}
