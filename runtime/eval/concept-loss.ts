// The denoising loss of a concept at one snapshot: how well the model predicts the noise
// added to the concept's own real images when prompted with its token ("a photo of <v_i>").
// The judge and KID score 8 samples per concept (±9 points over ten concepts); here every
// snapshot sees the same images, noise levels and noise, so a change between snapshots is
// the model's change and nothing else: forgetting without sampling noise, at about a tenth
// of the sampling's cost (a few denoise calls per pair instead of one per DDIM step).
import { Rng } from "../../data/rng.ts";
import { alphaBar } from "../sampler.ts";

/** Noise levels (t in (0, 1], t = 1 pure noise): the middle of the schedule, where the
 * prompt matters most; the ends say little (nearly clean, or nothing left to see). */
export const LOSS_LEVELS = [0.2, 0.4, 0.6, 0.8];
/** Noise draws per image and level. */
export const LOSS_DRAWS = 2;

/** Noised copies of a concept's images: every image × level × draw, with the noise added. */
export interface LossBatch {
  rows: number;
  /** [rows, C, S, S]: √ᾱ·x0 + √(1−ᾱ)·ε. */
  xt: Float32Array;
  /** [rows]: the level of each row. */
  t: Float32Array;
  /** [rows, C, S, S]: the noise ε the model should predict. */
  eps: Float32Array;
}

/** The fixed evaluation batch of one concept (images CHW in [-1, 1]); same seed, same batch. */
export function conceptLossBatch(images: Float32Array[], seed: number): LossBatch {
  if (!images.length) throw new Error("concept loss: the concept has no real images");
  const px = images[0].length;
  const rows = images.length * LOSS_LEVELS.length * LOSS_DRAWS;
  const xt = new Float32Array(rows * px);
  const t = new Float32Array(rows);
  const eps = new Float32Array(rows * px);
  const rng = new Rng(seed);
  let r = 0;
  for (const x0 of images)
    for (const level of LOSS_LEVELS)
      for (let d = 0; d < LOSS_DRAWS; d++, r++) {
        const a = alphaBar(level);
        const sa = Math.sqrt(a);
        const sn = Math.sqrt(1 - a);
        t[r] = level;
        for (let k = 0; k < px; k++) {
          const e = rng.normal();
          eps[r * px + k] = e;
          xt[r * px + k] = sa * x0[k] + sn * e;
        }
      }
  return { rows, xt, t, eps };
}

/** Predicts the noise of `rows` rows at once (the model's denoise step, any prompt). */
export type NoisePredictor = (
  xt: Float32Array,
  t: Float32Array,
  rows: number,
) => Promise<Float32Array>;

/** Mean squared error of the predicted noise over every row and pixel of the batch. */
export async function conceptLoss(predict: NoisePredictor, b: LossBatch): Promise<number> {
  const px = b.xt.length / b.rows;
  const pred = await predict(b.xt, b.t, b.rows);
  if (pred.length !== b.eps.length)
    throw new Error(`concept loss: ${pred.length} predicted values for ${b.eps.length}`);
  let sum = 0;
  for (let k = 0; k < pred.length; k++) {
    const d = pred[k] - b.eps[k];
    sum += d * d;
  }
  return sum / (b.rows * px);
}
