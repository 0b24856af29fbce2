// One OpDef per op: its shape rule, float64 reference semantics, derivative rule, WGSL
// lowering and documentation live together (docs/ops.md is generated from `doc`).
import type { Attrs, DType, Graph, IrNode, TensorType } from "../ir.ts";

/** A float64 tensor for the reference interpreter (i32 values are stored exactly). */
export interface Tensor64 {
  dtype: DType;
  shape: number[];
  data: Float64Array;
}

export type OpKind =
  | "source" // input, param, const
  | "elementwise" // pure function of the same index of each (broadcast) input
  | "view" // reindexing: reshape, transpose, broadcast, slice, pad
  | "reduce"
  | "matmul"
  | "conv"
  | "other"; // gather, concat: own kernels

export interface OpDoc {
  summary: string;
  semantics?: string;
  constraints?: string[];
  example: string;
}

/** Cotangent per input, or null where the input is not differentiable (or gets zero). */
export type Vjp = (g: Graph, node: IrNode, cot: number) => (number | null)[];

export interface OpDef {
  name: string;
  kind: OpKind;
  doc: OpDoc;
  infer(inputs: TensorType[], attrs: Attrs): TensorType;
  /** Float64 reference implementation (the interpreter's semantics for this op). */
  reference?(inputs: Tensor64[], attrs: Attrs, out: TensorType): Tensor64;
  /** For elementwise ops: the scalar function (the interpreter broadcasts). */
  scalar?(xs: number[], attrs: Attrs): number;
  /** For elementwise ops: a WGSL f32/i32 expression given the input expressions. */
  wgsl?(args: string[], attrs: Attrs, node: IrNode, inputTypes: TensorType[]): string;
  vjp?: Vjp;
  /** Why an op without `vjp` refuses differentiation (autodiff reports it as a shape error). */
  noDerivative?: string;
}

const ops = new Map<string, OpDef>();

export function defineOp(def: OpDef): OpDef {
  if (ops.has(def.name)) throw new Error(`op ${def.name} defined twice`);
  ops.set(def.name, def);
  return def;
}

export function getOp(name: string): OpDef {
  const def = ops.get(name);
  if (!def) throw new Error(`unknown IR op '${name}'`);
  return def;
}

export function hasOp(name: string): boolean {
  return ops.has(name);
}

export function allOps(): OpDef[] {
  return [...ops.values()];
}
