// docs/ops.md: every IR op of the registry, with where it comes from (cld operators and
// built-ins, autodiff, optimizers; all measured) and its derivative rule (probed).
import { emitOptimizer, type OptimizerSpec } from "../../compiler/elab/optimizer.ts";
import { ParamRegistry } from "../../compiler/elab/params.ts";
import { Graph } from "../../compiler/ir.ts";
import { allOps, type OpDef } from "../../compiler/ops/index.ts";
import type { BuiltinInfo } from "./builtins-section.ts";
import { opsIn, runDemo } from "./demo.ts";
import { cell, code, list, sentence } from "./markdown.ts";
import { operatorDemos } from "./operator-demos.ts";

interface OpUse {
  forward: Set<string>;
  backward: Set<string>;
  optimizer: Set<string>;
}

/** Optimizer configurations whose update graphs are scanned for the ops they emit. */
const optimizerDemos: [string, OptimizerSpec][] = [
  ["`adamw` (with `clip_norm`, `weight_decay`, `ema`)", optimizerSpec("adamw")],
  ["`sgd` (with `momentum`, `weight_decay`)", optimizerSpec("sgd")],
];

function optimizerSpec(kind: "adamw" | "sgd"): OptimizerSpec {
  const spec = {
    name: "opt",
    kind,
    lr: 0.1,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    weightDecay: 0.01,
    momentum: kind === "sgd" ? 0.9 : 0,
    clipNorm: kind === "adamw" ? 1 : 0,
    schedule: "constant",
    warmup: 0,
    ema: kind === "adamw" ? 0.999 : 0,
  };
  return spec as unknown as OptimizerSpec;
}

function derivativeText(def: OpDef, graphs: Graph[]): string {
  if (!def.vjp) {
    if (def.kind === "source" || def.name === "iota") return "not needed (no tensor inputs)";
    if (def.noDerivative) return `**none**: ${def.noDerivative}`;
    return "**none**: autodiff fails if a gradient must flow through this op";
  }
  for (const g of graphs) {
    const node = g.nodes.find((n) => n.op === def.name);
    if (!node) continue;
    try {
      const cot = g.const(1, g.shape(node.id));
      const ds = def.vjp(g, node, cot);
      const got = node.inputs.map((_, k) => ds[k] !== null && ds[k] !== undefined);
      if (!got.some(Boolean)) return "defined, but it passes no gradient to any input";
      if (got.every(Boolean)) return node.inputs.length === 1 ? "yes" : "yes, to every input";
      const which = got.flatMap((b, k) => (b ? [String(k)] : []));
      const none = got.flatMap((b, k) => (b ? [] : [String(k)]));
      return `yes, to input ${list(which)} (none to input ${list(none)})`;
    } catch (e) {
      return `yes (the generator could not probe it: ${(e as Error).message})`;
    }
  }
  return "yes (a rule is defined; no built-in emits this op, so the generator did not probe it)";
}

