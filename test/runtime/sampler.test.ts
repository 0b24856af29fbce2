// The sampler's schedule and update math as known answers, on the host (no GPU): with the
// true noise as the model's prediction every step recovers the clean image exactly.
import { describe, expect, it } from "vitest";
import { Rng } from "../../data/rng.ts";
import {
  alphaBar,
  ddimStep,
  ddpmPosterior,
  ddpmStep,
  epsFromX0,
  gridShape,
  guide,
  normals,
  predictX0,
  sample,
  timeGrid,
  toUnitImages,
  type Denoiser,
  type SamplerKind,
} from "../../runtime/sampler.ts";

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

/** A clean "image" in [−1, 1] and x_t = √ᾱ x0 + √(1−ᾱ) ε for a given ε. */
function noised(x0: Float64Array, eps: Float64Array, abar: number): Float64Array {
  return x0.map((v, i) => Math.sqrt(abar) * v + Math.sqrt(1 - abar) * eps[i]);
}

function cleanImage(n: number, seed = 3): Float64Array {
  const rng = new Rng(seed);
  return Float64Array.from({ length: n }, () => 2 * rng.float() - 1);
}

/** The ideal model: the exact noise in x given that the clean batch is `x0`. */
function oracle(x0: Float64Array): Denoiser {
  return async (x, t) => {
    const eps = epsFromX0(x, x0, alphaBar(t));
    return { cond: eps, uncond: eps };
  };
}

describe("noise schedule", () => {
  it("ᾱ(t) = cos²((0.98 t + 0.01)·π/2), the training program's cosine schedule", () => {
    expect(alphaBar(0)).toBeCloseTo(Math.cos(0.01 * (Math.PI / 2)) ** 2, 7);
    expect(alphaBar(1)).toBeCloseTo(Math.cos(0.99 * (Math.PI / 2)) ** 2, 7);
    expect(alphaBar(0.5)).toBeCloseTo(0.5, 7); // (0.49 + 0.01)·π/2 = π/4
    expect(alphaBar(0)).toBeGreaterThan(0.9997);
    expect(alphaBar(1)).toBeLessThan(3e-4);
    expect(alphaBar(1)).toBeGreaterThan(0); // x̂0 stays finite at t = 1
  });

  it("ᾱ is strictly decreasing in t", () => {
    let prev = Infinity;
    for (let i = 0; i <= 1000; i++) {
      const a = alphaBar(i / 1000);
      expect(a).toBeLessThan(prev);
      prev = a;
    }
  });

  it("the time grid runs evenly from 1 to 0", () => {
    expect([...timeGrid(4)]).toEqual([1, 0.75, 0.5, 0.25, 0]);
    expect([...timeGrid(1)]).toEqual([1, 0]);
    const g = timeGrid(50);
    expect(g.length).toBe(51);
    expect(g[0]).toBe(1);
    expect(g[50]).toBe(0);
    expect(() => timeGrid(0)).toThrow(/steps/);
  });
});

describe("guidance and x̂0", () => {
  it("ε = ε_u + w (ε_c − ε_u)", () => {
    const c = [1, 2, -1];
    const u = [0, 1, 1];
    expect([...guide(c, u, 0)]).toEqual(u);
    expect([...guide(c, u, 1)]).toEqual(c);
    expect([...guide(c, u, 3)]).toEqual([3, 4, -5]);
  });

  it("x̂0 inverts the forward process and is clipped to [−1, 1]", () => {
    const x0 = Float64Array.of(-1, -0.5, 0, 0.25, 1);
    const eps = Float64Array.of(0.3, -1.2, 2, 0.1, -0.7);
    for (const t of [0, 0.3, 0.9, 1]) {
      const a = alphaBar(t);
      expect(maxAbsDiff(predictX0(noised(x0, eps, a), eps, a), x0)).toBeLessThan(1e-9);
    }
    const big = Float64Array.of(3, -3, 0.5);
    const e0 = new Float64Array(3);
    const a = alphaBar(0.2);
    expect([...predictX0(noised(big, e0, a), e0, a)].map((v) => +v.toFixed(9))).toEqual([
      1, -1, 0.5,
    ]);
    expect(predictX0(noised(big, e0, a), e0, a, false)[0]).toBeCloseTo(3, 9);
  });
});

