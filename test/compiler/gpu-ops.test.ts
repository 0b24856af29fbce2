// Every op, forward and backward, compiled to WGSL and run on Dawn and compiled to C++ and
// run on the native target, against the float64 reference interpreter, on odd
// (non-multiple-of-4) shapes.
import { describe, expect, it } from "vitest";
import { grad } from "../../compiler/autodiff.ts";
import type { Feeds } from "../../compiler/interpret.ts";
import { Graph, type TensorType } from "../../compiler/ir.ts";
import "../../compiler/ops/index.ts";
import type { Device } from "../../runtime/device.ts";
import { TARGETS, useDevice } from "../gpu-fixture.ts";
import { compareOutputs, runOnGpu } from "./gpu-harness.ts";
import { randomTensor, rng } from "./helpers.ts";

const f = (...shape: number[]): TensorType => ({ dtype: "f32", shape });
const i32 = (...shape: number[]): TensorType => ({ dtype: "i32", shape });

type Build = (g: Graph, xs: number[]) => number;
interface Case {
  name: string;
  types: TensorType[];
  build: Build;
  lo?: number;
  hi?: number;
}

const cases: Case[] = [
  ...["neg", "exp", "tanh", "sigmoid", "relu", "silu", "gelu", "abs", "sin", "cos", "square"].map(
    (op) => ({
      name: op,
      types: [f(3, 7)],
      build: ((g, [x]) => g.op(op, [x])) as Build,
    }),
  ),
  ...["log", "sqrt", "rsqrt", "recip"].map((op) => ({
    name: op,
    types: [f(5, 3)],
    build: ((g, [x]) => g.op(op, [x])) as Build,
    lo: 0.5,
    hi: 2,
  })),
  ...["add", "sub", "mul", "maximum", "minimum"].map((op) => ({
    name: op,
    types: [f(2, 3, 5), f(3, 1)],
    build: ((g, [x, y]) => g.op(op, [x, y])) as Build,
  })),
  { name: "div", types: [f(3, 5), f(5)], build: (g, [x, y]) => g.div(x, y), lo: 0.5, hi: 2 },
  {
    name: "pow",
    types: [f(3, 5), f(3, 5)],
    build: (g, [x, y]) => g.op("pow", [x, y]),
    lo: 0.5,
    hi: 2,
  },
  {
    name: "where/gt",
    types: [f(3, 5), f(3, 5), f(5)],
    build: (g, [c, a, b]) => g.op("where", [g.op("gt", [c, g.const(0)]), a, b]),
  },
  { name: "reshape", types: [f(2, 3, 5)], build: (g, [x]) => g.op("exp", [g.reshape(x, [5, 6])]) },
  {
    name: "transpose",
    types: [f(2, 3, 5)],
    build: (g, [x]) => g.op("exp", [g.transpose(x, [2, 0, 1])]),
  },
  {
    name: "broadcast",
    types: [f(3, 1)],
    build: (g, [x]) => g.op("exp", [g.broadcast(x, [2, 3, 5])]),
  },
  {
    name: "slice",
    types: [f(5, 7)],
    build: (g, [x]) => g.op("exp", [g.op("slice", [x], { start: [1, 2], end: [4, 7] })]),
  },
  {
    name: "pad",
    types: [f(3, 5)],
    build: (g, [x]) => g.op("exp", [g.op("pad", [x], { before: [1, 0], after: [2, 3] })]),
  },
  {
    name: "concat",
    types: [f(3, 5), f(3, 2)],
    build: (g, [x, y]) => g.op("concat", [x, y], { axis: 1 }),
  },
  { name: "sum", types: [f(3, 5, 7)], build: (g, [x]) => g.sum(x, [0, 2], false) },
  {
    name: "sum keepdims",
    types: [f(3, 5, 7)],
    build: (g, [x]) => g.sum(g.op("exp", [x]), [1], true),
  },
  {
    name: "sum split (few outputs, many elements)",
    types: [f(3, 37, 41)],
    build: (g, [x]) => g.sum(g.op("square", [x]), [1, 2], false),
  },
  { name: "full sum split", types: [f(33, 65)], build: (g, [x]) => g.sum(x, [0, 1], false) },
  {
    name: "max split",
    types: [f(2, 3000)],
    build: (g, [x]) => g.op("max", [x], { axes: [1], keepdims: true }),
  },
  {
    name: "max",
    types: [f(5, 7)],
    build: (g, [x]) => g.op("max", [x], { axes: [1], keepdims: false }),
  },
  { name: "matmul", types: [f(7, 5), f(5, 9)], build: (g, [a, b]) => g.op("matmul", [a, b]) },
  {
    name: "matmul aligned",
    types: [f(16, 32), f(32, 8)],
    build: (g, [a, b]) => g.op("matmul", [a, b]),
  },
  {
    name: "matmul transA",
    types: [f(5, 7), f(5, 9)],
    build: (g, [a, b]) => g.op("matmul", [a, b], { transA: true }),
  },
  {
    name: "matmul transB",
    types: [f(7, 5), f(9, 5)],
    build: (g, [a, b]) => g.op("matmul", [a, b], { transB: true }),
  },
  {
    name: "matmul batched",
    types: [f(3, 7, 5), f(3, 5, 6)],
    build: (g, [a, b]) => g.op("matmul", [a, b]),
  },
  {
    name: "matmul shared weight",
    types: [f(2, 7, 5), f(5, 6)],
    build: (g, [a, b]) => g.op("matmul", [a, b]),
  },
  {
    name: "conv2d",
    types: [f(2, 3, 7, 7), f(5, 3, 3, 3)],
    build: (g, [x, w]) => g.op("conv2d", [x, w], { stride: 1, pad: 1 }),
  },
  {
    name: "conv2d stride 2",
    types: [f(2, 3, 9, 8), f(4, 3, 3, 3)],
    build: (g, [x, w]) => g.op("conv2d", [x, w], { stride: 2, pad: 1 }),
  },
  {
    name: "conv2d direct (stride 1, same, W % 4 == 0)",
    types: [f(2, 5, 8, 12), f(6, 5, 3, 3)],
    build: (g, [x, w]) => g.op("conv2d", [x, w], { stride: 1, pad: 1 }),
  },
  {
    name: "conv2d direct + bias + relu epilogue",
    types: [f(2, 4, 8, 8), f(4, 4, 3, 3), f(4, 1, 1)],
    build: (g, [x, w, b]) =>
      g.op("relu", [g.add(g.op("conv2d", [x, w], { stride: 1, pad: 1 }), b)]),
  },
  {
    name: "conv2d 1x1",
    types: [f(2, 5, 6, 6), f(3, 5, 1, 1)],
    build: (g, [x, w]) => g.op("conv2d", [x, w], { stride: 1, pad: 0 }),
  },
  {
    name: "softmax",
    types: [f(5, 7)],
    build: (g, [x]) => {
      const m = g.broadcast(g.op("max", [x], { axes: [1], keepdims: true }), [5, 7]);
      const e = g.op("exp", [g.sub(x, m)]);
      return g.div(e, g.broadcast(g.sum(e, [1], true), [5, 7]));
    },
  },
  {
    // Rows of 37 split into ragged chunks (13, 13, 11): the row-run layout, whose per-row
    // operands (max, sum) are loaded once per chunk.
    name: "softmax, long rows (row-run layout)",
    types: [f(3, 37)],
    build: (g, [x]) => {
      const m = g.broadcast(g.op("max", [x], { axes: [1], keepdims: true }), [3, 37]);
      const e = g.op("exp", [g.sub(x, m)]);
      return g.div(e, g.broadcast(g.sum(e, [1], true), [3, 37]));
    },
  },
  {
    name: "per-row scale and shift over a 3-d tensor (row-run layout)",
    types: [f(2, 3, 19), f(2, 3, 1), f(3, 1)],
    build: (g, [x, a, b]) =>
      g.op("tanh", [g.add(g.mul(g.sub(x, g.broadcast(g.sum(x, [2], true), [2, 3, 19])), a), b)]),
  },
  {
    // A group norm's shape: channels regrouped by a reshape, per-group statistics.
    name: "reshape into groups, per-group centering (flat-index aliasing)",
    types: [f(2, 6, 12), f(6, 1)],
    build: (g, [x, w]) => {
      const xg = g.reshape(x, [2, 3, 24]);
      const c = g.sub(xg, g.broadcast(g.sum(xg, [2], true), [2, 3, 24]));
      return g.mul(g.reshape(g.op("square", [c]), [2, 6, 12]), g.broadcast(w, [2, 6, 12]));
    },
  },
  {
    name: "reduction with a per-output operand hoisted out of its loop",
    types: [f(4, 9, 11), f(4, 1, 1)],
    build: (g, [x, y]) => g.sum(g.mul(g.op("exp", [x]), g.broadcast(y, [4, 9, 11])), [1, 2], true),
  },
];

