// Built-ins that map (nearly) one-to-one onto IR primitives: elementwise math, shape
// manipulation (reshape, slice, matmul, conv2d ...) and reductions over axes.
import { axis } from "../ir.ts";
import { type Builtin, T, tensorParam } from "./builtin-def.ts";
import type { Elaborator } from "./elaborator.ts";
import { int } from "./values.ts";

export const tensorBuiltins: Record<string, Builtin> = {};

function def(name: string, b: Builtin) {
  tensorBuiltins[name] = b;
}

// ---- elementwise math
const unaryMath: Record<string, [string, (x: number) => number]> = {
  exp: ["e^x", Math.exp],
  log: ["natural log", Math.log],
  sqrt: ["square root", Math.sqrt],
  rsqrt: ["1/sqrt(x)", (x) => 1 / Math.sqrt(x)],
  tanh: ["hyperbolic tangent", Math.tanh],
  sigmoid: ["logistic sigmoid", (x) => 1 / (1 + Math.exp(-x))],
  relu: ["max(x, 0)", (x) => Math.max(x, 0)],
  silu: ["x·sigmoid(x)", (x) => x / (1 + Math.exp(-x))],
  gelu: ["GELU (tanh approximation)", (x) => x],
  abs: ["|x|", Math.abs],
  sin: ["sine", Math.sin],
  cos: ["cosine", Math.cos],
  square: ["x²", (x) => x * x],
};
for (const [name, [doc, f]] of Object.entries(unaryMath)) {
  def(name, {
    params: [tensorParam("x")],
    doc,
    example: `${name}(x)`,
    scalar: name === "gelu" ? undefined : ([x]) => f(x),
    impl: (el, a, at) => T(el.at(at, () => el.g.op(name, [a.x as number]))),
  });
}
def("maximum", {
  params: [tensorParam("x"), tensorParam("y")],
  doc: "elementwise maximum",
  example: "maximum(x, 0.1 * x)",
  scalar: ([x, y]) => Math.max(x, y),
  impl: (el, a, at) => T(el.at(at, () => el.g.op("maximum", [a.x as number, a.y as number]))),
});
def("minimum", {
  params: [tensorParam("x"), tensorParam("y")],
  doc: "elementwise minimum",
  example: "minimum(x, 6)",
  scalar: ([x, y]) => Math.min(x, y),
  impl: (el, a, at) => T(el.at(at, () => el.g.op("minimum", [a.x as number, a.y as number]))),
});
def("where", {
  params: [tensorParam("cond"), tensorParam("x"), tensorParam("y")],
  doc: "x where cond != 0, else y",
  example: "where(x > 0, x, 0)",
  impl: (el, a, at) =>
    T(el.at(at, () => el.g.op("where", [a.cond as number, a.x as number, a.y as number]))),
});

