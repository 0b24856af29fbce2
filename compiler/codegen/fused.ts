// WGSL for fused elementwise/view/reduce kernels. A kernel computes one materialized root
// value; every non-materialized producer is inlined as an expression of the element index
// (inline-emitter.ts). Shapes are baked in as constants: these kernels are cheap to JIT and
// constant index math is faster.
import { type Graph, type IrNode, numel } from "../ir.ts";
import { wgslHelpers } from "../ops/elementwise.ts";
import { wgslHash } from "../ops/source.ts";
import { Emitter, unravel, wgslType } from "./inline-emitter.ts";

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
