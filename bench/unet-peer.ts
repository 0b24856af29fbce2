// cld's compiled training step of examples/pretrain.cld (text encoder + U-Net, batch 16,
// 32×32×3, AdamW with clipping and EMA) against the same model and step in TensorFlow.js
// (bench/tfjs-unet.ts) on its WASM (XNNPACK, SIMD) and WebGPU backends. One process: the
// WebGPU backend gets the same dawn.node GPU object (same lavapipe adapter) as cld.
// Contenders are interleaved (cld, wasm, webgpu, cld, …); medians after one warm-up step.
// Usage: npx tsx bench/unet-peer.ts [--steps 3] [--backends cld,wasm,webgpu] [--no-write]
import { loadavg } from "node:os";
import { writeFileSync } from "node:fs";
import { compile } from "../compiler/compile.ts";
import { optimizerScalars } from "../compiler/elab/optimizer.ts";
import { Gpu } from "../runtime/gpu.ts";
import { ParamStore } from "../runtime/params.ts";
import { StepExecutor } from "../runtime/executor.ts";
import { emojiTokenizer, MAX_TOKENS } from "../data/emoji-text.ts";

const argv = process.argv.slice(2);
// Minutes of benchmark should not start on a typo: unknown options stop it at once.
for (const a of argv)
  if (a.startsWith("--") && !["--steps", "--backends", "--no-write"].includes(a)) {
    console.error(
      `bench/unet-peer: unknown option ${a} (options: --steps N, --backends cld,wasm,webgpu, --no-write)`,
    );
    process.exit(1);
  }
const opt = (name: string, def: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : def;
};
const steps = Number(opt("steps", "3"));
const contenders = opt("backends", "cld,wasm,webgpu").split(",");
const write = !argv.includes("--no-write");
const load0 = loadavg()[0];
const started = new Date();

const BATCH = 16;
const SIZE = 32;
const vocab = emojiTokenizer().size;

// Deterministic host data shared by all contenders.
let seed = 1;
const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
const xNCHW = new Float32Array(BATCH * 3 * SIZE * SIZE).map(() => rnd() * 2 - 1);
const tokens = new Int32Array(BATCH * MAX_TOKENS).map(() => 1 + Math.floor(rnd() * (vocab - 1)));
const xNHWC = new Float32Array(xNCHW.length);
for (let b = 0; b < BATCH; b++)
  for (let c = 0; c < 3; c++)
    for (let p = 0; p < SIZE * SIZE; p++)
      xNHWC[(b * SIZE * SIZE + p) * 3 + c] = xNCHW[(b * 3 + c) * SIZE * SIZE + p];

// ---- cld -------------------------------------------------------------------------------
const gpu = await Gpu.open();
const tc0 = performance.now();
const compiled = compile("examples/pretrain.cld", new Map(), { subgroups: gpu.hasSubgroups });
const cldCompileMs = performance.now() - tc0;
const train = compiled.steps.get("train")!;
let cldParams = 0;
for (const p of compiled.program.registry.params.values())
  if (!p.state) cldParams += p.type.shape.reduce((a, b) => a * b, 1);
const store = new ParamStore(gpu, compiled.program.registry.params);
store.initialize(0);
const exec = new StepExecutor(gpu, train.plan, store, "train");
let cldT = 0;
const cldStep = async () => {
  cldT++;
  const feeds = new Map<string, Float32Array | Int32Array>([
    ["b.x", xNCHW],
    ["b.tokens", tokens],
    ["__seed", new Int32Array([cldT])],
  ]);
  // The optimizer's per-step scalars (lr schedule, bias corrections, EMA decay) as the
  // session computes them, so the bench follows the program's optimizer settings.
  const opt = compiled.program.steps.get("train")!.optimizer!;
  for (const [k, v] of Object.entries(optimizerScalars(opt, cldT, 20000)))
    feeds.set(k, new Float32Array([v]));
  for (const name of exec.inputs.keys())
    if (!feeds.has(name)) throw new Error(`cld step input '${name}' not fed`);
  const out = await exec.run(feeds);
  return (out.get("loss") as Float32Array)[0];
};

// ---- TF.js -----------------------------------------------------------------------------
// The webgpu backend looks for navigator.gpu: hand it cld's dawn.node GPU object (one
// create() kept alive for both), with the WebGPU globals Gpu.open already installed.
Object.defineProperty(globalThis, "navigator", { value: { gpu: gpu.gpu }, configurable: true });
const tf = await import("@tensorflow/tfjs-core");
await import("@tensorflow/tfjs-backend-cpu");
await import("@tensorflow/tfjs-backend-wasm");
await import("@tensorflow/tfjs-backend-webgpu");
const { TfUNet, defaultConfig } = await import("./tfjs-unet.ts");

interface Contender {
  name: string;
  label: string;
  step: () => Promise<number>;
  warmMs?: number;
  times: number[];
  params: number;
}
const all: Contender[] = [];
if (contenders.includes("cld"))
  all.push({
    name: "cld",
    label: "cld (WGSL, lavapipe)",
    step: cldStep,
    times: [],
    params: cldParams,
  });