async function check(gpu: () => Device, c: Case, backward: boolean) {
  const r = rng(11);
  const g = new Graph();
  const xs = c.types.map((t, i) => g.input(`x${i}`, t));
  const y = c.build(g, xs);
  const feeds: Feeds = new Map();
  c.types.forEach((t, i) => feeds.set(`x${i}`, randomTensor(r, t, c.lo ?? -1, c.hi ?? 1)));
  if (!backward) {
    g.outputs.set("y", y);
  } else {
    const u = g.input("u", { dtype: "f32", shape: g.shape(y) });
    feeds.set("u", randomTensor(r, g.type(u)));
    const loss = g.sum(
      g.mul(y, u),
      g.shape(y).map((_, i) => i),
    );
    const fx = xs.filter((x) => g.type(x).dtype === "f32");
    grad(g, loss, fx).forEach((d, k) => g.outputs.set(`d${k}`, d));
  }
  const got = await runOnGpu(gpu(), g, feeds);
  return compareOutputs(g, feeds, got);
}

describe.each(TARGETS)("%s kernels match the float64 reference", (target) => {
  const gpu = useDevice(target);
  for (const c of cases) {
    it(`${c.name} forward`, async () => expect(await check(gpu, c, false)).toBeLessThan(2e-5));
    it(`${c.name} backward`, async () => expect(await check(gpu, c, true)).toBeLessThan(1e-4));
  }

  it("gather and its derivative (a one-hot matmul)", async () => {
    const g = new Graph();
    const t = g.input("t", f(6, 5));
    const ids = g.input("ids", i32(3, 4));
    const y = g.op("gather", [t, ids]);
    const u = g.input("u", f(3, 4, 5));
    const [dt] = grad(g, g.sum(g.mul(y, u), [0, 1, 2]), [t]);
    g.outputs.set("y", y);
    g.outputs.set("dt", dt);
    const r = rng(3);
    const feeds: Feeds = new Map([
      ["t", randomTensor(r, f(6, 5))],
      [
        "ids",
        {
          dtype: "i32",
          shape: [3, 4],
          data: Float64Array.from([0, 5, 2, 2, 1, 0, 3, 5, 5, 4, 1, 0]),
        },
      ],
      ["u", randomTensor(r, f(3, 4, 5))],
    ]);
    expect(compareOutputs(g, feeds, await runOnGpu(gpu(), g, feeds))).toBeLessThan(1e-5);
  });

  it("where with an i32 condition", async () => {
    const g = new Graph();
    const c = g.input("c", i32(2, 5));
    const a = g.input("a", f(2, 5));
    g.outputs.set("y", g.op("where", [c, a, g.const(-1)]));
    const feeds: Feeds = new Map([
      [
        "c",
        { dtype: "i32", shape: [2, 5], data: Float64Array.from([0, 1, 2, 0, -3, 1, 0, 0, 7, 1]) },
      ],
      ["a", randomTensor(rng(2), f(2, 5))],
    ]);
    expect(compareOutputs(g, feeds, await runOnGpu(gpu(), g, feeds))).toBeLessThan(1e-6);
  });

  it("argmax, iota, rand and randn are exact", async () => {
    const g = new Graph();
    const x = g.input("x", f(4, 7));
    const seed = g.input("seed", i32());
    g.outputs.set("am", g.op("argmax", [x], { axis: 1 }));
    g.outputs.set("io", g.op("iota", [], { shape: [3, 5], axis: 1, dtype: "i32" }));
    g.outputs.set("rn", g.op("randn", [seed], { shape: [2, 33], stream: 3 }));
    g.outputs.set("ru", g.op("rand", [seed], { shape: [3, 7], stream: 4 }));
    const feeds: Feeds = new Map([
      ["x", randomTensor(rng(5), f(4, 7))],
      ["seed", { dtype: "i32", shape: [], data: Float64Array.from([12345]) }],
    ]);
    expect(compareOutputs(g, feeds, await runOnGpu(gpu(), g, feeds))).toBeLessThan(1e-5);
  });

  it("a wrong kernel is caught (the comparison can fail)", async () => {
    const g = new Graph();
    const x = g.input("x", f(5));
    g.outputs.set("y", g.op("exp", [x]));
    const feeds: Feeds = new Map([["x", randomTensor(rng(1), f(5))]]);
    const got = await runOnGpu(gpu(), g, feeds);
    (got.get("y") as Float32Array)[2] += 0.01;
    expect(compareOutputs(g, feeds, got)).toBeGreaterThan(1e-3);
  });
});
