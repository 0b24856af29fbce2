// The expression half of fused kernels: the value of a node at a multi-index as WGSL, with
// every non-materialized producer inlined (views become index arithmetic, like tinygrad's
// ShapeTracker). fused.ts wraps these expressions into whole kernels.
import { type Graph, type IrNode, sameShape, stridesOf } from "../ir.ts";
import { getOp } from "../ops/index.ts";
import { wgslHelpers } from "../ops/elementwise.ts";

export function wgslType(dtype: string): string {
  return dtype === "i32" ? "i32" : "f32";
}

export function floatLit(v: number): string {
  if (Number.isNaN(v)) return "bitcast<f32>(0x7fc00000u)";
  if (v === Infinity) return "bitcast<f32>(0x7f800000u)";
  if (v === -Infinity) return "bitcast<f32>(0xff800000u)";
  if (Math.abs(v) > 3.4028234e38) return v > 0 ? "3.4028234e38" : "-3.4028234e38";
  const s = String(v);
  return `f32(${/[.eE]/.test(s) ? s : s + ".0"})`;
}

/** Builds one kernel's expressions: the `let` lines, the buffers read, the helpers used. */
export class Emitter {
  lines: string[] = [];
  memo = new Map<string, string>();
  reads: number[] = [];
  inlined = new Set<number>();
  helpers = new Set<string>();
  private tmp = 0;

  /** The root's own multi-index: reading a same-shaped buffer there is just `[i]`. */
  identity: string[] | null = null;
  identityShape: number[] = [];

  /**
   * Variables of the innermost loop. When set, a `let` that uses none of them (directly
   * or through other lets) goes to `outer`, emitted before the loop: a per-row load is
   * then paid once per row instead of once per element.
   */
  innerVars = new Set<string>();
  outer: string[] = [];
  /** Multi-indices (with the shape) produced by unravelling a flat index, to that index. */
  flatAlias = new Map<string, string>();
  /** How a kernel-local constant is declared: WGSL's `let`, C++'s `const auto`. */
  letKeyword = "let";

  emitLet(name: string, expr: string): void {
    const inner =
      this.innerVars.size === 0 ||
      (expr.match(/[A-Za-z_]\w*/g) ?? []).some((t) => this.innerVars.has(t));
    const line = `${this.letKeyword} ${name} = ${expr};`;
    if (!inner) return void this.outer.push(line);
    this.lines.push(line);
    if (this.innerVars.size) this.innerVars.add(name);
  }