// ---- shapes
def("reshape", {
  params: [tensorParam("x"), { name: "shape", kind: "ints" }],
  doc: "same elements, new shape (one dim may be -1)",
  example: "reshape(x, [B, -1])",
  impl: (el, a, at) => T(el.at(at, () => el.g.reshape(a.x as number, a.shape as number[]))),
});
def("transpose", {
  params: [tensorParam("x"), { name: "perm", kind: "ints" }],
  doc: "permute axes",
  example: "transpose(x, [0, 2, 1])",
  impl: (el, a, at) => T(el.at(at, () => el.g.transpose(a.x as number, a.perm as number[]))),
});
def("broadcast", {
  params: [tensorParam("x"), { name: "shape", kind: "ints" }],
  doc: "repeat size-1 axes",
  example: "broadcast(b, [B, C])",
  impl: (el, a, at) => T(el.at(at, () => el.g.broadcast(a.x as number, a.shape as number[]))),
});
def("slice", {
  params: [
    tensorParam("x"),
    { name: "axis", kind: "int" },
    { name: "start", kind: "int" },
    { name: "end", kind: "int" },
  ],
  doc: "the elements start <= i < end along one axis",
  example: "slice(qkv, axis: -1, start: 0, end: C)",
  impl: (el, a, at) =>
    T(
      el.at(at, () => {
        const s = el.g.shape(a.x as number);
        const ax = axis(a.axis as number, s.length);
        const start = s.map((_, i) => (i === ax ? (a.start as number) : 0));
        const end = s.map((d, i) => (i === ax ? (a.end as number) : d));
        return el.g.op("slice", [a.x as number], { start, end });
      }),
    ),
});
def("concat", {
  params: [
    { name: "xs", kind: "tensors" },
    { name: "axis", kind: "int", default: int(0) },
  ],
  doc: "join tensors along an axis",
  example: "concat([h, skip], axis: 1)",
  impl: (el, a, at) =>
    T(el.at(at, () => el.g.op("concat", a.xs as number[], { axis: a.axis as number }))),
});
def("matmul", {
  params: [
    tensorParam("a"),
    tensorParam("b"),
    { name: "transA", kind: "bool", default: { kind: "bool", value: false } },
    { name: "transB", kind: "bool", default: { kind: "bool", value: false } },
  ],
  doc: "batched matrix product, optionally with transposed operands",
  example: "matmul(q, k, transB: true)",
  impl: (el, a, at) =>
    T(
      el.at(at, () =>
        el.g.op("matmul", [a.a as number, a.b as number], {
          transA: a.transA as boolean,
          transB: a.transB as boolean,
        }),
      ),
    ),
});
def("conv2d", {
  params: [
    tensorParam("x"),
    tensorParam("w"),
    { name: "stride", kind: "int", default: int(1) },
    { name: "pad", kind: "int", default: int(0) },
  ],
  doc: "2-D convolution, NCHW input and OIHW weights",
  example: "conv2d(x, w, stride: 1, pad: 1)",
  impl: (el, a, at) =>
    T(
      el.at(at, () =>
        el.g.op("conv2d", [a.x as number, a.w as number], {
          stride: a.stride as number,
          pad: a.pad as number,
        }),
      ),
    ),
});
def("embed", {
  params: [tensorParam("ids"), tensorParam("table")],
  doc: "embedding lookup: rows of table [V, D] at i32 ids",
  example: "embed(tokens, table)",
  impl: (el, a, at) => T(el.at(at, () => el.g.op("gather", [a.table as number, a.ids as number]))),
});

// ---- reductions
const axesParams = [
  tensorParam("x"),
  { name: "axes", kind: "ints" as const, default: { kind: "list" as const, items: [] } },
  { name: "keepdims", kind: "bool" as const, default: { kind: "bool" as const, value: false } },
];
function axesOf(el: Elaborator, x: number, axes: number[]): number[] {
  const r = el.g.shape(x).length;
  return axes.length ? axes.map((k) => axis(k, r)) : Array.from({ length: r }, (_, i) => i);
}
def("sum", {
  params: axesParams,
  doc: "sum over axes (all when omitted)",
  example: "sum(x, axes: [1])",
  impl: (el, a, at) =>
    T(
      el.at(at, () =>
        el.g.sum(
          a.x as number,
          axesOf(el, a.x as number, a.axes as number[]),
          a.keepdims as boolean,
        ),
      ),
    ),
});
def("mean", {
  params: axesParams,
  doc: "mean over axes (all when omitted)",
  example: "mean(x, axes: [-1], keepdims: true)",
  impl: (el, a, at) =>
    T(
      el.at(at, () =>
        mean(
          el,
          a.x as number,
          axesOf(el, a.x as number, a.axes as number[]),
          a.keepdims as boolean,
        ),
      ),
    ),
});
def("max", {
  params: axesParams,
  doc: "maximum over axes",
  example: "max(x, axes: [-1])",
  impl: (el, a, at) =>
    T(
      el.at(at, () =>
        el.g.op("max", [a.x as number], {
          axes: axesOf(el, a.x as number, a.axes as number[]),
          keepdims: a.keepdims as boolean,
        }),
      ),
    ),
});
def("argmax", {
  params: [tensorParam("x"), { name: "axis", kind: "int", default: int(-1) }],
  doc: "index of the maximum along an axis (i32)",
  example: "argmax(logits)",
  impl: (el, a, at) =>
    T(el.at(at, () => el.g.op("argmax", [a.x as number], { axis: a.axis as number }))),
});

/** Sum over axes, scaled by the number of elements summed (also used by the composites). */
export function mean(el: Elaborator, x: number, axes: number[], keepdims: boolean): number {
  const s = el.g.shape(x);
  const n = axes.reduce((p, k) => p * s[k], 1);
  return el.g.scale(el.g.sum(x, axes, keepdims), 1 / n);
}
