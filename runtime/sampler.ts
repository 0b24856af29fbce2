// Diffusion samplers on the host: the noise schedule, classifier-free guidance and the
// DDIM (η = 0) and DDPM (ancestral) updates, in Float64. The model is a callback (on the
// GPU in `cldc sample`, a closed-form oracle in the tests), so everything here is pure,
// deterministic for a seed, and testable without a device.
//
// Conventions match the training program (examples/pretrain.cld): time t ∈ [0, 1] with
// t = 1 pure noise, x_t = √ᾱ(t)·x0 + √(1−ᾱ(t))·ε, the model predicts ε, images in [−1, 1].
import { Rng } from "../data/rng.ts";

export type SamplerKind = "ddim" | "ddpm";
export const SAMPLERS: readonly SamplerKind[] = ["ddim", "ddpm"];

/**
 * ᾱ(t) = cos²((0.98·t + 0.01)·π/2): the cosine schedule of the training program, with its
 * literal π/2 (1.5707963) so sampling sees exactly the noise levels training saw.
 */
export function alphaBar(t: number): number {
  const c = Math.cos((t * 0.98 + 0.01) * 1.5707963);
  return c * c;
}

/** `steps + 1` evenly spaced times from t = 1 down to t = 0: step i goes from grid[i] to grid[i + 1]. */
export function timeGrid(steps: number): Float64Array {
  if (!Number.isInteger(steps) || steps < 1)
    throw new Error(`timeGrid: steps must be an integer >= 1, got ${steps}`);
  const g = new Float64Array(steps + 1);
  for (let i = 0; i <= steps; i++) g[i] = 1 - i / steps;
  return g;
}

/** Classifier-free guidance: ε = ε_u + w·(ε_c − ε_u). */
export function guide(cond: ArrayLike<number>, uncond: ArrayLike<number>, w: number): Float64Array {
  if (cond.length !== uncond.length)
    throw new Error(`guide: ${cond.length} conditional vs ${uncond.length} unconditional values`);
  const out = new Float64Array(cond.length);
  for (let i = 0; i < out.length; i++) out[i] = uncond[i] + w * (cond[i] - uncond[i]);
  return out;
}

/** x̂0 = (x − √(1−ᾱ)·ε) / √ᾱ, clipped to [−1, 1] unless `clip` is false. */
export function predictX0(
  x: ArrayLike<number>,
  eps: ArrayLike<number>,
  abar: number,
  clip = true,
): Float64Array {
  const a = Math.sqrt(abar);
  const s = Math.sqrt(1 - abar);
  const out = new Float64Array(x.length);
  for (let i = 0; i < out.length; i++) {
    const v = (x[i] - s * eps[i]) / a;
    out[i] = clip ? (v > 1 ? 1 : v < -1 ? -1 : v) : v;
  }
  return out;
}

/** The noise consistent with x and a (clipped) x̂0: ε̂ = (x − √ᾱ·x̂0) / √(1−ᾱ). */
export function epsFromX0(x: ArrayLike<number>, x0: ArrayLike<number>, abar: number): Float64Array {
  const a = Math.sqrt(abar);
  const s = Math.sqrt(1 - abar);
  const out = new Float64Array(x.length);
  for (let i = 0; i < out.length; i++) out[i] = (x[i] - a * x0[i]) / s;
  return out;
}

export interface StepResult {
  /** The sample at the next (lower) noise level. */
  x: Float64Array;
  /** The clipped prediction of the clean image at this step. */
  x0: Float64Array;
}

/** One deterministic DDIM step (η = 0) from ᾱ to ᾱ': x' = √ᾱ'·x̂0 + √(1−ᾱ')·ε̂, ε̂ from the clipped x̂0. */
export function ddimStep(
  x: ArrayLike<number>,
  eps: ArrayLike<number>,
  abar: number,
  abarNext: number,
): StepResult {
  const x0 = predictX0(x, eps, abar);
  const e = epsFromX0(x, x0, abar);
  const a = Math.sqrt(abarNext);
  const s = Math.sqrt(1 - abarNext);
  const out = new Float64Array(x.length);
  for (let i = 0; i < out.length; i++) out[i] = a * x0[i] + s * e[i];
  return { x: out, x0 };
}

/**
 * The Gaussian posterior q(x_t' | x_t, x0) from ᾱ = ᾱ(t) to ᾱ' = ᾱ(t') at an earlier t' < t:
 * mean = c0·x0 + ct·x_t, standard deviation sigma. With α = ᾱ/ᾱ' and β = 1 − α:
 * c0 = √ᾱ'·β/(1−ᾱ), ct = √α·(1−ᾱ')/(1−ᾱ), σ² = β·(1−ᾱ')/(1−ᾱ).
 */
