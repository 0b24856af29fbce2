import { describe, expect, it } from "vitest";
import { BatchSource, imageAugment } from "../../data/batches.ts";
import { Rng, hashSeed } from "../../data/rng.ts";

function dataset(n: number) {
  const x = new Float32Array(n * 2 * 3 * 3);
  for (let i = 0; i < x.length; i++) x[i] = i;
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) y[i] = i;
  return { x: { data: x, shape: [2, 3, 3] }, y: { data: y, shape: [] } };
}

describe("Rng", () => {
  it("is deterministic and seed-sensitive", () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const sa = Array.from({ length: 5 }, () => a.nextU32());
    expect(Array.from({ length: 5 }, () => b.nextU32())).toEqual(sa);
    expect(Array.from({ length: 5 }, () => c.nextU32())).not.toEqual(sa);
    expect(hashSeed(1, 2)).not.toBe(hashSeed(2, 1));
  });

  it("gives uniform-looking floats and ints, and valid permutations", () => {
    const r = new Rng(7);
    let sum = 0;
    for (let i = 0; i < 10000; i++) {
      const f = r.float();
      expect(f).toBeGreaterThanOrEqual(0);
      expect(f).toBeLessThan(1);
      sum += f;
    }
    expect(sum / 10000).toBeCloseTo(0.5, 1);
    const counts = [0, 0, 0];
    for (let i = 0; i < 3000; i++) counts[r.int(3)]++;
    for (const c of counts) expect(c).toBeGreaterThan(900);
    const p = Array.from(r.permutation(50)).sort((a, b) => a - b);
    expect(p).toEqual(Array.from({ length: 50 }, (_, i) => i));
    const s = r.state();
    const v = r.nextU32();
    expect(new Rng(s).nextU32()).toBe(v);
  });
});

describe("BatchSource", () => {
  it("gathers fields consistently and covers every item once per epoch", () => {
    const src = new BatchSource({ n: 10, fields: dataset(10), batch: 5, seed: 1 });
    const seen: number[] = [];
    for (let k = 0; k < 2; k++) {
      const b = src.next();
      expect(b.x.length).toBe(5 * 18);
      expect(b.count).toBe(5);
      for (let i = 0; i < 5; i++) {
        expect(b.y[i]).toBe(b.indices[i]);
        expect(b.x[i * 18]).toBe(b.y[i] * 18);
      }
      seen.push(...b.y);
    }
    expect(seen.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(src.state()).toEqual({ epoch: 1, cursor: 0 });
  });

  it("is deterministic from the seed and reshuffles each epoch", () => {
    const take = (seed: number) => {
      const s = new BatchSource({ n: 10, fields: dataset(10), batch: 10, seed });
      return [Array.from(s.next().y), Array.from(s.next().y)];
    };
    const [e0, e1] = take(3);
    expect(take(3)).toEqual([e0, e1]);
    expect(e0).not.toEqual(e1);
    expect(take(4)[0]).not.toEqual(e0);
  });

  it("resumes exactly from state() (including augmentation)", () => {
    const mk = () =>
      new BatchSource({
        n: 7,
        fields: dataset(7),
        batch: 3,
        seed: 9,
        augment: { x: imageAugment({ flip: true, pad: 1 }) },
      });
    const a = mk();
    for (let i = 0; i < 4; i++) a.next();
    const st = a.state();
    const want = [a.next(), a.next()];
    const b = mk();
    b.restore(st);
    const got = [b.next(), b.next()];
    expect(got.map((g) => Array.from(g.y))).toEqual(want.map((w) => Array.from(w.y)));
    expect(got.map((g) => Array.from(g.x))).toEqual(want.map((w) => Array.from(w.x)));
    expect(() => b.restore({ epoch: 0, cursor: 7 })).toThrow(/cursor/);
  });

  it("crosses epochs when the dataset is smaller than the batch", () => {
    const s = new BatchSource({ n: 3, fields: dataset(3), batch: 8, seed: 0 });
    const b = s.next();
    expect(b.y.length).toBe(8);
    expect(s.state()).toEqual({ epoch: 2, cursor: 2 });
  });

  it("iterates an eval epoch in order with a partial or padded last batch", () => {
    const s = new BatchSource({ n: 7, fields: dataset(7), batch: 3, shuffle: false });
    const plain = [...s.epoch()];
    expect(plain.map((b) => b.count)).toEqual([3, 3, 1]);
    expect(Array.from(plain[2].y)).toEqual([6]);
    const padded = [...s.epoch({ pad: true })];
    expect(padded[2].count).toBe(1);
    expect(padded[2].y.length).toBe(3);
    expect(Array.from(padded[2].y)).toEqual([6, 0, 0]);
    expect(s.state()).toEqual({ epoch: 0, cursor: 0 }); // eval never moves training state
  });

  it("validates its inputs", () => {
    expect(() => new BatchSource({ n: 4, fields: dataset(3), batch: 2 })).toThrow(
      /field "x" has 54 values/,
    );
    expect(
      () =>
        new BatchSource({
          n: 3,
          fields: { count: { data: new Int32Array(3), shape: [] } },
          batch: 2,
        }),
    ).toThrow(/reserved/);
  });
});

describe("imageAugment", () => {
  it("flips horizontally and edge-pads crops", () => {
    const item = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]); // [1, 3, 3]
    // Find a seed whose draw is a pure flip (dx = dy = 0).
    const flipOnly = imageAugment({ flip: true });
    for (let seed = 0; seed < 20; seed++) {
      const r = new Rng(seed);
      const probe = new Rng(seed);
      const willFlip = probe.int(2) === 1;
      const v = item.slice();
      flipOnly(v, [1, 3, 3], r);
      expect(Array.from(v)).toEqual(willFlip ? [3, 2, 1, 6, 5, 4, 9, 8, 7] : Array.from(item));
    }
    const crop = imageAugment({ pad: 1 });
    for (let seed = 0; seed < 20; seed++) {
      const v = item.slice();
      crop(v, [1, 3, 3], new Rng(seed));
      for (const x of v) expect(item).toContain(x); // edge fill never invents values
    }
  });
});
