// C++ for fused elementwise/view/reduce kernels and matmul/conv epilogues: the same
// expressions as the WGSL kernels (inline-emitter.ts writes them; prelude.hpp gives their
// WGSL meaning in C++), wrapped in plain loops. One lane's work in WGSL is one iteration
// here; OpenMP splits the outer loop statically, and every output is computed by one
// iteration in a fixed order, so results do not depend on the thread count.
import { type Graph, type IrNode, numel } from "../ir.ts";
import { Emitter, unravel } from "../codegen/inline-emitter.ts";

export interface CFunction {
  /** The function definition (`static void NAME(const float* in0, ..., float* out)`). */
  code: string;
  /** Value ids read, in parameter order; the output pointer comes after them. */
  reads: number[];
  inlined: number[];
  elements: number;
}

export const cType = (dtype: string): string => (dtype === "i32" ? "int32_t" : "float");

/** WGSL-style float literals (`1.0`, `1e-7`) as C++ float literals, so math stays in f32. */
export function cLiterals(line: string): string {
  return line.replace(/(?<![\w.])(\d+\.\d*(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)(?![\w.])/g, "$1f");
}

/** Loops with fewer items than this run on one thread (a fork costs a few microseconds). */
const PARALLEL_MIN = 4096;
const omp = (items: string | number) =>
  `#pragma omp parallel for schedule(static) if (${items} >= ${PARALLEL_MIN})`;

function emitter(g: Graph, root: number, materialized: (id: number) => boolean): Emitter {
  const em = new Emitter(g, (id) => id !== root && materialized(id));
  em.letKeyword = "const auto";
  return em;
}

function params(g: Graph, reads: number[], prefix: string): string[] {
  return reads.map((id, k) => `const ${cType(g.type(id).dtype)}* __restrict ${prefix}${k}`);
}

function define(g: Graph, n: IrNode, name: string, em: Emitter, body: string[]): CFunction {
  const args = [...params(g, em.reads, "in"), `${cType(n.type.dtype)}* __restrict out`];
  const code = [`static void ${name}(${args.join(", ")}) {`, ...body.map(cLiterals), "}"].join(
    "\n",
  );
  return {
    code,
    reads: em.reads,
    inlined: [...em.inlined].sort((a, b) => a - b),
    elements: numel(n.type.shape),
  };
}

const indent = (lines: string[], pad: string) => lines.map((l) => pad + l);

/** The function computing materialized node `root`. */
export function fusedFunctionC(
  g: Graph,
  root: number,
  materialized: (id: number) => boolean,
  name: string,
): CFunction {
  const n = g.node(root);
  if (n.op === "sum" || n.op === "max" || n.op === "argmax")
    return reduceFunction(g, root, materialized, name);
  return rowFunction(g, root, materialized, name) ?? flatFunction(g, root, materialized, name);
}

function flatFunction(
  g: Graph,
  root: number,
  materialized: (id: number) => boolean,
  name: string,
): CFunction {
  const n = g.node(root);
  const em = emitter(g, root, materialized);
  const idx = unravel("i", n.type.shape);
  em.identity = idx;
  em.identityShape = n.type.shape;
  em.inlined.add(root);
  const v = em.value(root, idx);
  const total = numel(n.type.shape);
  return define(g, n, name, em, [
    omp(total),
    `  for (int i = 0; i < ${total}; i++) {`,
    ...indent([...em.lines, `out[i] = ${v};`], "    "),
    "  }",
  ]);
}

/** Rows whose operands are constant along the last axis load those once per row. */
function rowFunction(
  g: Graph,
  root: number,
  materialized: (id: number) => boolean,
  name: string,
): CFunction | null {
  const n = g.node(root);
  const shape = n.type.shape;
  const L = shape[shape.length - 1] ?? 1;
  if (L < 8) return null;
  const rows = numel(shape) / L;
  const em = emitter(g, root, materialized);
  em.innerVars = new Set(["rj", "i"]);
  const idx = [...unravel("row", shape.slice(0, -1)), "rj"];
  em.identity = idx;
  em.identityShape = shape;
  em.inlined.add(root);
  const v = em.value(root, idx);
  if (em.hoistedLoads() === 0) return null;
  return define(g, n, name, em, [
    omp(numel(shape)),
    `  for (int row = 0; row < ${rows}; row++) {`,
    ...indent(em.outer, "    "),
    `    for (int rj = 0; rj < ${L}; rj++) {`,
    `      const int i = row * ${L} + rj;`,
    ...indent([...em.lines, `out[i] = ${v};`], "      "),
    "    }",
    "  }",
  ]);
}

function reduceFunction(
  g: Graph,
  root: number,
  materialized: (id: number) => boolean,
  name: string,
): CFunction {
  const n = g.node(root);
  const em = emitter(g, root, materialized);
  const total = numel(n.type.shape);
  const x = n.inputs[0];
  const xs = g.shape(x);
  const axes =
    n.op === "argmax"
      ? [((n.attrs.axis as number) + xs.length) % xs.length]
      : (n.attrs.axes as number[]).map((a) => (a + xs.length) % xs.length);
  const keep = n.op === "argmax" ? false : !!n.attrs.keepdims;
  const keptShape = xs.filter((_, k) => !axes.includes(k));
  const outIdx = unravel("i", keep ? xs.map((d, k) => (axes.includes(k) ? 1 : d)) : keptShape);
  em.innerVars = new Set(axes.map((k) => `r${k}`));
  const inIdx: string[] = [];
  let j = 0;
  xs.forEach((_, k) => {
    if (axes.includes(k)) inIdx.push(`r${k}`);
    else inIdx.push(keep ? outIdx[k] : outIdx[j++]);
  });
  const xt = cType(g.type(x).dtype);
  const init =
    n.op === "sum"
      ? xt === "int32_t"
        ? "0"
        : "0.0"
      : xt === "int32_t"
        ? "-2147483647"
        : "-3.4028234e38";
  const v = em.value(x, inIdx);
  const body: string[] = [...em.outer, `${xt} acc = ${init};`];
  if (n.op === "argmax") body.push("int32_t best = 0;");
  let pad = "";
  for (const k of axes) {
    body.push(`${pad}for (int r${k} = 0; r${k} < ${xs[k]}; r${k}++) {`);
    pad += "  ";
  }
  body.push(...indent(em.lines, pad));
  if (n.op === "sum") body.push(`${pad}acc += ${v};`);
  else if (n.op === "max") body.push(`${pad}acc = max(acc, ${v});`);
  else body.push(`${pad}if (${v} > acc) { acc = ${v}; best = r${axes[0]}; }`);
  for (let k = axes.length - 1; k >= 0; k--) {
    pad = pad.slice(2);
    body.push(`${pad}}`);
  }
  body.push(n.op === "argmax" ? "out[i] = best;" : "out[i] = acc;");
  const R = axes.reduce((s, k) => s * xs[k], 1);
  return define(g, n, name, em, [
    omp(`${total} * ${R}`),
    `  for (int i = 0; i < ${total}; i++) {`,
    ...indent(body, "    "),
    "  }",
  ]);
}

export interface CEpilogue {
  /** Statements declaring the lambda `ep` (float v, int i) -> float. */
  lambda: string;
  /** Parameters the kernel function takes for the epilogue's reads. */
  params: string[];
  reads: number[];
  inlined: number[];
}

/** The elementwise chain from heavy value `heavy` up to `root` as a C++ lambda `ep`. */
export function fusedEpilogueC(
  g: Graph,
  heavy: number,
  root: number,
  materialized: (id: number) => boolean,
): CEpilogue {
  const n = g.node(root);
  const em = new Emitter(
    g,
    (id) => id !== root && id !== heavy && materialized(id),
    new Map([[heavy, "v"]]),
    "ep_in",
  );
  em.letKeyword = "const auto";
  const idx = unravel("ii", n.type.shape);
  em.identity = idx;
  em.identityShape = n.type.shape;
  const v = em.value(root, idx);
  const lambda = [
    "  auto ep = [&](float v, int ii) -> float {",
    "    const int i = ii;",
    "    (void)i;",
    ...em.lines.map((l) => "    " + cLiterals(l)),
    `    return ${cLiterals(v)};`,
    "  };",
  ].join("\n");
  return {
    lambda,
    params: params(g, em.reads, "ep_in"),
    reads: em.reads,
    inlined: [...em.inlined].sort((a, b) => a - b),
  };
}