describe("DDIM", () => {
  it("with ε ≡ the true noise one step recovers x0 and lands exactly on x_t'", () => {
    const x0 = cleanImage(64);
    const eps = normals(new Rng(7), 64);
    const [a, an] = [alphaBar(0.8), alphaBar(0.6)];
    const { x, x0: pred } = ddimStep(noised(x0, eps, a), eps, a, an);
    expect(maxAbsDiff(pred, x0)).toBeLessThan(1e-9);
    expect(maxAbsDiff(x, noised(x0, eps, an))).toBeLessThan(1e-9);
  });

  it("recomputes ε̂ from the clipped x̂0, so x = √ᾱ x̂0 + √(1−ᾱ) ε̂ holds after clipping", () => {
    const x = Float64Array.of(0.9, -0.9, 0.1);
    const eps = Float64Array.of(-2, 2, 0); // x̂0 = (x − √(1−ᾱ)ε)/√ᾱ overshoots for the first two
    const a = alphaBar(0.5);
    const an = alphaBar(0.25);
    const x0 = predictX0(x, eps, a);
    expect([...x0].slice(0, 2)).toEqual([1, -1]);
    const e = epsFromX0(x, x0, a);
    expect(maxAbsDiff(noised(x0, e, a), x)).toBeLessThan(1e-12);
    const step = ddimStep(x, eps, a, an);
    expect(maxAbsDiff(step.x, noised(x0, e, an))).toBeLessThan(1e-12);
  });

  it("the whole loop with an ideal model returns x0 for any guidance weight", async () => {
    const x0 = cleanImage(2 * 3 * 4 * 4);
    for (const guidance of [0, 1, 3]) {
      const out = await sample(
        { size: x0.length, steps: 5, guidance, seed: 1, sampler: "ddim" },
        oracle(x0),
      );
      expect(maxAbsDiff(out, x0)).toBeLessThan(1e-9);
    }
  });
});

describe("DDPM", () => {
  it("the posterior is consistent with the marginals: c0 + ct √ᾱ = √ᾱ' and ct² (1−ᾱ) + σ² = 1−ᾱ'", () => {
    for (const [t, tn] of [
      [1, 0.98],
      [0.6, 0.4],
      [0.02, 0],
    ]) {
      const [a, an] = [alphaBar(t), alphaBar(tn)];
      const { c0, ct, sigma } = ddpmPosterior(a, an);
      expect(c0 + ct * Math.sqrt(a)).toBeCloseTo(Math.sqrt(an), 12);
      expect(ct * ct * (1 - a) + sigma * sigma).toBeCloseTo(1 - an, 12);
      expect(sigma).toBeGreaterThan(0);
    }
  });

  it("with the true noise and z = 0 a step is the posterior mean around the true x0", () => {
    const x0 = cleanImage(32);
    const eps = normals(new Rng(9), 32);
    const [a, an] = [alphaBar(0.7), alphaBar(0.5)];
    const xt = noised(x0, eps, a);
    const { c0, ct } = ddpmPosterior(a, an);
    const { x, x0: pred } = ddpmStep(xt, eps, a, an, new Float64Array(32));
    expect(maxAbsDiff(pred, x0)).toBeLessThan(1e-9);
    expect(
      maxAbsDiff(
        x,
        x0.map((v, i) => c0 * v + ct * xt[i]),
      ),
    ).toBeLessThan(1e-12);
    const z = Float64Array.from({ length: 32 }, () => 1);
    const withNoise = ddpmStep(xt, eps, a, an, z).x;
    const { sigma } = ddpmPosterior(a, an);
    expect(
      maxAbsDiff(
        withNoise,
        x.map((v) => v + sigma),
      ),
    ).toBeLessThan(1e-12);
  });

  it("the whole loop with an ideal model returns x0", async () => {
    const x0 = cleanImage(48);
    const out = await sample(
      { size: 48, steps: 7, guidance: 3, seed: 5, sampler: "ddpm" },
      oracle(x0),
    );
    expect(maxAbsDiff(out, x0)).toBeLessThan(1e-9);
  });
});

