// Cold and warm compile time of a program's steps: the first execution of every kernel
// includes lavapipe's LLVM JIT; Mesa's on-disk shader cache removes it in later processes.
// Usage: npx tsx bench/step-compile.ts [examples/mnist.cld] [step] [--set k=v ...]
// Each measurement runs in a fresh process (the cache directory must be set before Dawn starts).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [file = "examples/mnist.cld", step = "train_step", ...rest] = process.argv.slice(2);

if (process.env.CLD_STEP_COMPILE_CHILD) {
  const { compile } = await import("../compiler/compile.ts");
  const { Gpu } = await import("../runtime/gpu.ts");
  const { ParamStore } = await import("../runtime/params.ts");
  const { StepExecutor } = await import("../runtime/executor.ts");
  const sets = new Map(
    rest.filter((a) => a.includes("=")).map((a) => a.split("=") as [string, string]),
  );
  const gpu = await Gpu.open();
  const t0 = performance.now();
  const c = compile(file, sets, { subgroups: gpu.hasSubgroups });
  const t1 = performance.now();
  const s = c.steps.get(step)!;
  const store = new ParamStore(gpu, c.program.registry.params);
  store.initialize(0);
  const ex = new StepExecutor(gpu, s.plan, store, step);
  const feeds = new Map<string, Float32Array | Int32Array>();
  for (const [name, inp] of ex.inputs)
    feeds.set(
      name,
      inp.dtype === "i32" ? new Int32Array(inp.bytes / 4) : new Float32Array(inp.bytes / 4),
    );
  const t2 = performance.now();
  await ex.run(feeds);
  const t3 = performance.now();
  await ex.run(feeds);
  const t4 = performance.now();
  const distinct = new Set(s.plan.kernels.map((k) => k.source)).size;
  console.log(
    JSON.stringify({
      kernels: s.plan.kernels.length,
      distinct,
      compileMs: t1 - t0,
      firstRunMs: t3 - t2,
      secondRunMs: t4 - t3,
    }),
  );
  gpu.destroy();
  process.exit(0);
}

const cache = mkdtempSync(join(tmpdir(), "cld-mesa-"));
const run = () => {
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", new URL(import.meta.url).pathname, file, step, ...rest],
    {
      env: { ...process.env, CLD_STEP_COMPILE_CHILD: "1", MESA_SHADER_CACHE_DIR: cache },
      encoding: "utf8",
    },
  );
  const line = r.stdout.split("\n").find((l) => l.startsWith("{"));
  if (!line) throw new Error(r.stderr);
  return JSON.parse(line);
};
const cold = run();
const warm = run();
rmSync(cache, { recursive: true, force: true });
const jit = (x: { firstRunMs: number; secondRunMs: number }) =>
  Math.max(0, x.firstRunMs - x.secondRunMs);
console.log(`${file} step ${step}: ${cold.kernels} kernels (${cold.distinct} distinct WGSL)`);
console.log(
  `| cache | cldc compile (ms) | first step (ms) | later step (ms) | JIT ≈ first − later (ms) |`,
);
console.log(`| --- | ---: | ---: | ---: | ---: |`);
for (const [name, x] of [
  ["cold (empty Mesa cache)", cold],
  ["warm", warm],
] as const) {
  console.log(
    `| ${name} | ${x.compileMs.toFixed(0)} | ${x.firstRunMs.toFixed(0)} | ${x.secondRunMs.toFixed(0)} | ${jit(x).toFixed(0)} |`,
  );
}
