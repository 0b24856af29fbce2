// View ops change how elements are indexed, not their values. The codegen folds them into
// the index arithmetic of whichever kernel reads them, so they cost no memory traffic.
import {
  axis,
  broadcastShapes,
  numel,
  sameShape,
  ShapeError,
  stridesOf,
  type TensorType,
} from "../ir.ts";
import { defineOp, type Tensor64 } from "./registry.ts";

const show = (s: readonly number[]) => `[${s.join(", ")}]`;

defineOp({
  name: "reshape",
  kind: "view",
  doc: {
    summary: "the same elements in row-major order under a new shape",
    constraints: ["the element counts match; one dim may be -1 (inferred)"],
    example: "reshape(x, [B, C * H * W])",
  },
  infer: ([x], attrs) => {
    const want = attrs.shape as number[];
    const known = want.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    const shape = want.map((d) => (d === -1 ? numel(x.shape) / known : d));
    if (numel(shape) !== numel(x.shape) || !shape.every(Number.isInteger)) {
      throw new ShapeError(
        `cannot reshape ${show(x.shape)} (${numel(x.shape)} elements) to ${show(want)}`,
      );
    }
    return { dtype: x.dtype, shape };
  },
  reference: ([x], _a, out) => ({ ...out, data: x.data }),
  vjp: (g, node, cot) => [g.reshape(cot, g.shape(node.inputs[0]))],
});

export function transposeShape(shape: readonly number[], perm: readonly number[]): number[] {
  return perm.map((p) => shape[p]);
}

defineOp({
  name: "transpose",
  kind: "view",
  doc: {
    summary: "permutes axes: output axis i is input axis perm[i]",
    example: "transpose(x, [0, 2, 1, 3])",
  },
  infer: ([x], attrs) => {
    const perm = attrs.perm as number[];
    const ok =
      perm.length === x.shape.length && [...perm].sort((a, b) => a - b).every((p, i) => p === i);
    if (!ok)
      throw new ShapeError(
        `transpose: ${show(perm)} is not a permutation of the ${x.shape.length} axes of ${show(x.shape)}`,
      );
    return { dtype: x.dtype, shape: transposeShape(x.shape, perm) };
  },
  reference: ([x], attrs, out) => {
    const perm = attrs.perm as number[];
    const inStrides = stridesOf(x.shape);
    const data = new Float64Array(x.data.length);
    forEachIndex(out.shape, (idx, flat) => {
      let src = 0;
      for (let i = 0; i < perm.length; i++) src += idx[i] * inStrides[perm[i]];
      data[flat] = x.data[src];
    });
    return { ...out, data };
  },
  vjp: (g, node, cot) => {
    const perm = node.attrs.perm as number[];
    const inv = perm.map((_, i) => perm.indexOf(i));
    return [g.transpose(cot, inv)];
  },
});

defineOp({
  name: "broadcast",
  kind: "view",
  doc: {
    summary: "repeats size-1 (or missing leading) axes up to `shape`",
    example: "broadcast(b, [N, O])",
  },
  infer: ([x], attrs) => {
    const shape = attrs.shape as number[];
    const b = broadcastShapes(x.shape, shape);
    if (!sameShape(b, shape))
      throw new ShapeError(`cannot broadcast ${show(x.shape)} to ${show(shape)}`);
    return { dtype: x.dtype, shape };
  },
  reference: ([x], _a, out) => ({ ...out, data: broadcastTo(x, out.shape) }),
  vjp: (g, node, cot) => [g.unbroadcast(cot, g.shape(node.inputs[0]))],
});

defineOp({
  name: "slice",
  kind: "view",
  doc: {
    summary: "the sub-block start[i] <= idx[i] < end[i] on every axis",
    example: "slice(qkv, start: [0, 0], end: [T, C])",
  },
  infer: ([x], attrs) => {
    const start = attrs.start as number[];
    const end = attrs.end as number[];
    if (start.length !== x.shape.length || end.length !== x.shape.length) {
      throw new ShapeError(`slice of ${show(x.shape)} needs ${x.shape.length} starts and ends`);
    }
    const shape = x.shape.map((d, i) => {
      if (!(0 <= start[i] && start[i] <= end[i] && end[i] <= d)) {
        throw new ShapeError(
          `slice ${start[i]}..${end[i]} is out of range for axis ${i} of size ${d}`,
        );
      }
      return end[i] - start[i];
    });
    return { dtype: x.dtype, shape };
  },
  reference: ([x], attrs, out) => {
    const start = attrs.start as number[];
    const st = stridesOf(x.shape);
    const data = new Float64Array(numel(out.shape));
    forEachIndex(out.shape, (idx, flat) => {
      let src = 0;
      for (let i = 0; i < idx.length; i++) src += (idx[i] + start[i]) * st[i];
      data[flat] = x.data[src];
    });
    return { ...out, data };
  },
  vjp: (g, node, cot) => {
    const xs = g.shape(node.inputs[0]);
    const start = node.attrs.start as number[];
    const end = node.attrs.end as number[];
    return [g.op("pad", [cot], { before: start, after: xs.map((d, i) => d - end[i]) })];
  },
});