describe("the sampling loop", () => {
  /** A fixed, imperfect model: ε_c = 0.5 x + 0.1, ε_u = 0.4 x (a linear map of the input). */
  const linear: Denoiser = async (x) => ({
    cond: x.map((v) => 0.5 * v + 0.1),
    uncond: x.map((v) => 0.4 * v),
  });

  it("is deterministic for a seed and differs across seeds", async () => {
    for (const sampler of ["ddim", "ddpm"] as SamplerKind[]) {
      const opts = { size: 300, steps: 6, guidance: 3, sampler };
      const a = await sample({ ...opts, seed: 11 }, linear);
      const b = await sample({ ...opts, seed: 11 }, linear);
      const c = await sample({ ...opts, seed: 12 }, linear);
      expect([...a]).toEqual([...b]);
      expect(maxAbsDiff(a, c)).toBeGreaterThan(0.01);
      for (const v of a) expect(Math.abs(v)).toBeLessThanOrEqual(1); // the last step's x̂0 is clipped
    }
  });

  it("starts from x_T ~ N(0, I), calls the model once per step from t = 1 down, and returns the last x̂0", async () => {
    const seen: { t: number; x: Float64Array }[] = [];
    const steps: number[] = [];
    const rec: Denoiser = async (x, t) => {
      seen.push({ t, x: x.slice() });
      return { cond: new Float64Array(x.length), uncond: new Float64Array(x.length) };
    };
    const out = await sample(
      { size: 4000, steps: 4, guidance: 2, seed: 3, sampler: "ddim", onStep: (i) => steps.push(i) },
      rec,
    );
    expect(seen.map((s) => s.t)).toEqual([1, 0.75, 0.5, 0.25]);
    expect(steps).toEqual([1, 2, 3, 4]);
    const xT = seen[0].x;
    const mean = xT.reduce((s, v) => s + v, 0) / xT.length;
    const variance = xT.reduce((s, v) => s + (v - mean) ** 2, 0) / xT.length;
    expect(Math.abs(mean)).toBeLessThan(0.06);
    expect(Math.abs(variance - 1)).toBeLessThan(0.08);
    expect([...xT]).toEqual([...normals(new Rng(3), 4000)]);
    // ε = 0: x̂0 = x / √ᾱ (clipped), the last step returns it.
    const last = seen[3];
    expect(maxAbsDiff(out, predictX0(last.x, new Float64Array(4000), alphaBar(0.25)))).toBe(0);
  });

  it("refuses a model result of the wrong size", async () => {
    const bad: Denoiser = async () => ({ cond: new Float64Array(3), uncond: new Float64Array(4) });
    await expect(
      sample({ size: 4, steps: 2, guidance: 1, seed: 0, sampler: "ddim" }, bad),
    ).rejects.toThrow(/expected 4/);
  });
});

describe("images", () => {
  it("maps [−1, 1] to [0, 1] per image", () => {
    const imgs = toUnitImages([-1, 0, 1, 3, -3, 0.5], 2);
    expect(imgs.map((i) => [...i])).toEqual([
      [0, 0.5, 1],
      [1, 0, 0.75],
    ]);
  });

  it("lays n images out in about √n columns", () => {
    expect(gridShape(1)).toEqual({ rows: 1, cols: 1 });
    expect(gridShape(2)).toEqual({ rows: 1, cols: 2 });
    expect(gridShape(16)).toEqual({ rows: 4, cols: 4 });
    expect(gridShape(10)).toEqual({ rows: 3, cols: 4 });
  });
});
