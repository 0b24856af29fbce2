// Kernel benchmark: cld's generated WGSL vs TensorFlow.js (WebGPU backend on the same
// dawn.node adapter, and its pure-JS CPU backend), interleaved in one process (A B A B ...)
// because single runs on shared machines vary by 2x. Reports medians and ratios, plus cold
// (empty Mesa cache, JIT included) vs warm first-dispatch time per cld kernel.
//   npx tsx bench/kernels.ts [--reps 7] [--quick] [--out bench/results-kernels.md]
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Gpu, type Dispatch } from "../runtime/gpu.ts";
import { matmulKernel, matmulSchedule, type MatmulOptions } from "../compiler/kernels/matmul.ts";
import {
  conv2dBackwardInputFor,
  conv2dBackwardWeightFor,
  conv2dForwardFor,
  convOutSize,
  type ConvKernel,
  type ConvShape,
} from "../compiler/kernels/conv2d.ts";

const args = process.argv.slice(2);
// Hours of benchmark should not start on a typo: unknown options stop it at once.
for (const a of args)
  if (a.startsWith("--") && !["--quick", "--compile", "--reps", "--out"].includes(a)) {
    console.error(
      `bench/kernels: unknown option ${a} (options: --quick, --compile, --reps N, --out FILE)`,
    );
    process.exit(1);
  }
const flag = (name: string) => args.includes(name);
const option = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};

/** Seconds of work per timed sample; more iterations amortise submit/readback overhead. */
const SAMPLE_MS = 150;
/** Samples for TF.js's pure-JS CPU backend (0.5 GFLOP/s: seconds per conv). */
const CPU_SAMPLES = 3;

interface Runner {
  /** Run `iters` times back to back, wait, return ms per iteration. */
  run(iters: number): Promise<number>;
}

interface Case {
  name: string;
  flops: number;
  cld: () => Promise<Runner>;
  tfw: () => Promise<Runner>;
  tfc?: () => Promise<Runner>;
}

function rand(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.random() * 2 - 1;
  return a;
}

// ---------------------------------------------------------------- cld

function cldRunner(gpu: Gpu, d: Dispatch): Runner {
  return {
    async run(iters) {
      const r = await gpu.submit(Array(iters).fill(d));
      return r.ms / iters;
    },
  };
}

function storage(gpu: Gpu, data: Float32Array | number): GPUBuffer {
  const n = typeof data === "number" ? data : data.length;
  const b = gpu.createBuffer(n * 4);
  if (typeof data !== "number") gpu.write(b, data);
  return b;
}

function matmulDispatch(
  gpu: Gpu,
  o: Omit<MatmulOptions, "subgroups">,
  M: number,
  N: number,
  K: number,
): Dispatch {
  // The schedule the compiler picks for this shape (heavy.ts), so the bench measures it.
  const k = matmulKernel({
    schedule: matmulSchedule({ M, N, K }, gpu.hasSubgroups),
    ...o,
    subgroups: gpu.hasSubgroups,
  });
  const pipeline = gpu.pipeline(k.wgsl, "matmul");
  const u = gpu.uniformBuffer(
    k.uniforms({ M, N, K, batch: 1, strideA: 0, strideB: 0, strideC: M * N }),
  );
  const bufs = [storage(gpu, rand(M * K)), storage(gpu, rand(K * N)), storage(gpu, M * N), u];
  return {
    pipeline,
    bindGroup: gpu.makeBindGroup(pipeline, bufs),
    workgroups: k.workgroups(M, N, 1),
    label: "matmul",
  };
}

type ConvKind = "forward" | "backward input" | "backward weight";

function convKernel(gpu: Gpu, kind: ConvKind, s: ConvShape): ConvKernel {
  const sub = gpu.hasSubgroups;
  if (kind === "forward") return conv2dForwardFor(s, { subgroups: sub });
  if (kind === "backward input") return conv2dBackwardInputFor(s, { subgroups: sub });
  return conv2dBackwardWeightFor(s, { subgroups: sub });
}

