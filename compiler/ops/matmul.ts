// Batched matrix multiplication with optional transposed operands (so that derivative
// rules never materialize a transpose).
import { broadcastShapes, numel, ShapeError, type TensorType } from "../ir.ts";
import { defineOp } from "./registry.ts";

export interface MatmulDims {
  batch: number[]; // broadcast batch dims of the output
  M: number;
  K: number;
  N: number;
}

export function matmulDims(
  a: TensorType,
  b: TensorType,
  transA: boolean,
  transB: boolean,
): MatmulDims {
  if (a.shape.length < 2 || b.shape.length < 2) {
    throw new ShapeError(
      `matmul needs operands of rank >= 2, got [${a.shape.join(", ")}] and [${b.shape.join(", ")}]`,
    );
  }
  const [am, ak] = a.shape.slice(-2);
  const [bk, bn] = b.shape.slice(-2);
  const M = transA ? ak : am;
  const K = transA ? am : ak;
  const K2 = transB ? bn : bk;
  const N = transB ? bk : bn;
  if (K !== K2) {
    throw new ShapeError(
      `matmul inner dimensions differ: [${a.shape.join(", ")}] @ [${b.shape.join(", ")}] (${K} vs ${K2})`,
    );
  }
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const aBatch = numel(a.shape.slice(0, -2));
  const bBatch = numel(b.shape.slice(0, -2));
  const nb = numel(batch);
  if ((aBatch !== nb && aBatch !== 1) || (bBatch !== nb && bBatch !== 1)) {
    throw new ShapeError(
      `matmul batch dims [${a.shape.slice(0, -2).join(", ")}] and [${b.shape.slice(0, -2).join(", ")}] must match or one must be absent`,
    );
  }
  return { batch, M, K, N };
}

defineOp({
  name: "matmul",
  kind: "matmul",
  doc: {
    summary: "C[..., m, n] = Σ_k A[..., m, k] B[..., k, n]",
    semantics:
      "transA/transB read an operand's last two axes swapped. Batch dims broadcast; an operand without batch dims is shared.",
    constraints: ["inner dimensions agree", "batch dims equal, or one operand has none"],
    example: "x @ w  // [B, T, C] @ [C, D] -> [B, T, D]",
  },
  infer: ([a, b], attrs) => {
    if (a.dtype !== "f32" || b.dtype !== "f32") throw new ShapeError("matmul needs f32 operands");
    const d = matmulDims(a, b, !!attrs.transA, !!attrs.transB);
    return { dtype: "f32", shape: [...d.batch, d.M, d.N] };
  },
  reference: ([a, b], attrs, out) => {
    const tA = !!attrs.transA;
    const tB = !!attrs.transB;
    const { M, K, N } = matmulDims(a, b, tA, tB);
    const nb = numel(out.shape.slice(0, -2));
    const sa = numel(a.shape.slice(0, -2)) === 1 ? 0 : M * K;
    const sb = numel(b.shape.slice(0, -2)) === 1 ? 0 : K * N;
    const data = new Float64Array(nb * M * N);
    for (let p = 0; p < nb; p++)
      for (let i = 0; i < M; i++)
        for (let j = 0; j < N; j++) {
          let acc = 0;
          for (let k = 0; k < K; k++) {
            const av = a.data[p * sa + (tA ? k * M + i : i * K + k)];
            const bv = b.data[p * sb + (tB ? j * K + k : k * N + j)];
            acc += av * bv;
          }
          data[(p * M + i) * N + j] = acc;
        }
    return { ...out, data };
  },
  vjp: (g, node, cot) => {
    const [a, b] = node.inputs;
    const tA = !!node.attrs.transA;
    const tB = !!node.attrs.transB;
    const as = g.shape(a);
    if (g.shape(b).length === 2 && as.length > 2 && !tA) {
      // A shared weight: fold the batch into rows, one [K, N] product instead of a batched sum.
      const K = as[as.length - 1];
      const N = node.type.shape[node.type.shape.length - 1];
      const a2 = g.reshape(a, [-1, K]);
      const c2 = g.reshape(cot, [-1, N]);
      const db = tB
        ? g.op("matmul", [c2, a2], { transA: true })
        : g.op("matmul", [a2, c2], { transA: true });
      const da = g.op("matmul", [cot, b], { transA: false, transB: !tB });
      return [da, db];
    }
    // C = A B: dA = dC B^T, dB = A^T dC (with the transposes folded into flags).
    const da = tA
      ? g.op("matmul", [b, cot], { transA: tB, transB: true })
      : g.op("matmul", [cot, b], { transA: false, transB: !tB });
    const db = tB
      ? g.op("matmul", [cot, a], { transA: true, transB: tA })
      : g.op("matmul", [a, cot], { transA: !tA, transB: false });
    return [sumToBatch(g, da, g.shape(a)), sumToBatch(g, db, g.shape(b))];
  },
});

import type { Graph } from "../ir.ts";

/** A shared (un-batched) operand's gradient is the sum over the batch. */
function sumToBatch(g: Graph, d: number, shape: number[]): number {
  const ds = g.shape(d);
  if (ds.length === shape.length) return d;
  const lead = ds.length - shape.length;
  const r = g.sum(
    d,
    Array.from({ length: lead }, (_, i) => i),
    false,
  );
  return r;
}
