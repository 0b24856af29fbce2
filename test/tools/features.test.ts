// Smoke test of the KID feature space: nsfwjs's MobileNetV2 loads from the package on
// disk (no network) and maps images to finite 1280-d pooled features.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  FEATURE_DIM,
  loadFeatureExtractor,
  type FeatureExtractor,
} from "../../runtime/features.ts";

describe("MobileNetV2 features", () => {
  let fx: FeatureExtractor;
  beforeAll(async () => {
    fx = await loadFeatureExtractor();
  });
  afterAll(() => fx?.dispose());

  it("gives finite 1280-d features that tell two images apart", async () => {
    const size = 32;
    const plane = size * size;
    // A red disc on white, and a blue vertical stripe pattern.
    const disc = new Float32Array(3 * plane).fill(1);
    const stripes = new Float32Array(3 * plane).fill(1);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        if ((x - 15.5) ** 2 + (y - 15.5) ** 2 < 100) {
          disc[plane + y * size + x] = 0;
          disc[2 * plane + y * size + x] = 0;
        }
        if (x % 8 < 4) {
          stripes[y * size + x] = 0;
          stripes[plane + y * size + x] = 0;
        }
      }
    }
    expect(fx.dim).toBe(FEATURE_DIM);
    const [a, b, a2] = await fx.features([disc, stripes, disc]);
    for (const f of [a, b]) {
      expect(f.length).toBe(FEATURE_DIM);
      expect(f.every(Number.isFinite)).toBe(true);
    }
    let diff = 0;
    let norm = 0;
    for (let i = 0; i < FEATURE_DIM; i++) {
      diff += (a[i] - b[i]) ** 2;
      norm += a[i] ** 2;
      expect(a2[i]).toBeCloseTo(a[i], 4); // deterministic
    }
    expect(norm).toBeGreaterThan(0);
    expect(diff / norm).toBeGreaterThan(0.01);
  });

  it("accepts grey images", async () => {
    const grey = new Float32Array(16 * 16).fill(0.5);
    const [f] = await fx.features([grey], 1, 16);
    expect(f.length).toBe(FEATURE_DIM);
  });
});
