// Reductions over a set of axes, and argmax.
import { axis, numel, ShapeError, stridesOf, type TensorType } from "../ir.ts";
import { defineOp, type Tensor64 } from "./registry.ts";
import { forEachIndex } from "./view.ts";

function reducedShape(x: TensorType, axes: number[], keepdims: boolean): number[] {
  const ax = new Set(axes.map((a) => axis(a, x.shape.length)));
  if (ax.size !== axes.length)
    throw new ShapeError(`reduction axes [${axes.join(", ")}] repeat an axis`);
  return keepdims
    ? x.shape.map((d, i) => (ax.has(i) ? 1 : d))
    : x.shape.filter((_, i) => !ax.has(i));
}

function reduceRef(
  x: Tensor64,
  axes: number[],
  out: TensorType,
  init: number,
  f: (a: number, b: number) => number,
): Float64Array {
  const ax = new Set(axes.map((a) => axis(a, x.shape.length)));
  const keptShape = x.shape.map((d, i) => (ax.has(i) ? 1 : d));
  const ks = stridesOf(keptShape);
  const data = new Float64Array(numel(out.shape)).fill(init);
  forEachIndex(x.shape, (idx, flat) => {
    let o = 0;
    for (let i = 0; i < idx.length; i++) if (!ax.has(i)) o += idx[i] * ks[i];
    data[o] = f(data[o], x.data[flat]);
  });
  return data;
}

defineOp({
  name: "sum",
  kind: "reduce",
  doc: {
    summary: "sum over `axes` (all axes when omitted)",
    semantics: "With keepdims the reduced axes stay as size 1.",
    example: "sum(x, axes: [1], keepdims: true)",
  },
  infer: ([x], attrs) => ({
    dtype: x.dtype,
    shape: reducedShape(x, attrs.axes as number[], attrs.keepdims as boolean),
  }),
  reference: ([x], attrs, out) => ({
    ...out,
    data: reduceRef(x, attrs.axes as number[], out, 0, (a, b) => a + b),
  }),
  vjp: (g, node, cot) => {
    const xs = g.shape(node.inputs[0]);
    const keep = xs.map((d, i) =>
      (node.attrs.axes as number[]).map((a) => axis(a, xs.length)).includes(i) ? 1 : d,
    );
    return [g.broadcast(g.reshape(cot, keep), xs)];
  },
});

defineOp({
  name: "max",
  kind: "reduce",
  doc: {
    summary: "maximum over `axes`",
    semantics: "The derivative is split evenly between tied maxima.",
    example: "max(x, axes: [-1], keepdims: true)",
  },
  infer: ([x], attrs) => ({
    dtype: x.dtype,
    shape: reducedShape(x, attrs.axes as number[], attrs.keepdims as boolean),
  }),
  reference: ([x], attrs, out) => ({
    ...out,
    data: reduceRef(x, attrs.axes as number[], out, -Infinity, Math.max),
  }),
  vjp: (g, node, cot) => {
    const x = node.inputs[0];
    const xs = g.shape(x);
    const ax = (node.attrs.axes as number[]).map((a) => axis(a, xs.length));
    const keep = xs.map((d, i) => (ax.includes(i) ? 1 : d));
    const m = g.broadcast(g.reshape(node.id, keep), xs);
    const mask = g.op("eq", [x, m]);
    const count = g.broadcast(g.sum(mask, ax, true), xs);
    return [g.div(g.mul(mask, g.broadcast(g.reshape(cot, keep), xs)), count)];
  },
});

defineOp({
  name: "argmax",
  kind: "reduce",
  doc: {
    summary: "index of the first maximum along `axis` (i32)",
    example: "argmax(logits, axis: -1)",
  },
  infer: ([x], attrs) => ({ dtype: "i32", shape: reducedShape(x, [attrs.axis as number], false) }),
  reference: ([x], attrs, out) => {
    const a = axis(attrs.axis as number, x.shape.length);
    const n = x.shape[a];
    const inner = numel(x.shape.slice(a + 1));
    const outer = numel(x.shape.slice(0, a));
    const data = new Float64Array(outer * inner);
    for (let o = 0; o < outer; o++)
      for (let k = 0; k < inner; k++) {
        let best = 0;
        for (let j = 1; j < n; j++)
          if (x.data[(o * n + j) * inner + k] > x.data[(o * n + best) * inner + k]) best = j;
        data[o * inner + k] = best;
      }
    return { ...out, data };
  },
  vjp: () => [null],
});
