// Per-kernel GPU time of a program's step (timestamp queries), sorted by cost.
import { compile } from "../compiler/compile.ts";
import { Gpu } from "../runtime/gpu.ts";
import { ParamStore } from "../runtime/params.ts";

const [file, stepName, ...sets] = process.argv.slice(2);
const gpu = await Gpu.open();
const c = compile(file, new Map(sets.map((s) => s.split("=") as [string, string])), {
  subgroups: gpu.hasSubgroups,
});
const step = c.steps.get(stepName)!;
const store = new ParamStore(gpu, c.program.registry.params);
store.initialize(0);
const buffers = step.plan.buffers.map((b) =>
  b.kind === "param" ? (store.buffer(b.name) as GPUBuffer) : gpu.createBuffer(b.bytes),
);
const dispatches = step.plan.kernels.map((k) => {
  const p = gpu.pipeline(k.source, k.name);
  const bind = k.bindings.map((b) =>
    "buffer" in b ? buffers[b.buffer] : gpu.uniformBuffer(new Uint32Array(b.uniform)),
  );
  return {
    pipeline: p,
    bindGroup: gpu.makeBindGroup(p, bind),
    workgroups: k.workgroups,
    label: k.name,
  };
});
let t = performance.now();
await gpu.submit(dispatches);
console.log(`first (cold/warm JIT) ${(performance.now() - t).toFixed(0)} ms`);
// Several profiled runs; each kernel's time is its minimum over them, which filters out
// preemption by other processes on a shared machine (RUNS=n, default 3).
const runs: Awaited<ReturnType<Gpu["submit"]>>[] = [];
for (let i = 0; i < Number(process.env.RUNS ?? 3); i++)
  runs.push(await gpu.submit(dispatches, { profile: true }));
t = performance.now();
const r = await gpu.submit(dispatches);
console.log(`whole step ${r.ms.toFixed(1)} ms, ${dispatches.length} dispatches`);
const last = runs[0].dispatches!.map((d, i) => ({
  ...d,
  ms: Math.min(...runs.map((r) => r.dispatches![i].ms)),
}));
const total = last.reduce((s, d) => s + d.ms, 0);
const rows = last.map((d, i) => ({ ...d, k: step.plan.kernels[i] })).sort((a, b) => b.ms - a.ms);
for (const d of rows.slice(0, Number(process.env.TOP ?? 25)))
  console.log(
    `${d.ms.toFixed(2).padStart(8)} ms ${((100 * d.ms) / total).toFixed(1).padStart(5)}%  ${d.label.padEnd(40)} ${(d.k.flops / d.ms / 1e6).toFixed(2)} GFLOP/s  wg ${d.k.workgroups.join("x")}`,
  );
console.log(`sum ${total.toFixed(1)} ms`);
// DUMP=file.json: every kernel with its time, for offline analysis.
if (process.env.DUMP) {
  const { writeFileSync } = await import("node:fs");
  const all = last.map((d, i) => {
    const k = step.plan.kernels[i];
    const out = k.bindings.filter((b) => "buffer" in b).at(-1) as { buffer: number };
    const kind = step.plan.buffers[out.buffer].kind;
    return {
      name: k.name,
      ms: d.ms,
      workgroups: k.workgroups,
      ops: k.ops,
      flops: k.flops,
      bytes: k.bytes,
      kind,
    };
  });
  writeFileSync(process.env.DUMP, JSON.stringify(all, null, 1));
}
// Time by kernel family: where a step's time goes at a glance.
const family = (k: { name: string; source: string }) =>
  /_attention/.test(k.name)
    ? "attention (fused)"
    : /matmul|conv2d/.test(k.name)
      ? k.name
          .replace(/^k\d+_/, "")
          .split("_")
          .slice(0, k.name.includes("conv2d_grad") ? 3 : 1)
          .join("_")
      : k.source.includes("var<workgroup> part")
        ? "split reduction"
        : "fused elementwise/reduce";
const byFamily = new Map<string, { ms: number; n: number }>();
for (const d of rows) {
  const f = family(d.k);
  const e = byFamily.get(f) ?? { ms: 0, n: 0 };
  byFamily.set(f, { ms: e.ms + d.ms, n: e.n + 1 });
}
for (const [f, e] of [...byFamily].sort((a, b) => b[1].ms - a[1].ms))
  console.log(
    `${e.ms.toFixed(1).padStart(9)} ms ${((100 * e.ms) / total).toFixed(1).padStart(5)}%  ${String(e.n).padStart(5)} kernels  ${f}`,
  );
gpu.destroy();
