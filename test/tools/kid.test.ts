// KID (unbiased MMD² with the cubic polynomial kernel) against known answers, and the
// image helpers the KID and judge tools share. Pure TypeScript: no TensorFlow, no GPU.
import { describe, expect, it } from "vitest";
import { gridImages, kid, kidSubsets, polyKernel, resizeCHW } from "../../runtime/features.ts";
import { decodePngBytes, encodePng, imageGrid } from "../../runtime/io/png.ts";
import { Rng } from "../../data/rng.ts";

function gaussian(rng: Rng, n: number, d: number, shift = 0): Float64Array[] {
  return Array.from({ length: n }, () => {
    const v = new Float64Array(d);
    for (let i = 0; i < d; i++) v[i] = rng.normal() + shift;
    return v;
  });
}

describe("polyKernel", () => {
  it("is (xᵀy/d + 1)³", () => {
    expect(polyKernel([1, 2], [3, 4])).toBeCloseTo((11 / 2 + 1) ** 3, 12);
    expect(polyKernel([0, 0, 0], [5, 6, 7])).toBe(1);
  });

  it("rejects vectors of different lengths", () => {
    expect(() => polyKernel([1], [1, 2])).toThrow(/1 and 2 values/);
  });
});

describe("kid", () => {
  it("matches a one-dimensional example worked by hand", () => {
    // d = 1, k(x, y) = (xy + 1)³. X = {0, 1}, Y = {1, 2}.
    // XX: k(0,1) = 1 → mean over i≠j = 1. YY: k(1,2) = 27 → 27.
    // XY: k(0,1) + k(0,2) + k(1,1) + k(1,2) = 1 + 1 + 8 + 27 = 37 → 2·37/4 = 18.5.
    expect(kid([[0], [1]], [[1], [2]])).toBeCloseTo(1 + 27 - 18.5, 12);
  });

  it("matches a two-dimensional example worked by hand, which comes out negative", () => {
    // d = 2, k(x, y) = (xᵀy/2 + 1)³. X = {e1, e2}, Y = {(1,1), (0,0)}.
    // XX: e1·e2 = 0 → 1. YY: 0 → 1. XY: 1.5³ + 1 + 1.5³ + 1 = 8.75 → 2·8.75/4 = 4.375.
    expect(
      kid(
        [
          [1, 0],
          [0, 1],
        ],
        [
          [1, 1],
          [0, 0],
        ],
      ),
    ).toBeCloseTo(1 + 1 - 4.375, 12);
  });

  it("is symmetric in its arguments", () => {
    const rng = new Rng(3);
    const x = gaussian(rng, 7, 5);
    const y = gaussian(rng, 9, 5, 0.5);
    expect(kid(x, y)).toBeCloseTo(kid(y, x), 10);
  });

  it("is about 0 for identical sets (unbiased, so slightly negative) and for two draws of one distribution", () => {
    const rng = new Rng(1);
    const x = gaussian(rng, 200, 16);
    const y = gaussian(rng, 200, 16);
    const same = kid(x, x);
    expect(same).toBeLessThanOrEqual(0);
    expect(Math.abs(same)).toBeLessThan(0.1);
    expect(Math.abs(kid(x, y))).toBeLessThan(0.1);
  });

  it("grows with the shift between two Gaussians", () => {
    const rng = new Rng(2);
    const x = gaussian(rng, 100, 16);
    const values = [0, 0.25, 0.5, 1].map((s) => kid(x, gaussian(new Rng(7), 100, 16, s)));
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeGreaterThan(values[i - 1]);
    expect(values[3]).toBeGreaterThan(10 * Math.abs(values[0]));
  });

  it("needs two vectors per set of one dimension", () => {
    expect(() => kid([[1]], [[1], [2]])).toThrow(/at least 2/);
    expect(() =>
      kid(
        [[1], [2]],
        [
          [1, 2],
          [3, 4],
        ],
      ),
    ).toThrow(/expected 1/);
  });
});

describe("kidSubsets", () => {
  it("averages subset estimates deterministically, near the full-set value", () => {
    const rng = new Rng(4);
    const x = gaussian(rng, 60, 8);
    const y = gaussian(rng, 60, 8, 0.5);
    const a = kidSubsets(x, y, { subsets: 20, size: 30, seed: 5 });
    const b = kidSubsets(x, y, { subsets: 20, size: 30, seed: 5 });
    expect(a).toEqual(b);
    expect(a.size).toBe(30);
    expect(a.std).toBeGreaterThan(0);
    expect(Math.abs(a.mean - kid(x, y))).toBeLessThan(3 * a.std);
    // Subsets as large as the sets are the sets themselves (in another order).
    const full = kidSubsets(x, y, { subsets: 3, seed: 1 });
    expect(full.size).toBe(60);
    expect(full.mean).toBeCloseTo(kid(x, y), 8);
    expect(full.std).toBeLessThan(1e-9);
  });
});

describe("image helpers", () => {
  it("resizeCHW keeps constants and corners, and is the identity at the same size", () => {
    const img = new Float32Array(3 * 4 * 4).map((_, i) => (i % 7) / 7);
    expect(resizeCHW(img, 3, 4, 4)).toEqual(img);
    const up = resizeCHW(img, 3, 4, 9);
    expect(up.length).toBe(3 * 81);
    for (let c = 0; c < 3; c++) {
      expect(up[c * 81]).toBeCloseTo(img[c * 16], 6);
      expect(up[c * 81 + 80]).toBeCloseTo(img[c * 16 + 15], 6);
    }
    const flat = resizeCHW(new Float32Array(2 * 8 * 8).fill(0.25), 2, 8, 3);
    for (const v of flat) expect(v).toBeCloseTo(0.25, 6);
  });

  it("gridImages recovers the images of a sample grid (8-bit PNG round trip)", () => {
    const size = 5;
    const imgs = Array.from({ length: 7 }, (_, k) =>
      new Float32Array(3 * size * size).map((_, i) => ((i * 13 + k * 29) % 256) / 255),
    );
    const grid = imageGrid(imgs, { rows: 3, cols: 3, size });
    const png = decodePngBytes(encodePng(grid.data, grid.width, grid.height));
    const back = gridImages(png, { size });
    expect(back.length).toBe(7); // the two unused (white) cells are dropped
    back.forEach((img, k) => {
      for (let i = 0; i < img.length; i++) expect(img[i]).toBeCloseTo(imgs[k][i], 6);
    });
    expect(gridImages(png, { size, n: 9 }).length).toBe(9);
    expect(() => gridImages(png, { size: 6 })).toThrow(/not a grid of 6×6 cells/);
  });
});
