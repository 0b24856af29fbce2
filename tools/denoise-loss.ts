// Does the model use its prompt? The denoising loss of a checkpoint's `denoise` step on real
// corpus images at fixed noise levels, with the true caption and with the empty one, for
// the EMA and the raw weights. A model that reads its prompt predicts the noise better
// with the caption (most visibly at middle noise levels); equal columns mean the text path
// is not used yet. A minute on lavapipe, against the judge's several (tools/judge-samples.ts).
//
//   npx tsx tools/denoise-loss.ts [CHECKPOINT] [--n 32] [--seed 7] [--grid x0.png]
//
// --grid writes the model's one-step x̂0 at t = --grid-t (default 0.6; EMA, with caption)
// above the real images.
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { emojiTokenizer, MAX_TOKENS } from "../data/emoji-text.ts";
import { Rng } from "../data/rng.ts";
import { emojiItems } from "../runtime/data-sources.ts";
import { Gpu } from "../runtime/gpu.ts";
import { imageGrid, writePng } from "../runtime/io/png.ts";
import { alphaBar } from "../runtime/sampler.ts";
import { openCheckpoint } from "./judge-samples/checkpoint.ts";

let parsed;
try {
  parsed = parseArgs({
    options: {
      n: { type: "string", default: "32" },
      seed: { type: "string", default: "7" },
      grid: { type: "string" },
      "grid-t": { type: "string", default: "0.6" },
    },
    allowPositionals: true,
  });
} catch (e) {
  console.error(`denoise-loss: ${(e as Error).message}`);
  process.exit(1);
}
const { values, positionals } = parsed;
const GRID_LEVEL = Number(values["grid-t"]);
const LEVELS = [...new Set([0.05, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 1, GRID_LEVEL])].sort(
  (a, b) => a - b,
);
const ckPath = positionals[0] ?? "runs/pretrain/checkpoint.safetensors";
if (!existsSync(ckPath)) {
  console.error(`denoise-loss: no such checkpoint: ${ckPath}`);
  process.exit(1);
}
const B = 16;
const total = Math.max(B, Math.ceil(Number(values.n) / B) * B);
const gpu = await Gpu.open();
// The checkpoint's program and settings, its denoise step at batch B, EMA or raw weights.
const open = (ema: boolean) =>
  openCheckpoint(gpu, ckPath, "denoise", { overrides: { sample_batch: String(B) }, ema });
const withEma = await open(true);
const { state } = withEma;
const size = Number(state.settings.size ?? 32);
const items = emojiItems({ size, split: "train", hold_out: "", min_styles: 5 });
const rng = new Rng(Number(values.seed));
const px = 3 * size * size;
const picks = Array.from({ length: total }, () => rng.int(items.n));
const noise = Float32Array.from({ length: total * px }, () => rng.normal());
const empty = emojiTokenizer().encode("", MAX_TOKENS);

console.log(
  `${ckPath}: ${state.program} at optimizer step ${Object.values(state.optimizerSteps)[0] ?? 0}; ` +
    `${total} corpus images, ε-MSE by noise level (t = 1 is pure noise)`,
);
console.log("weights  t      caption  empty    empty/caption");
for (const weights of ["ema", "raw"] as const) {
  const { session } = weights === "ema" ? withEma : await open(false);
  for (const t of LEVELS) {
    const a = alphaBar(t);
    const sums = { caption: 0, empty: 0 };
    const shown: Float32Array[] = [];
    for (let off = 0; off < total; off += B) {
      const x0 = new Float32Array(B * px);
      const xt = new Float32Array(B * px);
      const tokens = new Int32Array(B * MAX_TOKENS);
      const blank = new Int32Array(B * MAX_TOKENS);
      for (let i = 0; i < B; i++) {
        const j = picks[off + i];
        x0.set(items.x.subarray(j * px, (j + 1) * px), i * px);
        tokens.set(items.tokens.subarray(j * MAX_TOKENS, (j + 1) * MAX_TOKENS), i * MAX_TOKENS);
        blank.set(empty, i * MAX_TOKENS);
      }
      const eps0 = noise.subarray(off * px, (off + B) * px);
      for (let i = 0; i < xt.length; i++) xt[i] = Math.sqrt(a) * x0[i] + Math.sqrt(1 - a) * eps0[i];
      for (const which of ["caption", "empty"] as const) {
        const feeds = new Map<string, Float32Array | Int32Array>([
          ["x", xt],
          ["t", new Float32Array(B).fill(t)],
          ["tokens", which === "caption" ? tokens : blank],
        ]);
        const eps = (await session.invoke("denoise", feeds)).get("return") as Float32Array;
        for (let i = 0; i < eps.length; i++) sums[which] += (eps[i] - eps0[i]) ** 2;
        if (
          values.grid &&
          off === 0 &&
          weights === "ema" &&
          t === GRID_LEVEL &&
          which === "caption"
        ) {
          for (let k = 0; k < B; k++) {
            const img = new Float32Array(px);
            for (let i = 0; i < px; i++) {
              const v = (xt[k * px + i] - Math.sqrt(1 - a) * eps[k * px + i]) / Math.sqrt(a);
              img[i] = Math.min(1, Math.max(0, (v + 1) / 2));
            }
            shown.push(img);
          }
          for (let k = 0; k < B; k++)
            shown.push(Float32Array.from(x0.subarray(k * px, (k + 1) * px), (v) => (v + 1) / 2));
        }
      }
    }
    const cap = sums.caption / (total * px);
    const emp = sums.empty / (total * px);
    console.log(
      `${weights.padEnd(8)} ${t.toFixed(2)}   ${cap.toFixed(4)}   ${emp.toFixed(4)}   ${(emp / cap).toFixed(3)}`,
    );
    if (shown.length) {
      const g = imageGrid(shown, { rows: 2, cols: B, size, channels: 3 });
      writePng(values.grid!, g.data, g.width, g.height);
    }
  }
}
gpu.destroy();
