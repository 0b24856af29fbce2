// Drawing images from a program's denoise step with classifier-free guidance, shared by
// `cldc sample` (a checkpoint) and the run-block command `sample(...)` (the weights being
// trained: RUN_DIR/samples/step_<optimizer step>.png, one row per prompt). The run-block
// grid uses the EMA copies of the weights when the optimizer keeps them, and puts the live
// weights back bit for bit afterwards; it draws no training noise and reads no data, so
// training goes on exactly as without it.
import { join } from "node:path";
import type { SampleSpec } from "../compiler/elab/sample-call.ts";
import { emojiTokenizer, MAX_TOKENS } from "../data/emoji-text.ts";
import { emaSources } from "./checkpoint-model.ts";
import type { HostTensor } from "./executor.ts";
import { imageGrid, writePng } from "./io/png.ts";
import { sample, toUnitImages, type SamplerKind } from "./sampler.ts";
import type { Session } from "./session.ts";
import { hashU32 } from "../compiler/ops/source.ts";

export interface GuidedSampling {
  /** The denoise step's batch (2 × images per call), image channels and side. */
  batch: number;
  channels: 1 | 3;
  size: number;
  /** Token rows of the images to draw (any number: drawn batch / 2 at a time). */
  tokens: Int32Array[];
  /** The empty caption's tokens, for the unconditional half. */
  uncond: Int32Array;
  steps: number;
  guidance: number;
  seed: number;
  sampler: SamplerKind;
  /** Runs the denoise step on x, t, tokens and returns its ε. */
  denoise: (feeds: Map<string, HostTensor>) => Promise<Float32Array>;
  /** Named in the error when the model predicts a non-finite value. */
  source: string;
  onStep?: (step: number) => void;
}

/**
 * One denoise call per sampler step runs the conditional and unconditional halves together.
 * More images than batch / 2 are drawn in chunks, chunk k with seed + k (chunk 0 is exactly
 * what one call with `seed` draws); a short last chunk repeats its last prompt.
 */
export async function sampleImages(o: GuidedSampling): Promise<Float32Array[]> {
  const half = o.batch / 2;
  const per = o.channels * o.size * o.size;
  const x = new Float32Array(o.batch * per);
  const t = new Float32Array(o.batch);
  const tokens = new Int32Array(o.batch * MAX_TOKENS);
  const feeds = new Map<string, HostTensor>([
    ["x", x],
    ["t", t],
    ["tokens", tokens],
  ]);
  const out: Float32Array[] = [];
  for (let k = 0; k * half < o.tokens.length; k++) {
    const rows = o.tokens.slice(k * half, (k + 1) * half);
    for (let r = 0; r < half; r++) {
      tokens.set(rows[Math.min(r, rows.length - 1)], r * MAX_TOKENS);
      tokens.set(o.uncond, (half + r) * MAX_TOKENS);
    }
    const size = half * per;
    const x0 = await sample(
      {
        size,
        steps: o.steps,
        guidance: o.guidance,
        seed: o.seed + k,
        sampler: o.sampler,
        onStep: o.onStep,
      },
      async (xs, time) => {
        for (let i = 0; i < size; i++) x[i] = x[size + i] = xs[i];
        t.fill(time);
        const eps = await o.denoise(feeds);
        for (let i = 0; i < eps.length; i++) {
          if (!Number.isFinite(eps[i]))
            throw new Error(
              `the model's noise prediction is ${eps[i]} at t = ${time.toFixed(3)}; ${o.source} may hold diverged weights`,
            );
        }
        return { cond: eps.subarray(0, size), uncond: eps.subarray(size) };
      },
    );
    out.push(...toUnitImages(x0, half).slice(0, rows.length));
  }
  return out;
}

export function sampleGridPath(runDir: string, optimizerStep: number): string {
  return join(runDir, "samples", `step_${optimizerStep}.png`);
}

/**
 * The run-block `sample(...)`: a grid of spec.n images per prompt from the session's current
 * (EMA, when kept) weights, written atomically to `path`; returns the log line.
 */
export async function writeSampleGrid(
  session: Session,
  spec: SampleSpec,
  sig: { batch: number; channels: 1 | 3; size: number },
  path: string,
): Promise<string> {
  const params = session.compiled.program.registry.params;
  const ema = emaSources(params.keys(), params);
  const live = new Map<string, Float32Array>();
  const ex = session.executors.get(spec.step)!;
  const tokenizer = emojiTokenizer();
  const t0 = performance.now();
  try {
    for (const [param, src] of ema) {
      live.set(param, await session.store.read(param));
      session.store.set(param, await session.store.read(src));
    }
    const tokens = spec.prompts.flatMap((p) =>
      Array.from({ length: spec.n }, () => tokenizer.encode(p, MAX_TOKENS)),
    );
    const images = await sampleImages({
      ...sig,
      tokens,
      uncond: tokenizer.encode("", MAX_TOKENS),
      steps: spec.steps,
      guidance: spec.guidance,
      seed: spec.seed,
      sampler: spec.sampler,
      source: "the weights being trained",
      denoise: async (feeds) => {
        // A seed of its own (never the session's event counter): training noise is untouched.
        if (ex.inputs.has("__seed")) feeds.set("__seed", Int32Array.of(hashU32(spec.seed) | 0));
        return (await ex.run(feeds)).get("return") as Float32Array;
      },
    });
    const grid = imageGrid(images, {
      rows: spec.prompts.length,
      cols: spec.n,
      size: sig.size,
      channels: sig.channels,
    });
    writePng(path, grid.data, grid.width, grid.height);
  } finally {
    for (const [param, data] of live) session.store.set(param, data);
  }
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  const weights = ema.size ? "EMA weights" : "live weights";
  return `sample: ${path} (${spec.prompts.length}×${spec.n}, ${spec.steps} ${spec.sampler.toUpperCase()} steps, guidance ${spec.guidance}, ${weights}, ${secs}s): ${spec.prompts.map((p) => JSON.stringify(p)).join(" | ")}`;
}