for (const backend of ["wasm", "webgpu"]) {
  if (!contenders.includes(backend)) continue;
  await tf.setBackend(backend);
  await tf.ready();
  const lacksFilterGrad = !tf.getKernel("Conv2DBackpropFilter", backend);
  const model = new TfUNet(defaultConfig(vocab, MAX_TOKENS), `${backend}/`, lacksFilterGrad);
  const x = tf.tensor4d(xNHWC, [BATCH, SIZE, SIZE, 3]);
  const tok = tf.tensor2d(tokens, [BATCH, MAX_TOKENS], "int32");
  const label =
    backend === "wasm"
      ? `TF.js WASM (XNNPACK, SIMD=${String(await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT"))}, 1 thread${lacksFilterGrad ? ", im2col conv weight grad" : ""})`
      : "TF.js WebGPU (same lavapipe adapter)";
  all.push({
    name: backend,
    label,
    params: model.parameterCount(),
    times: [],
    step: async () => {
      if (tf.getBackend() !== backend) await tf.setBackend(backend);
      return model.step(x, tok);
    },
  });
}

console.log(
  `trainable parameters: ${all.map((c) => `${c.name} ${c.params.toLocaleString("en")}`).join(", ")}`,
);
const ref = all[0].params;
for (const c of all)
  if (Math.abs(c.params - ref) / ref > 0.01)
    throw new Error(`parameter counts differ: ${c.name} ${c.params} vs ${ref}`);

for (let round = 0; round <= steps; round++)
  for (const c of all) {
    const t = performance.now();
    const loss = await c.step();
    const ms = performance.now() - t;
    if (round === 0) c.warmMs = ms;
    else c.times.push(ms);
    console.log(
      `${round === 0 ? "warm-up" : `step ${round}`} ${c.name}: ${(ms / 1000).toFixed(2)} s, loss ${loss.toFixed(4)}`,
    );
  }

const median = (a: number[]) => {
  const s = [...a].sort((p, q) => p - q);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const load1 = loadavg()[0];
const rows = all.map((c) => ({ c, med: median(c.times) / 1000 }));
const cld = rows.find((r) => r.c.name === "cld");
const tfRows = rows.filter((r) => r.c.name !== "cld");
const fastestTf = tfRows.length ? tfRows.reduce((a, b) => (a.med <= b.med ? a : b)) : undefined;
const lines = [
  `| contender | params | warm-up step (s, incl. JIT) | s / step (median of ${steps}) | images / s | steps (s) | vs cld |`,
  `| --- | ---: | ---: | ---: | ---: | --- | ---: |`,
  ...rows.map(
    (r) =>
      `| ${r.c.label} | ${r.c.params.toLocaleString("en")} | ${(r.c.warmMs! / 1000).toFixed(2)} | ${r.med.toFixed(2)} | ${(BATCH / r.med).toFixed(2)} | ${r.c.times.map((t) => (t / 1000).toFixed(2)).join(", ")} | ${cld ? (r.med / cld.med).toFixed(2) + "×" : "–"} |`,
  ),
];
let verdict = "";
if (cld && fastestTf) {
  const ratio = fastestTf.med / cld.med;
  verdict = `cld vs the faster TF.js backend (${fastestTf.c.name}): **${ratio.toFixed(2)}×** ${ratio >= 1 ? "faster" : "slower"} (target ≥ 2×: ${ratio >= 2 ? "met" : "not met"}).`;
}
const table = lines.join("\n");
console.log(`\n${table}\n\n${verdict}`);
console.log(
  `cld compile (cldc, host): ${cldCompileMs.toFixed(0)} ms; load average (1 min) ${load0.toFixed(2)} → ${load1.toFixed(2)}`,
);

if (write) {
  const md = `# cld vs TensorFlow.js: one training step of the text-conditioned U-Net

Command: \`${["npx tsx bench/unet-peer.ts", ...argv].join(" ")}\`
Date: ${started.toISOString()}
Machine: ${gpu.adapterDescription}; 1-minute load average ${load0.toFixed(2)} before, ${load1.toFixed(2)} after.

Model: examples/pretrain.cld's \`train\` step (TextEncoder dim 64, 2 layers, 10 tokens, vocab ${vocab};
UNet ch 32, attention at 16×16 and 8×8), batch ${BATCH}, 32×32×3, global-norm clipping 1.0, Adam(W) with EMA 0.999;
cld's loss is the program's (v-prediction, min-SNR weights), TF.js's plain ε-prediction MSE: a few elementwise ops apart.
The TF.js model is bench/tfjs-unet.ts (NHWC, same layers and parameter shapes).
One process, interleaved (cld, WASM, WebGPU per round); one warm-up step each, then ${steps} timed steps.
cld host compile (cldc): ${cldCompileMs.toFixed(0)} ms, not included above.

${table}

${verdict}
`;
  writeFileSync("bench/results-unet.md", md);
}
gpu.destroy();
process.exit(0);