function convDispatch(gpu: Gpu, kind: ConvKind, s: ConvShape): Dispatch {
  const k = convKernel(gpu, kind, s);
  const pipeline = gpu.pipeline(k.wgsl, `conv2d ${kind}`);
  const { Ho, Wo } = convOutSize(s);
  const x = s.N * s.C * s.H * s.W;
  const w = s.O * s.C * s.KH * s.KW;
  const y = s.N * s.O * Ho * Wo;
  const [in0, in1, out] =
    kind === "forward" ? [x, w, y] : kind === "backward input" ? [y, w, x] : [x, y, w];
  const bufs = [
    storage(gpu, rand(in0)),
    storage(gpu, rand(in1)),
    storage(gpu, out),
    gpu.uniformBuffer(k.uniforms(s)),
  ];
  return {
    pipeline,
    bindGroup: gpu.makeBindGroup(pipeline, bufs),
    workgroups: k.workgroups(s),
    label: kind,
  };
}

// ---------------------------------------------------------------- TF.js

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type TF = any;

async function tfRunner(tf: TF, backend: string, make: () => () => unknown): Promise<Runner> {
  await tf.setBackend(backend);
  const op = make();
  return {
    async run(iters) {
      await tf.setBackend(backend);
      const t0 = performance.now();
      type T = { data(): Promise<unknown>; dispose(): void };
      let last: T | null = null;
      for (let i = 0; i < iters; i++) {
        if (last) last.dispose();
        last = op() as T;
      }
      await last!.data();
      last!.dispose();
      return (performance.now() - t0) / iters;
    },
  };
}

function tfMatmul(tf: TF, M: number, N: number, K: number, tA = false, tB = false) {
  return () => {
    const a = tf.tensor(rand(M * K), tA ? [K, M] : [M, K]);
    const b = tf.tensor(rand(K * N), tB ? [N, K] : [K, N]);
    return () => tf.matMul(a, b, tA, tB);
  };
}

/** TF.js convs run in its native NHWC / HWIO layout (same FLOPs). */
function tfConv(tf: TF, kind: ConvKind, s: ConvShape) {
  return () => {
    const { Ho, Wo } = convOutSize(s);
    const x = tf.tensor(rand(s.N * s.C * s.H * s.W), [s.N, s.H, s.W, s.C]);
    const w = tf.tensor(rand(s.O * s.C * s.KH * s.KW), [s.KH, s.KW, s.C, s.O]);
    const dy = tf.tensor(rand(s.N * s.O * Ho * Wo), [s.N, Ho, Wo, s.O]);
    const pad = s.pad === 0 ? "valid" : "same";
    const attrs = { strides: s.stride, pad, dataFormat: "NHWC", dimRoundingMode: undefined };
    if (kind === "forward") return () => tf.conv2d(x, w, s.stride, pad);
    if (kind === "backward input") {
      const a = { ...attrs, inputShape: [s.N, s.H, s.W, s.C] };
      return () => tf.engine().runKernel("Conv2DBackpropInput", { dy, filter: w }, a);
    }
    const a = { ...attrs, filterShape: [s.KH, s.KW, s.C, s.O] };
    return () => tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, a);
  };
}

// ---------------------------------------------------------------- compile times

const CONV: ConvShape = { N: 8, C: 64, H: 32, W: 32, O: 64, KH: 3, KW: 3, stride: 1, pad: 1 };

