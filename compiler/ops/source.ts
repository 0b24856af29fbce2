// Ops with no tensor inputs: graph inputs, parameters, constants, iota and random noise.
import type { DType, TensorType } from "../ir.ts";
import { numel, ShapeError } from "../ir.ts";
import { defineOp } from "./registry.ts";

const declared = (_ins: TensorType[], attrs: Record<string, unknown>): TensorType => ({
  dtype: attrs.dtype as DType,
  shape: attrs.shape as number[],
});

defineOp({
  name: "input",
  kind: "source",
  doc: {
    summary: "a tensor supplied by the host each step (a data batch)",
    example: "step s(b: train) { b.x }",
  },
  infer: declared,
});

defineOp({
  name: "param",
  kind: "source",
  doc: {
    summary: "a persistent tensor (weights, optimizer state) owned by the runtime",
    example: "param w: [I, O] = glorot",
  },
  infer: declared,
});

defineOp({
  name: "const",
  kind: "source",
  doc: { summary: "a constant filled with one value", example: "0.5 * x" },
  infer: declared,
  reference: (_ins, attrs, out) => ({
    ...out,
    data: new Float64Array(numel(out.shape)).fill(attrs.value as number),
  }),
});

defineOp({
  name: "iota",
  kind: "elementwise",
  doc: {
    summary: "the index along `axis` at every position of `shape`",
    example: "iota([B, 10], axis: 1) == y",
  },
  infer: (_ins, attrs) => ({
    dtype: (attrs.dtype as DType) ?? "i32",
    shape: attrs.shape as number[],
  }),
  reference: (_ins, attrs, out) => {
    const shape = out.shape;
    const ax = attrs.axis as number;
    const inner = shape.slice(ax + 1).reduce((a, b) => a * b, 1);
    const data = new Float64Array(numel(shape));
    for (let i = 0; i < data.length; i++) data[i] = Math.floor(i / inner) % shape[ax];
    return { ...out, data };
  },
});

/** PCG-style integer hash shared by the reference interpreter and the WGSL lowering. */
export function hashU32(x: number): number {
  let s = (Math.imul(x >>> 0, 747796405) + 2891336453) >>> 0;
  const w = Math.imul((s >>> ((s >>> 28) + 4)) ^ s, 277803737) >>> 0;
  return ((w >>> 22) ^ w) >>> 0;
}

export const wgslHash = `fn hash_u32(x: u32) -> u32 {
  let s = x * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}
fn rand_at(seed: u32, stream: u32, i: u32) -> f32 {
  let k = hash_u32(seed ^ hash_u32(stream * 2654435761u + 0x9e3779b9u));
  return f32(hash_u32(k ^ hash_u32(2u * i)) >> 8u) / 16777216.0;
}
fn randn_at(seed: u32, stream: u32, i: u32) -> f32 {
  let k = hash_u32(seed ^ hash_u32(stream * 2654435761u + 0x9e3779b9u));
  let a = hash_u32(k ^ hash_u32(2u * i));
  let b = hash_u32(k ^ hash_u32(2u * i + 1u));
  let u1 = (f32(a >> 8u) + 1.0) / 16777217.0;
  let u2 = f32(b >> 8u) / 16777216.0;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}`;

/** Uniform [0, 1) sample number `i` of stream `stream` under `seed`. */
export function randAt(seed: number, stream: number, i: number): number {
  const k = hashU32((seed ^ hashU32((Math.imul(stream, 2654435761) + 0x9e3779b9) >>> 0)) >>> 0);
  return (hashU32((k ^ hashU32((2 * i) >>> 0)) >>> 0) >>> 8) / 16777216;
}

/** Standard normal sample number `i` of stream `stream` under `seed` (Box-Muller). */
export function randnAt(seed: number, stream: number, i: number): number {
  const k = hashU32((seed ^ hashU32((Math.imul(stream, 2654435761) + 0x9e3779b9) >>> 0)) >>> 0);
  const a = hashU32((k ^ hashU32((2 * i) >>> 0)) >>> 0);
  const b = hashU32((k ^ hashU32((2 * i + 1) >>> 0)) >>> 0);
  const u1 = ((a >>> 8) + 1) / 16777217;
  const u2 = (b >>> 8) / 16777216;
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

defineOp({
  name: "randn",
  kind: "elementwise",
  doc: {
    summary: "standard normal noise of `shape`, a pure function of (seed, stream, index)",
    semantics:
      "The seed is an i32 scalar input that the host advances every step; `stream` distinguishes the call sites, so a step is deterministic for a seed.",
    example: "let noise = randn([B, 3, 32, 32])",
  },
  infer: (ins, attrs) => {
    if (ins.length !== 1 || ins[0].dtype !== "i32" || ins[0].shape.length !== 0) {
      throw new ShapeError("randn takes one i32 scalar seed");
    }
    return { dtype: "f32", shape: attrs.shape as number[] };
  },
  reference: ([seed], attrs, out) => {
    const data = new Float64Array(numel(out.shape));
    for (let i = 0; i < data.length; i++)
      data[i] = randnAt(seed.data[0] >>> 0, attrs.stream as number, i);
    return { ...out, data };
  },
  vjp: () => [null],
});

defineOp({
  name: "rand",
  kind: "elementwise",
  doc: {
    summary: "uniform noise in [0, 1) of `shape`, a pure function of (seed, stream, index)",
    semantics: "Like randn: deterministic for the step's seed; each call site is its own stream.",
    example: "let t = rand([B])",
  },
  infer: (ins, attrs) => {
    if (ins.length !== 1 || ins[0].dtype !== "i32" || ins[0].shape.length !== 0) {
      throw new ShapeError("rand takes one i32 scalar seed");
    }
    return { dtype: "f32", shape: attrs.shape as number[] };
  },
  reference: ([seed], attrs, out) => {
    const data = new Float64Array(numel(out.shape));
    for (let i = 0; i < data.length; i++)
      data[i] = randAt(seed.data[0] >>> 0, attrs.stream as number, i);
    return { ...out, data };
  },
  vjp: () => [null],
});