  /** Lets hoisted out of the loop that read a buffer. */
  hoistedLoads(): number {
    return this.outer.filter((l) => /\b(in|ep_in)\d+\[/.test(l)).length;
  }

  constructor(
    private g: Graph,
    private materialized: (id: number) => boolean,
    /** Values with a fixed expression (an epilogue's accumulator `v`). */
    private special = new Map<number, string>(),
    private prefix = "in",
  ) {}

  fresh(prefix = "t"): string {
    return `${prefix}${this.tmp++}`;
  }

  binding(id: number): string {
    let k = this.reads.indexOf(id);
    if (k < 0) {
      k = this.reads.length;
      this.reads.push(id);
    }
    return `${this.prefix}${k}`;
  }

  /** A WGSL expression for value `id` at multi-index `idx` (i32 expressions). */
  value(id: number, idx: string[]): string {
    const key = `${id}@${idx.join(",")}`;
    const hit = this.memo.get(key);
    if (hit) return hit;
    const n = this.g.node(id);
    const sp = this.special.get(id);
    if (sp !== undefined) return sp;
    const expr = this.compute(n, idx);
    // Constants and plain names stay inline; everything else gets a `let`.
    if (/^[\w.()+-]+$/.test(expr) && !expr.includes("[")) {
      this.memo.set(key, expr);
      return expr;
    }
    const name = this.fresh();
    this.emitLet(name, expr);
    this.memo.set(key, name);
    return name;
  }

  private compute(n: IrNode, idx: string[]): string {
    const t = wgslType(n.type.dtype);
    if (n.op === "const" && !this.materialized(n.id))
      return t === "i32"
        ? `i32(${Math.trunc(n.attrs.value as number)})`
        : floatLit(n.attrs.value as number);
    if (this.materialized(n.id)) {
      const same =
        this.identity &&
        sameShape(n.type.shape, this.identityShape) &&
        idx.every((e, k) => e === this.identity![k]);
      const alias = this.flatAlias.get(`${idx.join(",")}|${n.type.shape.join("x")}`);
      return `${this.binding(n.id)}[${same ? "i" : (alias ?? flatIndex(idx, n.type.shape))}]`;
    }
    this.inlined.add(n.id);
    const ins = n.inputs;
    const shapeOf = (i: number) => this.g.shape(i);
    switch (n.op) {
      case "iota":
        return t === "i32" ? idx[n.attrs.axis as number] : `f32(${idx[n.attrs.axis as number]})`;
      case "rand":
      case "randn": {
        this.helpers.add("randn");
        const seed = this.value(ins[0], []);
        return `${n.op}_at(u32(${seed}), ${n.attrs.stream as number}u, u32(${flatIndex(idx, n.type.shape)}))`;
      }
      case "reshape": {
        const inShape = shapeOf(ins[0]);
        return this.value(ins[0], reshapeIndex(idx, n.type.shape, inShape, this));
      }
      case "transpose": {
        const perm = n.attrs.perm as number[];
        const inIdx = new Array(perm.length);
        perm.forEach((p, i) => (inIdx[p] = idx[i]));
        return this.value(ins[0], inIdx);
      }
      case "broadcast":
        return this.value(ins[0], broadcastIndex(idx, shapeOf(ins[0])));
      case "slice": {
        const start = n.attrs.start as number[];
        return this.value(
          ins[0],
          idx.map((e, k) => (start[k] ? `(${e} + ${start[k]})` : e)),
        );
      }
      case "pad": {
        const before = n.attrs.before as number[];
        const s = shapeOf(ins[0]);
        const conds: string[] = [];
        const inIdx = idx.map((e, k) => {
          if (!before[k] && s[k] === n.type.shape[k]) return e;
          const j = before[k] ? `(${e} - ${before[k]})` : e;
          conds.push(`${j} >= 0 && ${j} < ${s[k]}`);
          return `clamp(${j}, 0, ${s[k] - 1})`;
        });
        const v = this.value(ins[0], inIdx);
        const zero = t === "i32" ? "0" : "0.0";
        return conds.length ? `select(${zero}, ${v}, ${conds.join(" && ")})` : v;
      }
      case "concat": {
        const ax =
          (n.attrs.axis as number) < 0
            ? (n.attrs.axis as number) + n.type.shape.length
            : (n.attrs.axis as number);
        let off = 0;
        const parts = ins.map((i) => {
          const s = shapeOf(i);
          const lo = off;
          off += s[ax];
          const inIdx = idx.map((e, k) => (k === ax ? `clamp(${e} - ${lo}, 0, ${s[ax] - 1})` : e));
          return { v: this.value(i, inIdx), hi: off };
        });
        let expr = parts[parts.length - 1].v;
        for (let k = parts.length - 2; k >= 0; k--)
          expr = `select(${expr}, ${parts[k].v}, ${idx[ax]} < ${parts[k].hi})`;
        return expr;
      }
    }
    const def = getOp(n.op);
    if (def.kind !== "elementwise" || !def.wgsl)
      throw new Error(`internal: cannot inline op ${n.op}`);
    const args = ins.map((i) => this.value(i, broadcastIndex(idx, shapeOf(i))));
    const expr = def.wgsl(
      args,
      n.attrs,
      n,
      ins.map((i) => this.g.type(i)),
    );
    for (const h of Object.keys(wgslHelpers)) if (expr.includes(`${h}(`)) this.helpers.add(h);
    return expr;
  }
}

/** Row-major flat index of idx in shape, skipping size-1 axes. */
export function flatIndex(idx: string[], shape: number[]): string {
  const st = stridesOf(shape);
  const terms = idx
    .map((e, k) => (shape[k] === 1 ? "" : st[k] === 1 ? e : `${e} * ${st[k]}`))
    .filter(Boolean);
  return terms.length ? terms.join(" + ") : "0";
}

function broadcastIndex(idx: string[], inShape: number[]): string[] {
  const lead = idx.length - inShape.length;
  return inShape.map((d, k) => (d === 1 ? "0" : idx[lead + k]));
}

function reshapeIndex(idx: string[], outShape: number[], inShape: number[], em: Emitter): string[] {
  // Only size-1 axes added or removed: map axes directly.
  const a = outShape.filter((d) => d !== 1);
  const b = inShape.filter((d) => d !== 1);
  if (a.length === b.length && a.every((d, i) => d === b[i])) {
    const kept = idx.filter((_, k) => outShape[k] !== 1);
    let j = 0;
    return inShape.map((d) => (d === 1 ? "0" : kept[j++]));
  }
  // At the root's own index the flat index is just `i`.
  const atIdentity =
    em.identity &&
    sameShape(outShape, em.identityShape) &&
    idx.every((e, k) => e === em.identity![k]);
  let flat = "i";
  if (!atIdentity) {
    flat = em.fresh("f");
    em.emitLet(flat, flatIndex(idx, outShape));
  }
  const st = stridesOf(inShape);
  const inIdx = inShape.map((d, k) =>
    d === 1 ? "0" : k === 0 ? `(${flat} / ${st[k]})` : `((${flat} / ${st[k]}) % ${d})`,
  );
  // A buffer of shape inShape read at exactly this index is read at `flat`: no div/mod.
  em.flatAlias.set(`${inIdx.join(",")}|${inShape.join("x")}`, flat);
  return inIdx;
}

export function unravel(flat: string, shape: number[]): string[] {
  const st = stridesOf(shape);
  return shape.map((d, k) =>
    d === 1 ? "0" : k === 0 ? `(${flat} / ${st[k]})` : `((${flat} / ${st[k]}) % ${d})`,
  );
}