/** Child mode: first dispatch (pipeline creation + JIT + a tiny run) per kernel, as JSON. */
async function compileTimes(): Promise<void> {
  const gpu = await Gpu.open();
  const out: Record<string, number> = {};
  const tiny: ConvShape = { ...CONV, N: 1, H: 4, W: 4, C: 4, O: 4 };
  const cases: [string, () => Dispatch][] = [
    [
      "matmul (vec4)",
      () => matmulDispatch(gpu, { transA: false, transB: false, vec4: true }, 8, 8, 8),
    ],
    [
      "matmul (vec4, large: M, N, K ≥ 256)",
      () => matmulDispatch(gpu, { transA: false, transB: false, vec4: true }, 256, 256, 256),
    ],
    [
      "matmul (scalar, any shape)",
      () => matmulDispatch(gpu, { transA: false, transB: false }, 8, 8, 8),
    ],
    ["conv2d forward (direct)", () => convDispatch(gpu, "forward", tiny)],
    ["conv2d forward (im2col, any shape)", () => convDispatch(gpu, "forward", { ...tiny, W: 5 })],
    ["conv2d backward input (direct)", () => convDispatch(gpu, "backward input", tiny)],
    ["conv2d backward weight (direct)", () => convDispatch(gpu, "backward weight", tiny)],
    [
      "conv2d backward weight (im2col)",
      () => convDispatch(gpu, "backward weight", { ...tiny, W: 5 }),
    ],
  ];
  for (const [name, make] of cases) {
    const t0 = performance.now();
    await gpu.submit([make()]);
    out[name] = performance.now() - t0;
  }
  console.log(JSON.stringify(out));
  process.exit(0);
}

