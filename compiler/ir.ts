// The typed SSA IR. A Graph is a list of nodes in topological order; node i defines value i.
// Everything downstream (autodiff, simplification, fusion, codegen, the reference
// interpreter) is a function of this one data structure.
import type { SourceRange } from "../grammar/ast.ts";
import { getOp } from "./ops/registry.ts";

export type DType = "f32" | "i32";

export interface TensorType {
  dtype: DType;
  shape: number[];
}

export type AttrValue = number | string | boolean | number[];
export type Attrs = Record<string, AttrValue>;

export interface IrNode {
  id: number;
  op: string;
  inputs: number[];
  attrs: Attrs;
  type: TensorType;
  /** Where in the .cld source this value was written (for diagnostics and kernel comments). */
  loc: SourceRange | null;
  /** For `input` and `param` nodes: the name the host binds it by. */
  name?: string;
}

/** Thrown by shape rules; the caller attaches the source location. */
export class ShapeError extends Error {}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function showType(t: TensorType): string {
  return `${t.dtype === "f32" ? "" : t.dtype}[${t.shape.join(", ")}]`;
}

export class Graph {
  nodes: IrNode[] = [];
  /** Named results the host reads back (logs) — value ids. */
  outputs = new Map<string, number>();
  /** State updates applied after the step: param/state node id -> new value id. */
  updates = new Map<number, number>();
  /** Location attached to nodes created while it is set. */
  loc: SourceRange | null = null;

  node(id: number): IrNode {
    return this.nodes[id];
  }

  type(id: number): TensorType {
    return this.nodes[id].type;
  }

  shape(id: number): number[] {
    return this.nodes[id].type.shape;
  }

  /** Adds a node after checking its inputs with the op's shape rule. */
  op(op: string, inputs: number[], attrs: Attrs = {}, name?: string): number {
    const def = getOp(op);
    const type = def.infer(
      inputs.map((i) => this.nodes[i].type),
      attrs,
    );
    const id = this.nodes.length;
    const node: IrNode = { id, op, inputs, attrs, type, loc: this.loc };
    if (name !== undefined) node.name = name;
    this.nodes.push(node);
    return id;
  }

  input(name: string, type: TensorType): number {
    return this.op("input", [], { dtype: type.dtype, shape: type.shape }, name);
  }

  param(name: string, type: TensorType): number {
    return this.op("param", [], { dtype: type.dtype, shape: type.shape }, name);
  }

  const(value: number, shape: number[] = [], dtype: DType = "f32"): number {
    return this.op("const", [], { value, shape, dtype });
  }

  inputs(): IrNode[] {
    return this.nodes.filter((n) => n.op === "input");
  }

  params(): IrNode[] {
    return this.nodes.filter((n) => n.op === "param");
  }

  // ---- helpers used by derivative rules and the elaborator

  add(a: number, b: number) {
    return this.op("add", [a, b]);
  }
  sub(a: number, b: number) {
    return this.op("sub", [a, b]);
  }
  mul(a: number, b: number) {
    return this.op("mul", [a, b]);
  }
  div(a: number, b: number) {
    return this.op("div", [a, b]);
  }
  neg(a: number) {
    return this.op("neg", [a]);
  }
  scale(a: number, s: number) {
    return this.mul(a, this.const(s));
  }
  sum(x: number, axes: number[], keepdims = false) {
    return this.op("sum", [x], { axes, keepdims });
  }
  reshape(x: number, shape: number[]) {
    return this.op("reshape", [x], { shape });
  }
  broadcast(x: number, shape: number[]) {
    return this.op("broadcast", [x], { shape });
  }
  transpose(x: number, perm: number[]) {
    return this.op("transpose", [x], { perm });
  }

  /** Sums a broadcast cotangent `g` back down to `shape` (numpy broadcasting rules). */
  unbroadcast(g: number, shape: number[]): number {
    const gs = this.shape(g);
    if (sameShape(gs, shape)) return g;
    const lead = gs.length - shape.length;
    const axes: number[] = [];
    for (let i = 0; i < gs.length; i++) {
      if (i < lead || (shape[i - lead] === 1 && gs[i] !== 1)) axes.push(i);
    }
    let r = axes.length ? this.sum(g, axes, true) : g;
    if (!sameShape(this.shape(r), shape)) r = this.reshape(r, shape);
    return r;
  }
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** numpy-style broadcast of two shapes, or a ShapeError naming both. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(
        `shapes [${a.join(", ")}] and [${b.join(", ")}] cannot be broadcast together`,
      );
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/** Normalizes a possibly negative axis. */
export function axis(a: number, rank: number): number {
  const r = a < 0 ? a + rank : a;
  if (r < 0 || r >= rank) throw new ShapeError(`axis ${a} is out of range for rank ${rank}`);
  return r;
}