defineOp({
  name: "pad",
  kind: "view",
  doc: {
    summary: "zero padding: before[i] zeros before and after[i] after axis i",
    example: "pad(x, before: [0, 1], after: [0, 1])",
  },
  infer: ([x], attrs) => {
    const before = attrs.before as number[];
    const after = attrs.after as number[];
    if (
      before.length !== x.shape.length ||
      after.length !== x.shape.length ||
      [...before, ...after].some((p) => p < 0)
    ) {
      throw new ShapeError(
        `pad of ${show(x.shape)} needs ${x.shape.length} non-negative befores and afters`,
      );
    }
    return { dtype: x.dtype, shape: x.shape.map((d, i) => d + before[i] + after[i]) };
  },
  reference: ([x], attrs, out) => {
    const before = attrs.before as number[];
    const st = stridesOf(x.shape);
    const data = new Float64Array(numel(out.shape));
    forEachIndex(out.shape, (idx, flat) => {
      let src = 0;
      for (let i = 0; i < idx.length; i++) {
        const j = idx[i] - before[i];
        if (j < 0 || j >= x.shape[i]) return;
        src += j * st[i];
      }
      data[flat] = x.data[src];
    });
    return { ...out, data };
  },
  vjp: (g, node, cot) => {
    const before = node.attrs.before as number[];
    const xs = g.shape(node.inputs[0]);
    return [g.op("slice", [cot], { start: before, end: xs.map((d, i) => d + before[i]) })];
  },
});

defineOp({
  name: "concat",
  kind: "other",
  doc: {
    summary: "joins tensors along `axis`; other dims must match",
    example: "concat([h, skip], axis: 1)",
  },
  infer: (ins, attrs) => {
    if (ins.length === 0) throw new ShapeError("concat needs at least one tensor");
    const a = axis(attrs.axis as number, ins[0].shape.length);
    const shape = [...ins[0].shape];
    for (const t of ins.slice(1)) {
      if (t.shape.length !== shape.length || t.shape.some((d, i) => i !== a && d !== shape[i])) {
        throw new ShapeError(
          `concat along axis ${a}: ${show(ins[0].shape)} and ${show(t.shape)} differ on another axis`,
        );
      }
      if (t.dtype !== ins[0].dtype) throw new ShapeError("concat: operands have different dtypes");
      shape[a] += t.shape[a];
    }
    return { dtype: ins[0].dtype, shape };
  },
  reference: (ins, attrs, out) => {
    const a = axis(attrs.axis as number, out.shape.length);
    const data = new Float64Array(numel(out.shape));
    const outer = numel(out.shape.slice(0, a));
    const inner = numel(out.shape.slice(a + 1));
    let off = 0;
    for (const t of ins) {
      const n = t.shape[a] * inner;
      for (let o = 0; o < outer; o++) {
        for (let k = 0; k < n; k++) data[o * out.shape[a] * inner + off + k] = t.data[o * n + k];
      }
      off += n;
    }
    return { ...out, data };
  },
  vjp: (g, node, cot) => {
    const a = axis(node.attrs.axis as number, node.type.shape.length);
    let off = 0;
    return node.inputs.map((i) => {
      const s = g.shape(i);
      const start = s.map((_, k) => (k === a ? off : 0));
      const end = s.map((d, k) => (k === a ? off + d : node.type.shape[k]));
      off += s[a];
      return g.op("slice", [cot], { start, end });
    });
  },
});

export function forEachIndex(shape: readonly number[], f: (idx: number[], flat: number) => void) {
  const n = numel(shape);
  const idx = new Array(shape.length).fill(0);
  for (let flat = 0; flat < n; flat++) {
    f(idx, flat);
    for (let i = shape.length - 1; i >= 0; i--) {
      if (++idx[i] < shape[i]) break;
      idx[i] = 0;
    }
  }
}

export function broadcastTo(x: Tensor64, shape: readonly number[]): Float64Array {
  if (sameShape(x.shape, shape)) return x.data;
  const lead = shape.length - x.shape.length;
  const st = stridesOf(x.shape);
  const data = new Float64Array(numel(shape));
  forEachIndex(shape, (idx, flat) => {
    let src = 0;
    for (let i = 0; i < x.shape.length; i++) if (x.shape[i] !== 1) src += idx[i + lead] * st[i];
    data[flat] = x.data[src];
  });
  return data;
}

export type { TensorType };