function measureCompile(): { cold: Record<string, number>; warm: Record<string, number> } {
  const dir = mkdtempSync(join(tmpdir(), "cld-mesa-cold-"));
  const run = () => {
    const r = spawnSync(process.execPath, [...process.execArgv, process.argv[1], "--compile"], {
      env: { ...process.env, MESA_SHADER_CACHE_DIR: dir },
      encoding: "utf8",
    });
    const line = r.stdout.split("\n").find((l) => l.startsWith("{"));
    if (!line) throw new Error(`compile-time child failed:\n${r.stderr}`);
    return JSON.parse(line) as Record<string, number>;
  };
  try {
    const cold = run();
    const warm = run();
    return { cold, warm };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const reps = Number(option("--reps", "7"));
  const loadBefore = loadavg()[0];
  const outFile = option("--out", "bench/results-kernels.md");
  const compile = measureCompile();

  const gpu = await Gpu.open();
  // TF.js gets the same dawn.node instance (same adapter, its own device).
  (globalThis as { navigator?: unknown }).navigator = { gpu: gpu.gpu };
  const tf = await import("@tensorflow/tfjs-core");
  await import("@tensorflow/tfjs-backend-webgpu");
  await import("@tensorflow/tfjs-backend-cpu");

  const mm = (n: number, cpu: boolean): Case => ({
    name: `matmul ${n}³`,
    flops: 2 * n ** 3,
    cld: async () =>
      cldRunner(gpu, matmulDispatch(gpu, { transA: false, transB: false, vec4: true }, n, n, n)),
    tfw: () => tfRunner(tf, "webgpu", tfMatmul(tf, n, n, n)),
    tfc: cpu ? () => tfRunner(tf, "cpu", tfMatmul(tf, n, n, n)) : undefined,
  });
  const mmT = (n: number, tA: boolean, tB: boolean): Case => ({
    name: `matmul ${n}³ ${tA ? "Aᵀ·B" : "A·Bᵀ"}`,
    flops: 2 * n ** 3,
    cld: async () =>
      cldRunner(gpu, matmulDispatch(gpu, { transA: tA, transB: tB, vec4: true }, n, n, n)),
    tfw: () => tfRunner(tf, "webgpu", tfMatmul(tf, n, n, n, tA, tB)),
  });
  const { Ho, Wo } = convOutSize(CONV);
  const convFlops = 2 * CONV.N * CONV.O * Ho * Wo * CONV.C * CONV.KH * CONV.KW;
  const conv = (kind: ConvKind): Case => ({
    name: `conv2d ${kind}`,
    flops: convFlops,
    cld: async () => cldRunner(gpu, convDispatch(gpu, kind, CONV)),
    tfw: () => tfRunner(tf, "webgpu", tfConv(tf, kind, CONV)),
    // Its weight gradient takes tens of seconds per call on the CPU backend: skipped.
    tfc: kind === "backward weight" ? undefined : () => tfRunner(tf, "cpu", tfConv(tf, kind, CONV)),
  });
  let cases: Case[] = [
    mm(256, true),
    mm(512, false),
    mm(1024, false),
    mmT(512, true, false),
    mmT(512, false, true),
    conv("forward"),
    conv("backward input"),
    conv("backward weight"),
  ];
  if (flag("--quick")) cases = cases.filter((c) => !c.name.includes("ᵀ"));

  type Slot = { runner: Runner; iters: number; ms: number[] };
  const slots: { c: Case; who: Record<string, Slot> }[] = [];
  for (const c of cases) {
    const who: Record<string, Slot> = {};
    for (const [key, make] of [
      ["cld", c.cld],
      ["tfw", c.tfw],
      ["tfc", c.tfc],
    ] as const) {
      if (!make) continue;
      const runner = await make();
      await runner.run(1); // warm-up: compile + first run
      const once = await runner.run(1);
      const iters = key === "tfc" ? 1 : Math.max(1, Math.min(50, Math.round(SAMPLE_MS / once)));
      who[key] = { runner, iters, ms: [] };
    }
    slots.push({ c, who });
  }
  for (let r = 0; r < reps; r++) {
    for (const s of slots) {
      for (const slot of Object.values(s.who)) {
        if (slot === s.who.tfc && r >= CPU_SAMPLES) continue; // the CPU backend is slow
        slot.ms.push(await slot.runner.run(slot.iters));
      }
    }
    process.stderr.write(`rep ${r + 1}/${reps}\n`);
  }

  const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const gf = (c: Case, s?: Slot) => (s ? c.flops / median(s.ms) / 1e6 : NaN);
  const fmt = (v: number) => (Number.isNaN(v) ? "–" : v.toFixed(1));
  const lines = [
    `Adapter: ${gpu.adapterDescription}; subgroups: ${gpu.hasSubgroups}. Medians of ${reps} interleaved samples`,
    `(TF.js CPU backend: ${CPU_SAMPLES}), GFLOP/s. cld: N dispatches in one encoder, timed to onSubmittedWorkDone;`,
    `TF.js: N ops then \`await data()\`. Conv: batch 8, 32×32, 64→64, 3×3, stride 1, pad 1`,
    `(cld NCHW/OIHW, TF.js its native NHWC). 1-minute load average ${loadBefore.toFixed(1)} before,`,
    `${loadavg()[0].toFixed(1)} after, on ${cpus().length} cores: other processes share the CPU, so absolute`,
    `rates vary run to run while the interleaved ratios hold better.`,
    "",
    "| case | cld | TF.js WebGPU | TF.js CPU | cld / TF.js WebGPU | cld ms |",
    "|---|---:|---:|---:|---:|---:|",
  ];
  for (const { c, who } of slots) {
    const a = gf(c, who.cld);
    const b = gf(c, who.tfw);
    lines.push(
      `| ${c.name} | ${fmt(a)} | ${fmt(b)} | ${fmt(gf(c, who.tfc))} | ${(a / b).toFixed(1)}× | ${median(who.cld.ms).toFixed(2)} |`,
    );
  }
  lines.push(
    "",
    "First dispatch per cld kernel (pipeline creation + LLVM JIT + tiny run), ms:",
    "",
  );
  lines.push("| kernel | cold (empty Mesa cache) | warm (cache hit) |", "|---|---:|---:|");
  for (const k of Object.keys(compile.cold)) {
    lines.push(`| ${k} | ${compile.cold[k].toFixed(0)} | ${compile.warm[k].toFixed(0)} |`);
  }
  const table = lines.join("\n");
  console.log(table);
  if (outFile !== "-") {
    const header = `# cld kernel benchmark\n\nCommand: \`npm run bench:kernels\` (\`npx tsx bench/kernels.ts\`), ${new Date().toISOString().slice(0, 10)}.\n\n`;
    writeFileSync(outFile, header + table + "\n");
  }
  process.exit(0);
}

if (flag("--compile")) await compileTimes();
else await main();
