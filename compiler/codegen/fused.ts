// WGSL for fused elementwise/view/reduce kernels. A kernel computes one materialized root
// value; every non-materialized producer is inlined as an expression of the element index
// (views become index arithmetic, like tinygrad's ShapeTracker). Shapes are baked in as
// constants: these kernels are cheap to JIT and constant index math is faster.
import { type Graph, type IrNode, numel, sameShape, stridesOf } from "../ir.ts";
import { getOp } from "../ops/index.ts";
import { wgslHelpers } from "../ops/elementwise.ts";
import { wgslHash } from "../ops/source.ts";

export interface FusedKernel {
  wgsl: string;
  /** Value ids read from buffers, in binding order; the output is the last binding. */
  reads: number[];
  /** Value ids inlined into this kernel (for naming and source comments). */
  inlined: number[];
  threads: number;
  /** Elements of the output (for FLOP estimates; `threads` may be capped). */
  elements: number;
  /** Bound after the output: the element count. */
  uniform: number[];
}

export const WORKGROUP = 64;
/** Elementwise grids are capped at this many workgroups; each lane then loops. */
export const MAX_ELEMENTWISE_GROUPS = 256;

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

class Emitter {
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

  emitLet(name: string, expr: string): void {
    const inner =
      this.innerVars.size === 0 ||
      (expr.match(/[A-Za-z_]\w*/g) ?? []).some((t) => this.innerVars.has(t));
    if (!inner) return void this.outer.push(`let ${name} = ${expr};`);
    this.lines.push(`let ${name} = ${expr};`);
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

function unravel(flat: string, shape: number[]): string[] {
  const st = stridesOf(shape);
  return shape.map((d, k) =>
    d === 1 ? "0" : k === 0 ? `(${flat} / ${st[k]})` : `((${flat} / ${st[k]}) % ${d})`,
  );
}

/** Generates the kernel computing materialized node `root`. */
export function fusedKernel(
  g: Graph,
  root: number,
  materialized: (id: number) => boolean,
): FusedKernel {
  const n = g.node(root);
  if (n.op === "sum" || n.op === "max" || n.op === "argmax")
    return reduceKernel(g, root, materialized);
  // Row runs when some operand is constant along the last axis (a softmax's row sum, a
  // norm's statistics): each lane walks part of one row and loads those once.
  const run = rowRunKernel(g, root, materialized);
  if (run) return run;
  const em = new Emitter(g, (id) => id !== root && materialized(id));
  const idx = unravel("i", n.type.shape);
  em.identity = idx;
  em.identityShape = n.type.shape;
  em.inlined.add(root);
  const v = em.value(root, idx);
  const total = numel(n.type.shape);
  return assemble(g, n, em, gridStrideHead, [...em.lines, `out[i] = ${v};`], ["  }", "}"], {
    threads: Math.min(total, MAX_ELEMENTWISE_GROUPS * WORKGROUP),
    count: total,
  });
}

/** Lanes a row-run kernel aims for (rows are split into chunks below this). */
const RUN_LANES = 8192;
/** Rows shorter than this are not worth a loop. */
const MIN_RUN = 8;

function rowRunKernel(
  g: Graph,
  root: number,
  materialized: (id: number) => boolean,
): FusedKernel | null {
  const n = g.node(root);
  const shape = n.type.shape;
  const L = shape[shape.length - 1] ?? 1;
  const total = numel(shape);
  if (L < MIN_RUN) return null;
  const rows = total / L;
  const chunks = Math.max(1, Math.min(Math.ceil(RUN_LANES / rows), Math.ceil(L / 16)));
  const CH = Math.ceil(L / chunks);
  const em = new Emitter(g, (id) => id !== root && materialized(id));
  em.innerVars = new Set(["rj", "i"]);
  const idx = [...unravel("row", shape.slice(0, -1)), "rj"];
  em.identity = idx;
  em.identityShape = shape;
  em.inlined.add(root);
  const v = em.value(root, idx);
  if (em.hoistedLoads() === 0) return null;
  const head = [
    ...gridStrideHead.map((l) => l.replace(/\bi\b/g, "q")),
    `    let row = q / ${chunks};`,
    `    let c0 = (q % ${chunks}) * ${CH};`,
    ...em.outer.map((l) => "    " + l),
    `    for (var rj = c0; rj < min(c0 + ${CH}, ${L}); rj++) {`,
  ];
  const body = [`let i = row * ${L} + rj;`, ...em.lines, `out[i] = ${v};`];
  const tasks = rows * chunks;
  return assemble(
    g,
    n,
    em,
    head,
    body.map((l) => "  " + l),
    ["    }", "  }", "}"],
    {
      threads: Math.min(tasks, MAX_ELEMENTWISE_GROUPS * WORKGROUP),
      count: tasks,
    },
  );
}

// Grid-stride loop over `count.x` items: lavapipe pays per workgroup, so a capped grid
// walks the tensor.
const gridStrideHead = [
  `@compute @workgroup_size(${WORKGROUP})`,
  "fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {",
  `  let stride = i32(nwg.x * nwg.y * ${WORKGROUP}u);`,
  `  for (var i = i32(gid.x + gid.y * nwg.x * ${WORKGROUP}u); i < i32(count.x); i += stride) {`,
];

function reduceKernel(g: Graph, root: number, materialized: (id: number) => boolean): FusedKernel {
  const n = g.node(root);
  const em = new Emitter(g, (id) => id !== root && materialized(id));
  const total = numel(n.type.shape);
  const body: string[] = [];
  const x = n.inputs[0];
  const xs = g.shape(x);
  const axes =
    n.op === "argmax"
      ? [((n.attrs.axis as number) + xs.length) % xs.length]
      : (n.attrs.axes as number[]).map((a) => (a + xs.length) % xs.length);
  const keep = n.op === "argmax" ? false : !!n.attrs.keepdims;
  const keptShape = xs.filter((_, k) => !axes.includes(k));
  const outIdx = unravel("i", keep ? xs.map((d, k) => (axes.includes(k) ? 1 : d)) : keptShape);
  const reduced = axes.map((k) => xs[k]);
  const R = reduced.reduce((a, b) => a * b, 1);
  // Few outputs over many elements: a workgroup per output, lanes stride the reduction.
  const split = n.op !== "argmax" && total <= 512 && R >= 1024;
  const rIdx = split ? unravel("r", reduced) : axes.map((k) => `r${k}`);
  // Loads that do not depend on the reduction index are hoisted out of the loop.
  em.innerVars = new Set(split ? ["r"] : axes.map((k) => `r${k}`));
  const inIdx: string[] = [];
  let j = 0;
  xs.forEach((_, k) => {
    if (axes.includes(k)) inIdx.push(rIdx[axes.indexOf(k)]);
    else inIdx.push(keep ? outIdx[k] : outIdx[j++]);
  });
  const xt = wgslType(g.type(x).dtype);
  const init =
    n.op === "sum" ? (xt === "i32" ? "0" : "0.0") : xt === "i32" ? "-2147483647" : "-3.4028234e38";
  const v = em.value(x, inIdx);
  body.push(...em.outer);
  body.push(`var acc: ${xt} = ${init};`);
  if (n.op === "argmax") body.push("var best: i32 = 0;");
  let indent = "";
  if (split) {
    body.push(`for (var r: i32 = lane; r < ${R}; r += ${WORKGROUP}) {`);
    indent = "  ";
  } else {
    for (const k of axes) {
      body.push(`${indent}for (var r${k}: i32 = 0; r${k} < ${xs[k]}; r${k}++) {`);
      indent += "  ";
    }
  }
  for (const l of em.lines) body.push(indent + l);
  if (n.op === "sum") body.push(`${indent}acc += ${v};`);
  else if (n.op === "max") body.push(`${indent}acc = max(acc, ${v});`);
  else body.push(`${indent}if (${v} > acc) { acc = ${v}; best = r${axes[0]}; }`);
  for (let k = split ? 0 : axes.length - 1; k >= 0; k--) {
    indent = indent.slice(2);
    body.push(`${indent}}`);
  }
  if (split) {
    const combine = n.op === "sum" ? "acc += part[k];" : "acc = max(acc, part[k]);";
    body.push(
      "part[lane] = acc;",
      "workgroupBarrier();",
      "if (lane != 0) { return; }",
      `for (var k = 1; k < ${WORKGROUP}; k++) { ${combine} }`,
      "out[i] = acc;",
    );
  } else body.push(n.op === "argmax" ? "out[i] = best;" : `out[i] = acc;`);
  const head = split
    ? [
        `var<workgroup> part: array<${xt}, ${WORKGROUP}>;`,
        `@compute @workgroup_size(${WORKGROUP})`,
        "fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {",
        "  let i = i32(wid.x);",
        "  let lane = i32(li);",
        "  if (i >= i32(count.x)) { return; }",
      ]
    : gridStrideHead;
  return assemble(g, n, em, head, body, split ? ["}"] : ["  }", "}"], {
    threads: split ? total * WORKGROUP : Math.min(total, MAX_ELEMENTWISE_GROUPS * WORKGROUP),
    count: total,
  });
}

/** Bindings, helpers, the kernel head, the body (indented into the head's loop) and tail. */
function assemble(
  g: Graph,
  n: IrNode,
  em: Emitter,
  head: string[],
  body: string[],
  tail: string[],
  size: { threads: number; count: number },
): FusedKernel {
  const outT = wgslType(n.type.dtype);
  // The root itself is computed here even when "materialized".
  const decls = em.reads.map(
    (id, k) =>
      `@group(0) @binding(${k}) var<storage, read> in${k}: array<${wgslType(g.type(id).dtype)}>;`,
  );
  decls.push(
    `@group(0) @binding(${em.reads.length}) var<storage, read_write> out: array<${outT}>;`,
  );
  // The item count is a uniform, so kernels that differ only in size share a pipeline.
  decls.push(`@group(0) @binding(${em.reads.length + 1}) var<uniform> count: vec4<u32>;`);
  const helpers = [...em.helpers].sort().map((h) => (h === "randn" ? wgslHash : wgslHelpers[h]));
  const pad =
    head === gridStrideHead || head[head.length - 1].startsWith("    for") ? "    " : "  ";
  const wgsl = [...decls, ...helpers, ...head, ...body.map((l) => pad + l), ...tail, ""].join("\n");
  return {
    wgsl,
    reads: em.reads,
    inlined: [...em.inlined].sort((a, b) => a - b),
    threads: size.threads,
    elements: numel(n.type.shape),
    uniform: [size.count, 0, 0, 0],
  };
}

/** Workgroup counts for `threads` invocations of WORKGROUP lanes, within the 65535 limit. */
export function dispatch1d(threads: number, lanes = WORKGROUP): [number, number, number] {
  const groups = Math.max(1, Math.ceil(threads / lanes));
  if (groups <= 65535) return [groups, 1, 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y, 1];
}

export interface FusedEpilogue {
  /** WGSL: binding declarations (numbered from `first`) and `fn epilogue(v: f32, i: u32) -> f32`. */
  decls: (first: number) => string;
  fn: string;
  reads: number[];
  inlined: number[];
}

/**
 * The elementwise chain from a matmul/conv value `heavy` up to `root`, as an epilogue
 * applied to each output before it is stored (`v` is the heavy op's result at index i).
 */
export function fusedEpilogue(
  g: Graph,
  heavy: number,
  root: number,
  materialized: (id: number) => boolean,
): FusedEpilogue {
  const n = g.node(root);
  const em = new Emitter(
    g,
    (id) => id !== root && id !== heavy && materialized(id),
    new Map([[heavy, "v"]]),
    "ep_in",
  );
  const idx = unravel("ii", n.type.shape);
  em.identity = idx;
  em.identityShape = n.type.shape;
  const v = em.value(root, idx);
  const helpers = [...em.helpers].sort().map((h) => (h === "randn" ? wgslHash : wgslHelpers[h]));
  const fn = [
    ...helpers,
    "fn epilogue(v: f32, iu: u32) -> f32 {",
    "  let ii = i32(iu);",
    "  let i = ii;",
    ...em.lines.map((l) => "  " + l),
    `  return ${v};`,
    "}",
  ].join("\n");
  const reads = em.reads;
  return {
    decls: (first) =>
      reads
        .map(
          (id, k) =>
            `@group(0) @binding(${first + k}) var<storage, read> ep_in${k}: array<${wgslType(g.type(id).dtype)}>;`,
        )
        .join("\n"),
    fn,
    reads,
    inlined: [...em.inlined].sort((a, b) => a - b),
  };
}
