import { describe, expect, it } from "vitest";
import type { Graph } from "../../compiler/ir.ts";
import { getOp } from "../../compiler/ops/index.ts";
import { checkVjp } from "./helpers.ts";

const f = (...shape: number[]) => ({ dtype: "f32" as const, shape });
const i32 = (...shape: number[]) => ({ dtype: "i32" as const, shape });

type Case = [
  string,
  ReturnType<typeof f>[],
  (g: Graph, xs: number[]) => number,
  { lo?: number; hi?: number }?,
];

const unary = [
  "neg",
  "exp",
  "tanh",
  "sigmoid",
  "relu",
  "silu",
  "gelu",
  "abs",
  "sin",
  "cos",
  "square",
];
const positive = ["log", "sqrt", "rsqrt", "recip"];

const cases: Case[] = [
  ...unary.map((op): Case => [op, [f(3, 5)], (g, [x]) => g.op(op, [x])]),
  ...positive.map((op): Case => [op, [f(4, 3)], (g, [x]) => g.op(op, [x]), { lo: 0.5, hi: 2 }]),
  ...["add", "sub", "mul", "maximum", "minimum"].map((op): Case => [
    op,
    [f(2, 3, 4), f(3, 1)],
    (g, [x, y]) => g.op(op, [x, y]),
  ]),
  ["div", [f(3, 4), f(4)], (g, [x, y]) => g.div(x, y), { lo: 0.5, hi: 2 }],
  ["pow", [f(3, 4), f(3, 4)], (g, [x, y]) => g.op("pow", [x, y]), { lo: 0.5, hi: 2 }],
  [
    "where",
    [f(3, 4), f(3, 4), f(4)],
    (g, [c, a, b]) => g.op("where", [g.op("gt", [c, g.const(0)]), a, b]),
  ],
  ["reshape", [f(2, 6)], (g, [x]) => g.reshape(x, [3, 4])],
  ["transpose", [f(2, 3, 4)], (g, [x]) => g.transpose(x, [2, 0, 1])],
  ["broadcast", [f(3, 1)], (g, [x]) => g.broadcast(x, [2, 3, 5])],
  ["slice", [f(4, 5)], (g, [x]) => g.op("slice", [x], { start: [1, 0], end: [3, 4] })],
  ["pad", [f(2, 3)], (g, [x]) => g.op("pad", [x], { before: [1, 0], after: [0, 2] })],
  ["concat", [f(2, 3), f(2, 2)], (g, [x, y]) => g.op("concat", [x, y], { axis: 1 })],
  ["sum", [f(2, 3, 4)], (g, [x]) => g.sum(x, [0, 2], false)],
  ["sum keepdims", [f(2, 3, 4)], (g, [x]) => g.sum(x, [1], true)],
  ["max", [f(3, 5)], (g, [x]) => g.op("max", [x], { axes: [1], keepdims: false })],
  ["matmul", [f(3, 4), f(4, 5)], (g, [a, b]) => g.op("matmul", [a, b])],
  ["matmul transA", [f(4, 3), f(4, 5)], (g, [a, b]) => g.op("matmul", [a, b], { transA: true })],
  ["matmul transB", [f(3, 4), f(5, 4)], (g, [a, b]) => g.op("matmul", [a, b], { transB: true })],
  [
    "matmul transA transB",
    [f(4, 3), f(5, 4)],
    (g, [a, b]) => g.op("matmul", [a, b], { transA: true, transB: true }),
  ],
  ["matmul batched", [f(2, 3, 4), f(2, 4, 5)], (g, [a, b]) => g.op("matmul", [a, b])],
  ["matmul shared weight", [f(2, 3, 4), f(4, 5)], (g, [a, b]) => g.op("matmul", [a, b])],
  [
    "matmul shared weight transB",
    [f(2, 3, 4), f(5, 4)],
    (g, [a, b]) => g.op("matmul", [a, b], { transB: true }),
  ],
  [
    "conv2d",
    [f(2, 3, 5, 5), f(4, 3, 3, 3)],
    (g, [x, w]) => g.op("conv2d", [x, w], { stride: 1, pad: 1 }),
  ],
  [
    "conv2d stride 2",
    [f(1, 2, 7, 6), f(3, 2, 3, 3)],
    (g, [x, w]) => g.op("conv2d", [x, w], { stride: 2, pad: 1 }),
  ],
  [
    "conv2d 1x1 no pad",
    [f(2, 3, 4, 4), f(2, 3, 1, 1)],
    (g, [x, w]) => g.op("conv2d", [x, w], { stride: 1, pad: 0 }),
  ],
  [
    "conv2d_grad_input",
    [f(1, 3, 4, 4), f(3, 2, 3, 3)],
    (g, [dy, w]) => g.op("conv2d_grad_input", [dy, w], { stride: 1, pad: 1, shape: [1, 2, 4, 4] }),
  ],
];

describe("reverse-mode derivative rules match central finite differences (float64)", () => {
  for (const [name, types, build, range] of cases) {
    it(name, () => {
      expect(checkVjp(types, build, range)).toBeLessThan(1e-6);
    });
  }

  it("gather (embedding lookup)", () => {
    const err = checkVjp([f(5, 3), i32(2, 4)], (g, [t, ids]) => g.op("gather", [t, ids]), {
      values: [
        {
          dtype: "f32",
          shape: [5, 3],
          data: Float64Array.from({ length: 15 }, (_, i) => Math.sin(i)),
        },
        { dtype: "i32", shape: [2, 4], data: Float64Array.from([0, 4, 2, 2, 1, 0, 3, 4]) },
      ],
    });
    expect(err).toBeLessThan(1e-6);
  });

  it("a composite: softmax cross-entropy", () => {
    const err = checkVjp([f(4, 6)], (g, [x]) => {
      const m = g.broadcast(g.op("max", [x], { axes: [1], keepdims: true }), [4, 6]);
      const e = g.op("exp", [g.sub(x, m)]);
      const s = g.broadcast(g.sum(e, [1], true), [4, 6]);
      return g.op("log", [g.div(e, s)]);
    });
    expect(err).toBeLessThan(1e-6);
  });

  it("detects a wrong derivative (the check can fail)", () => {
    const sin = getOp("sin");
    const right = sin.vjp;
    // Claim d/dx sin(x) = sin(x): the check must catch it.
    sin.vjp = (g, node, cot) => [g.mul(cot, node.id)];
    try {
      expect(checkVjp([f(6)], (g, [x]) => g.op("sin", [x]))).toBeGreaterThan(1e-2);
    } finally {
      sin.vjp = right;
    }
  });
});
