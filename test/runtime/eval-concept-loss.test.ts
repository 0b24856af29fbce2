// The denoising loss of runtime/eval/concept-loss.ts: its batch is the noising formula with
// the schedule's ᾱ (checked in float64 row by row), fixed by the seed, and its loss is the
// mean squared error of whatever the predictor returns (known answers: a perfect predictor,
// a zero predictor, a predictor off by a constant).
import { describe, expect, it } from "vitest";
import { Rng } from "../../data/rng.ts";
import {
  conceptLoss,
  conceptLossBatch,
  LOSS_DRAWS,
  LOSS_LEVELS,
} from "../../runtime/eval/concept-loss.ts";
import { alphaBar } from "../../runtime/sampler.ts";

const PX = 3 * 4 * 4;
function images(n: number, seed: number): Float32Array[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () =>
    Float32Array.from({ length: PX }, () => rng.float() * 2 - 1),
  );
}

describe("concept loss", () => {
  it("noises every image at every level and draw with the schedule's ᾱ", () => {
    const imgs = images(3, 1);
    const b = conceptLossBatch(imgs, 5);
    expect(b.rows).toBe(3 * LOSS_LEVELS.length * LOSS_DRAWS);
    expect(b.xt.length).toBe(b.rows * PX);
    let r = 0;
    for (const x0 of imgs)
      for (const level of LOSS_LEVELS)
        for (let d = 0; d < LOSS_DRAWS; d++, r++) {
          expect(b.t[r]).toBeCloseTo(level, 6);
          const a = alphaBar(level);
          for (let k = 0; k < PX; k += 7) {
            const want = Math.sqrt(a) * x0[k] + Math.sqrt(1 - a) * b.eps[r * PX + k];
            expect(Math.abs(b.xt[r * PX + k] - want)).toBeLessThan(1e-5);
          }
        }
    // The draws of one image and level differ (two noises, not one twice).
    expect(b.eps.subarray(0, PX)).not.toEqual(b.eps.subarray(PX, 2 * PX));
  });

  it("is fixed by its seed", () => {
    const imgs = images(2, 2);
    expect(conceptLossBatch(imgs, 9).eps).toEqual(conceptLossBatch(imgs, 9).eps);
    expect(conceptLossBatch(imgs, 9).eps).not.toEqual(conceptLossBatch(imgs, 10).eps);
  });

  it("is the mean squared error of the predicted noise", async () => {
    const b = conceptLossBatch(images(2, 3), 4);
    expect(await conceptLoss(async () => b.eps.slice(), b)).toBe(0);
    let sq = 0;
    for (const e of b.eps) sq += e * e;
    const zero = await conceptLoss(async (_x, _t, rows) => new Float32Array(rows * PX), b);
    expect(zero).toBeCloseTo(sq / b.eps.length, 6);
    expect(zero).toBeGreaterThan(0.7); // unit-variance noise: about 1
    expect(zero).toBeLessThan(1.3);
    const off = await conceptLoss(async () => b.eps.map((e) => e + 0.5), b);
    expect(off).toBeCloseTo(0.25, 5);
  });

  it("refuses a predictor that returns the wrong number of values", async () => {
    const b = conceptLossBatch(images(1, 3), 4);
    await expect(conceptLoss(async () => new Float32Array(3), b)).rejects.toThrow(
      /3 predicted values for/,
    );
    expect(() => conceptLossBatch([], 1)).toThrow(/no real images/);
  });
});
