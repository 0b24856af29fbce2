import { describe, expect, it } from "vitest";
import { MNIST_PIXELS, loadMnist, mnistCaption, mnistSplit } from "../../data/mnist.ts";

describe("mnist", () => {
  it("loads 10,000 digits in [0, 1]", () => {
    const all = loadMnist();
    expect(all.n).toBe(10000);
    expect(all.images.length).toBe(all.n * MNIST_PIXELS);
    let min = Infinity;
    let max = -Infinity;
    for (const v of all.images) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    expect(min).toBe(0);
    expect(max).toBeLessThanOrEqual(1);
    expect(max).toBeGreaterThan(0.9);
  });

  it("splits 8,000 train / 2,000 test with 200 test digits per class", () => {
    const train = mnistSplit("train");
    const test = mnistSplit("test");
    expect(train.n).toBe(8000);
    expect(test.n).toBe(2000);
    const counts = new Array(10).fill(0);
    for (const l of test.labels) counts[l]++;
    expect(counts).toEqual(new Array(10).fill(200));
    const trainCounts = new Array(10).fill(0);
    for (const l of train.labels) trainCounts[l]++;
    expect(trainCounts.reduce((a, b) => a + b)).toBe(8000);
    expect(Math.min(...trainCounts)).toBeGreaterThan(600);
  });

  it("test indices are fixed, unique and disjoint from train", () => {
    const { testIndices, n } = loadMnist();
    expect(new Set(testIndices).size).toBe(2000);
    expect(Math.max(...testIndices)).toBeLessThan(n);
    // Known answer: a changed split would silently change every reported test number.
    expect(Array.from(testIndices.slice(0, 5))).toEqual([8, 18, 20, 23, 24]);
    // Recomputing gives the same images (memoized object aside).
    const a = mnistSplit("test");
    const b = mnistSplit("test");
    expect(a.images.length).toBe(b.images.length);
    expect(a.images.every((v, i) => v === b.images[i])).toBe(true);
  });

  it("captions digits", () => {
    expect(mnistCaption(3)).toBe("digit three");
    expect(() => mnistCaption(10)).toThrow(/not a digit/);
    expect(() => mnistSplit("val" as "train")).toThrow(/train.*test/);
  });
});
