// Raw samples of a text-to-image model checkpoint (a program with a `denoise` step sized
// by `sample_batch`), many prompts per denoise call.
import { emojiTokenizer, MAX_TOKENS } from "../../data/emoji-text.ts";
import type { Gpu } from "../../runtime/gpu.ts";
import { sample, SAMPLERS, toUnitImages, type SamplerKind } from "../../runtime/sampler.ts";
import { inputBuffer, openCheckpoint, type OpenedCheckpoint } from "./checkpoint.ts";

const DENOISE_STEP = "denoise";
const SAMPLE_BATCH = "sample_batch";

export interface GenerateOptions {
  steps: number;
  guidance: number;
  seed: number;
  sampler: SamplerKind;
  /** Called after each batch with the images done so far. */
  onProgress?: (done: number, total: number) => void;
}

/** Draws raw samples from a model checkpoint, many prompts per denoise call. */
export class ModelSampler {
  private constructor(
    private readonly ck: OpenedCheckpoint,
    /** Images per call: `batch` prompted images, or 2·batch unconditional ones. */
    readonly batch: number,
    readonly channels: number,
    readonly size: number,
  ) {}

  static async load(
    gpu: Gpu,
    ckPath: string,
    opts: { batch?: number; ema?: boolean } = {},
  ): Promise<ModelSampler> {
    const batch = opts.batch ?? 16;
    const ck = await openCheckpoint(gpu, ckPath, DENOISE_STEP, {
      overrides: { [SAMPLE_BATCH]: String(2 * batch) },
      ema: opts.ema,
    });
    const x = inputBuffer(ck.compiled, DENOISE_STEP, "x");
    const tok = inputBuffer(ck.compiled, DENOISE_STEP, "tokens");
    if (x.shape.length !== 4 || x.shape[0] !== 2 * batch || x.shape[2] !== x.shape[3])
      throw new Error(
        `the model's denoise step takes x [${x.shape.join(", ")}], expected [${2 * batch}, C, S, S]`,
      );
    if (tok.shape[1] !== MAX_TOKENS)
      throw new Error(
        `the model's denoise step takes ${tok.shape[1]} tokens per row, expected ${MAX_TOKENS}`,
      );
    return new ModelSampler(ck, batch, x.shape[1], x.shape[2]);
  }

  get weights(): string {
    return this.ck.weights;
  }

  get program(): string {
    return `${this.ck.state.program} (${this.ck.entry})`;
  }

  /**
   * One image per prompt, as RGB CHW floats in [0, 1]. An empty prompt gives an
   * unconditional sample (no guidance); the rest use classifier-free guidance.
   */
  async generate(prompts: readonly string[], opts: GenerateOptions): Promise<Float32Array[]> {
    if (!SAMPLERS.includes(opts.sampler)) throw new Error(`unknown sampler '${opts.sampler}'`);
    const tokenizer = emojiTokenizer();
    const empty = tokenizer.encode("", MAX_TOKENS);
    const per = this.channels * this.size * this.size;
    const rows = 2 * this.batch;
    const x = new Float32Array(rows * per);
    const t = new Float32Array(rows);
    const tokens = new Int32Array(rows * MAX_TOKENS);
    const feeds = new Map<string, Float32Array | Int32Array>([
      ["x", x],
      ["t", t],
      ["tokens", tokens],
    ]);
    const eps = async (time: number) => {
      t.fill(time);
      const e = (await this.ck.session.invoke(DENOISE_STEP, feeds)).get("return")!;
      for (let i = 0; i < e.length; i++)
        if (!Number.isFinite(e[i]))
          throw new Error(`the model's noise prediction is ${e[i]} at t = ${time.toFixed(3)}`);
      return e;
    };
    const out = new Array<Float32Array>(prompts.length);
    const cond = prompts.flatMap((p, i) => (p.trim() ? [i] : []));
    const uncond = prompts.flatMap((p, i) => (p.trim() ? [] : [i]));
    let done = 0;
    let chunk = 0;
    const store = (idx: number[], x0: Float64Array) => {
      const imgs = toUnitImages(x0.subarray(0, idx.length * per), idx.length);
      idx.forEach((j, k) => (out[j] = this.channels === 3 ? imgs[k] : greyToRgb(imgs[k])));
      done += idx.length;
      opts.onProgress?.(done, prompts.length);
    };
    // Prompted: the first half of the rows carries the prompts, the second half the empty
    // caption; both see the same x, and guidance mixes their predictions.
    for (let s = 0; s < cond.length; s += this.batch, chunk++) {
      const idx = cond.slice(s, s + this.batch);
      for (let r = 0; r < rows; r++) {
        const text = r < idx.length ? prompts[idx[r]] : "";
        tokens.set(r < idx.length ? tokenizer.encode(text, MAX_TOKENS) : empty, r * MAX_TOKENS);
      }
      const half = this.batch * per;
      const x0 = await sample(
        {
          size: half,
          steps: opts.steps,
          guidance: opts.guidance,
          seed: chunkSeed(opts.seed, chunk),
          sampler: opts.sampler,
        },
        async (xs, time) => {
          for (let i = 0; i < half; i++) x[i] = x[half + i] = xs[i];
          const e = await eps(time);
          return { cond: e.subarray(0, half), uncond: e.subarray(half) };
        },
      );
      store(idx, x0);
    }
    // Unconditional: every row is an image of its own.
    for (let r = 0; r < rows; r++) tokens.set(empty, r * MAX_TOKENS);
    for (let s = 0; s < uncond.length; s += rows, chunk++) {
      const idx = uncond.slice(s, s + rows);
      const x0 = await sample(
        {
          size: rows * per,
          steps: opts.steps,
          guidance: 1,
          seed: chunkSeed(opts.seed, chunk),
          sampler: opts.sampler,
        },
        async (xs, time) => {
          for (let i = 0; i < xs.length; i++) x[i] = xs[i];
          const e = await eps(time);
          return { cond: e, uncond: e };
        },
      );
      store(idx, x0);
    }
    return out;
  }
}

function chunkSeed(seed: number, chunk: number): number {
  return (Math.imul(seed, 1000003) + Math.imul(chunk + 1, 7919)) >>> 0;
}

function greyToRgb(img: Float32Array): Float32Array {
  const out = new Float32Array(img.length * 3);
  for (let k = 0; k < 3; k++) out.set(img, k * img.length);
  return out;
}
