// The shape rule shared by the attention ops (compiler/ops/attention.ts), the built-in
// that emits them and their kernels; kept apart so that importing it registers no op.
import { ShapeError, type TensorType } from "../ir.ts";

/** The largest head size the fused kernels take (their per-row vectors live in registers). */
export const ATTENTION_MAX_D = 64;

export interface AttentionDims {
  batch: number[];
  T: number;
  S: number;
  d: number;
}

export const show = (s: readonly number[]) => `[${s.join(", ")}]`;

export function attentionDims(q: TensorType, k: TensorType, v: TensorType): AttentionDims {
  for (const [name, t] of [
    ["q", q],
    ["k", k],
    ["v", v],
  ] as const) {
    if (t.dtype !== "f32") throw new ShapeError(`attention needs f32 operands (${name} is i32)`);
    if (t.shape.length < 2)
      throw new ShapeError(`attention: ${name} must have rank >= 2, got ${show(t.shape)}`);
  }
  const lead = q.shape.slice(0, -2);
  const [T, d] = q.shape.slice(-2);
  const [S, dk] = k.shape.slice(-2);
  if (k.shape.join() !== v.shape.join())
    throw new ShapeError(
      `attention: k ${show(k.shape)} and v ${show(v.shape)} must have one shape`,
    );
  if (k.shape.slice(0, -2).join() !== lead.join() || k.shape.length !== q.shape.length)
    throw new ShapeError(
      `attention: q ${show(q.shape)} and k ${show(k.shape)} must have the same leading dims`,
    );
  if (dk !== d)
    throw new ShapeError(
      `attention: q ${show(q.shape)} and k ${show(k.shape)} differ in the last dim (${d} vs ${dk})`,
    );
  if (T === 0 || S === 0 || d === 0)
    throw new ShapeError(
      `attention needs at least one query, key and feature, got q ${show(q.shape)} and k ${show(k.shape)}`,
    );
  return { batch: lead, T, S, d };
}

/** The fused ops' bound on the head size (the `attention` built-in composes past it). */
export function fusedDims(q: TensorType, k: TensorType, v: TensorType): AttentionDims {
  const dims = attentionDims(q, k, v);
  if (dims.d > ATTENTION_MAX_D)
    throw new ShapeError(
      `fused attention takes a head size up to ${ATTENTION_MAX_D}, got ${dims.d}`,
    );
  return dims;
}