export function opsMarkdown(infos: BuiltinInfo[]): string {
  const uses = new Map<string, OpUse>();
  const use = (op: string) => {
    let u = uses.get(op);
    if (!u) uses.set(op, (u = { forward: new Set(), backward: new Set(), optimizer: new Set() }));
    return u;
  };
  const graphs: Graph[] = [];
  for (const o of operatorDemos) {
    const d = runDemo(o.params, o.call);
    if (d.error) continue;
    graphs.push(d.graph);
    for (const op of d.forward) use(op).forward.add(code(o.syntax));
    for (const op of d.backward) use(op).backward.add(code(o.syntax));
  }
  for (const i of infos) {
    for (const d of i.demos) {
      if (!d.r.graph) continue;
      graphs.push(d.r.graph);
      for (const op of d.r.forward) use(op).forward.add(code(`${i.name}(...)`));
      for (const op of d.r.backward) use(op).backward.add(code(`${i.name}(...)`));
    }
  }
  for (const [label, spec] of optimizerDemos) {
    const g = new Graph();
    const w = g.param("w", { dtype: "f32", shape: [3, 4] });
    const gr = g.input("g", { dtype: "f32", shape: [3, 4] });
    const from = g.nodes.length;
    emitOptimizer(g, spec, new ParamRegistry(), [{ param: w, grad: gr }]);
    graphs.push(g);
    for (const op of opsIn(g, from, g.nodes.length)) use(op).optimizer.add(label);
  }
  const ops = allOps();
  const derivative = new Map(ops.map((d) => [d.name, derivativeText(d, graphs)]));
  const kinds: string[] = [];
  for (const d of ops) if (!kinds.includes(d.kind)) kinds.push(d.kind);
  const kindTitle: Record<string, string> = {
    source: "Sources",
    elementwise: "Elementwise",
    view: "Views",
    reduce: "Reductions",
    matmul: "Matrix products",
    conv: "Convolutions",
    other: "Other",
  };
  const kindDoc: Record<string, string> = {
    source: "Ops without tensor inputs that bring values into a step graph.",
    elementwise:
      "Each output element is a function of the same (broadcast) element of each input. The planner fuses chains of these into one kernel, or into the epilogue of a matrix product or convolution.",
    view: "Re-indexing without arithmetic. Fused kernels compute them as index arithmetic; they never get a kernel of their own unless their result must be stored.",
    reduce: "Reductions over axes. Each gets a kernel; elementwise producers are fused into it.",
    matmul:
      "Batched matrix products: register-blocked GEMM kernels (subgroup variants where the adapter supports them; 8 output rows per lane, 64 when M, N and K are all at least 256, whose longer JIT the large problem repays).",
    conv: "2-D convolutions (NCHW, OIHW) and the two ops their derivative needs.",
    other: "Ops with their own indexing schemes.",
  };
  const out: string[] = [
    "# IR operations",
    "",
    "<!-- Generated by tools/gen-docs.ts from the op registry (compiler/ops). Do not edit: run `npx tsx tools/gen-docs.ts`. -->",
    "",
    "Every step of a cld program is elaborated into a static graph of these ops (see [language.md](language.md#what-the-compiler-does-with-a-program)). Each op is defined once, in `compiler/ops/*.ts`, with its shape rule, float64 reference semantics (the interpreter that every kernel is tested against), WGSL lowering, derivative rule and the documentation below.",
    "",
    "How to read the entries:",
    "",
    "- **Kind** says how the planner treats the op (see the section intros).",
    "- **Example** is the op's own example; it is written in cld where a built-in or operator maps to the op, and in IR terms otherwise (`add(x, y)` is the `add` op; in cld it is written `x + y`).",
    "- **From cld** lists the operators and built-in functions that emit the op, **From autodiff** the ones whose derivative emits it, and **From optimizers** the optimizer updates that use it. All three are measured by running every built-in, operator and optimizer on a small example, not written by hand.",
    "- **Derivative** says whether the op has a reverse-mode rule, and which inputs receive a gradient, measured by calling the rule.",
    "- Binary elementwise ops broadcast like numpy: shapes are aligned at the last axis, and each pair of sizes must be equal or one of them 1.",
    "",
    "| Op | Kind | Summary | Derivative |",
    "| --- | --- | --- | --- |",
    ...ops.map(
      (d) =>
        `| [${code(d.name)}](#op-${d.name}) | ${d.kind} | ${cell(d.doc.summary)} | ${cell(derivative.get(d.name)!)} |`,
    ),
    "",
  ];
  for (const kind of kinds) {
    out.push(`## ${kindTitle[kind] ?? kind}`, "", kindDoc[kind] ?? "", "");
    for (const d of ops.filter((o) => o.kind === kind)) {
      out.push(`<a id="op-${d.name}"></a>`, "", `### ${code(d.name)}`, "");
      out.push(d.doc.summary, "");
      out.push(`- **Kind:** ${d.kind}`);
      if (d.doc.semantics) out.push(`- **Semantics:** ${d.doc.semantics}`);
      if (d.doc.constraints?.length)
        out.push(`- **Constraints:** ${d.doc.constraints.map(sentence).join(" ")}`);
      out.push(`- **Example:** ${code(d.doc.example)}`);
      const u = uses.get(d.name);
      if (u?.forward.size) out.push(`- **From cld:** ${[...u.forward].join(", ")}`);
      if (u?.backward.size)
        out.push(`- **From autodiff:** the derivative of ${[...u.backward].join(", ")}`);
      if (u?.optimizer.size) out.push(`- **From optimizers:** ${[...u.optimizer].join(", ")}`);
      out.push(`- **Derivative:** ${derivative.get(d.name)}`);
      out.push("");
    }
  }
  return out.join("\n");
}