export function ddpmPosterior(
  abar: number,
  abarNext: number,
): { c0: number; ct: number; sigma: number } {
  const alpha = abar / abarNext;
  const beta = 1 - alpha;
  return {
    c0: (Math.sqrt(abarNext) * beta) / (1 - abar),
    ct: (Math.sqrt(alpha) * (1 - abarNext)) / (1 - abar),
    sigma: Math.sqrt(Math.max(0, (beta * (1 - abarNext)) / (1 - abar))),
  };
}

/** One ancestral DDPM step: x' = c0·x̂0 + ct·x + σ·z, with x̂0 clipped and z ~ N(0, I) given. */
export function ddpmStep(
  x: ArrayLike<number>,
  eps: ArrayLike<number>,
  abar: number,
  abarNext: number,
  z: ArrayLike<number>,
): StepResult {
  const x0 = predictX0(x, eps, abar);
  const { c0, ct, sigma } = ddpmPosterior(abar, abarNext);
  const out = new Float64Array(x.length);
  for (let i = 0; i < out.length; i++) out[i] = c0 * x0[i] + ct * x[i] + sigma * z[i];
  return { x: out, x0 };
}

/** `count` standard normal values from a seeded generator. */
export function normals(rng: Rng, count: number): Float64Array {
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = rng.normal();
  return out;
}

/** The model at one step: noise predictions for the batch with and without the prompt. */
export type Denoiser = (
  x: Float64Array,
  t: number,
) => Promise<{ cond: ArrayLike<number>; uncond: ArrayLike<number> }>;

export interface SampleOptions {
  /** Values per batch (images × channels × height × width). */
  size: number;
  steps: number;
  /** Classifier-free guidance weight w (0: unconditional, 1: conditional only). */
  guidance: number;
  seed: number;
  sampler: SamplerKind;
  /** Called after every step with the 1-based step number and the step's time t. */
  onStep?: (step: number, t: number) => void;
}

/**
 * Runs the reverse process: x_T ~ N(0, I) (seeded), then `steps` model calls from t = 1 to
 * t = 0 with guidance; returns the last step's x̂0 (in [−1, 1]).
 */
export async function sample(opts: SampleOptions, denoise: Denoiser): Promise<Float64Array> {
  if (!SAMPLERS.includes(opts.sampler)) throw new Error(`unknown sampler '${opts.sampler}'`);
  const rng = new Rng(opts.seed);
  const grid = timeGrid(opts.steps);
  let x = normals(rng, opts.size);
  for (let i = 0; i < opts.steps; i++) {
    const t = grid[i];
    const { cond, uncond } = await denoise(x, t);
    if (cond.length !== opts.size || uncond.length !== opts.size) {
      throw new Error(
        `the model returned ${cond.length}/${uncond.length} values, expected ${opts.size}`,
      );
    }
    const eps = guide(cond, uncond, opts.guidance);
    const abar = alphaBar(t);
    if (i === opts.steps - 1) {
      x = predictX0(x, eps, abar);
    } else {
      const abarNext = alphaBar(grid[i + 1]);
      x =
        opts.sampler === "ddim"
          ? ddimStep(x, eps, abar, abarNext).x
          : ddpmStep(x, eps, abar, abarNext, normals(rng, opts.size)).x;
    }
    opts.onStep?.(i + 1, t);
  }
  return x;
}

/** Splits a batch in [−1, 1] into `n` images mapped to [0, 1] (Float32, CHW each). */
export function toUnitImages(x: ArrayLike<number>, n: number): Float32Array[] {
  if (x.length % n !== 0)
    throw new Error(`toUnitImages: ${x.length} values are not ${n} equal images`);
  const per = x.length / n;
  const out: Float32Array[] = [];
  for (let k = 0; k < n; k++) {
    const img = new Float32Array(per);
    for (let i = 0; i < per; i++) {
      const v = (x[k * per + i] + 1) / 2;
      img[i] = v > 1 ? 1 : v < 0 ? 0 : v;
    }
    out.push(img);
  }
  return out;
}

/** Grid shape for n images: about √n columns. */
export function gridShape(n: number): { rows: number; cols: number } {
  const cols = Math.max(1, Math.ceil(Math.sqrt(n)));
  return { rows: Math.ceil(n / cols), cols };
}
