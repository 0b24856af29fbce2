// Generates the reference parts of the documentation from the code, so they cannot drift:
//
//   docs/ops.md          every IR op of the registry (compiler/ops), with its derivative rule
//   docs/language.md     the regions between `<!-- NAME:begin -->` and `<!-- NAME:end -->`:
//                        keywords, operators, builtins, initializers, data-sources
//
// Every built-in function is run on a small example through the real elaborator: the result
// types, the IR ops each built-in emits and whether gradients flow through it are measured,
// not written by hand. Only the prose shape rules below are hand-written, and a built-in
// without one is marked in the output (and fails test/docs).
//
// Usage: npx tsx tools/gen-docs.ts          write the files
//        npx tsx tools/gen-docs.ts --check  exit 1 when they are out of date
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as prettier from "prettier";
import type { Arg, BlockDecl } from "../grammar/ast.ts";
import { parseFile } from "../grammar/index.ts";
import { keywords } from "../grammar/lexer.ts";
import { grad } from "../compiler/autodiff.ts";
import { CompileError } from "../compiler/diagnostics.ts";
import { builtins } from "../compiler/elab/builtins.ts";
import { dataSchemas } from "../compiler/elab/datasources.ts";
import { Elaborator } from "../compiler/elab/elaborator.ts";
import { initializerNames } from "../compiler/elab/init.ts";
import { ParamRegistry } from "../compiler/elab/params.ts";
import type { Value } from "../compiler/elab/values.ts";
import { Graph, showType } from "../compiler/ir.ts";
import { emitOptimizer, type OptimizerSpec } from "../compiler/elab/optimizer.ts";
import { allOps, type OpDef } from "../compiler/ops/index.ts";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

// ---------------------------------------------------------------- hand-written facts

export interface BuiltinDoc {
  /** Heading the built-in is listed under. */
  group: string;
  /** The shape rule, in words. */
  shape: string;
  /** Calls that are elaborated for the "checked example" (params use literal shapes). */
  demos: { params: string; call: string }[];
}

const unary = (params = "x: [2, 3]"): BuiltinDoc => ({
  group: "Elementwise math",
  shape: "the shape of `x`; `x` must be f32.",
  demos: [{ params, call: "" }],
});

/** One entry per built-in function. `call` "" means `NAME(x)`. */
export const builtinDocs: Record<string, BuiltinDoc> = {
  exp: unary(),
  log: unary(),
  sqrt: unary(),
  rsqrt: unary(),
  tanh: unary(),
  sigmoid: unary(),
  relu: unary(),
  silu: unary(),
  gelu: unary(),
  abs: { ...unary(), shape: "the shape and dtype of `x` (f32 or i32)." },
  sin: unary(),
  cos: unary(),
  square: unary(),
  maximum: {
    group: "Elementwise math",
    shape: "`x` and `y` broadcast together (numpy rules); their dtypes must match.",
    demos: [{ params: "x: [2, 3]", call: "maximum(x, 0.1 * x)" }],
  },
  minimum: {
    group: "Elementwise math",
    shape: "`x` and `y` broadcast together (numpy rules); their dtypes must match.",
    demos: [{ params: "x: [2, 3], y: [3]", call: "minimum(x, y)" }],
  },
  where: {
    group: "Elementwise math",
    shape:
      "`cond`, `x` and `y` broadcast together; `x` and `y` must have the same dtype, which the result has.",
    demos: [{ params: "x: [2, 3]", call: "where(x > 0, x, 0.1 * x)" }],
  },
  reshape: {
    group: "Shapes",
    shape:
      "`shape`, with one `-1` entry replaced by whatever makes the element counts equal; the element counts must match.",
    demos: [{ params: "x: [2, 3, 4]", call: "reshape(x, [2, -1])" }],
  },
  transpose: {
    group: "Shapes",
    shape:
      "output axis `i` has the size of input axis `perm[i]`; `perm` is a permutation of all axes.",
    demos: [{ params: "x: [2, 3, 4]", call: "transpose(x, [0, 2, 1])" }],
  },
  broadcast: {
    group: "Shapes",
    shape:
      "`shape`; `x` must broadcast to it (each axis of `x` is 1 or equal, missing leading axes are added).",
    demos: [{ params: "b: [3]", call: "broadcast(b, [2, 3])" }],
  },
  slice: {
    group: "Shapes",
    shape:
      "the shape of `x` with axis `axis` (negative counts from the end) of size `end - start`; needs `0 <= start <= end <= size`.",
    demos: [{ params: "x: [2, 6]", call: "slice(x, axis: -1, start: 2, end: 5)" }],
  },
  concat: {
    group: "Shapes",
    shape:
      "the shape of the first tensor with the sizes along `axis` added up; all other axes and the dtypes must match.",
    demos: [{ params: "h: [2, 3, 4, 4], skip: [2, 5, 4, 4]", call: "concat([h, skip], axis: 1)" }],
  },
  matmul: {
    group: "Linear algebra",
    shape:
      "`[..., M, K]` and `[..., K, N]` give `[..., M, N]` (after swapping the last two axes of `a` when `transA`, of `b` when `transB`). Both are f32 of rank >= 2. Batch axes broadcast; an operand without batch axes is shared by the whole batch.",
    demos: [
      { params: "q: [2, 4, 8], k: [2, 5, 8]", call: "matmul(q, k, transB: true)" },
      { params: "x: [2, 4, 8], w: [8, 3]", call: "matmul(x, w)" },
    ],
  },
  conv2d: {
    group: "Linear algebra",
    shape:
      "`x [N, C, H, W]` and `w [O, C, kh, kw]` give `[N, O, (H + 2·pad - kh) / stride + 1, (W + 2·pad - kw) / stride + 1]` (divisions round down). Needs `stride >= 1`, `pad >= 0`.",
    demos: [
      { params: "x: [2, 3, 8, 8], w: [4, 3, 3, 3]", call: "conv2d(x, w, stride: 2, pad: 1)" },
    ],
  },
  embed: {
    group: "Linear algebra",
    shape: "i32 `ids [...]` and an f32 `table [V, D]` give `[..., D]`. Ids must lie in `[0, V)`.",
    demos: [{ params: "tokens: i32[2, 5], table: [10, 4]", call: "embed(tokens, table)" }],
  },
  sum: {
    group: "Reductions",
    shape:
      "the shape of `x` without the reduced axes (kept as size 1 with `keepdims`). `axes: []` (the default) reduces every axis. Negative axes count from the end; an axis may not repeat.",
    demos: [{ params: "x: [2, 3, 4]", call: "sum(x, axes: [1])" }],
  },
  mean: {
    group: "Reductions",
    shape: "as `sum`.",
    demos: [{ params: "x: [2, 3, 4]", call: "mean(x, axes: [-1], keepdims: true)" }],
  },
  max: {
    group: "Reductions",
    shape: "as `sum`.",
    demos: [{ params: "x: [2, 3, 4]", call: "max(x, axes: [-1])" }],
  },
  argmax: {
    group: "Reductions",
    shape: "the shape of `x` without `axis`; the result is i32.",
    demos: [{ params: "logits: [2, 10]", call: "argmax(logits)" }],
  },
  softmax: {
    group: "Neural-network functions",
    shape: "the shape of `x`.",
    demos: [{ params: "scores: [2, 5]", call: "softmax(scores)" }],
  },
  log_softmax: {
    group: "Neural-network functions",
    shape: "the shape of `x`.",
    demos: [{ params: "logits: [2, 5]", call: "log_softmax(logits)" }],
  },
  one_hot: {
    group: "Neural-network functions",
    shape: "i32 `ids [...]` give f32 `[..., n]`.",
    demos: [{ params: "labels: i32[4]", call: "one_hot(labels, 10)" }],
  },
  cross_entropy: {
    group: "Neural-network functions",
    shape: "f32 `logits [..., C]` and i32 `labels [...]` give a scalar `[]`.",
    demos: [{ params: "logits: [4, 10], labels: i32[4]", call: "cross_entropy(logits, labels)" }],
  },
  mse: {
    group: "Neural-network functions",
    shape: "`x` and `y` broadcast together; the result is a scalar `[]`.",
    demos: [{ params: "x: [2, 3, 4, 4], y: [2, 3, 4, 4]", call: "mse(x, y)" }],
  },
  layer_norm: {
    group: "Neural-network functions",
    shape: "the shape of `x`. No learned scale or shift (see `LayerNorm` in models/layers.cld).",
    demos: [{ params: "h: [2, 5, 8]", call: "layer_norm(h)" }],
  },
  group_norm: {
    group: "Neural-network functions",
    shape:
      "`x` must be `[N, C, H, W]` with `C` divisible by `groups`; the result has the same shape. No learned scale or shift (see `GroupNorm` in models/layers.cld).",
    demos: [{ params: "h: [2, 8, 4, 4]", call: "group_norm(h, groups: 4)" }],
  },
  upsample2x: {
    group: "Neural-network functions",
    shape: "`[N, C, H, W]` gives `[N, C, 2H, 2W]`.",
    demos: [{ params: "h: [2, 3, 4, 4]", call: "upsample2x(h)" }],
  },
  avgpool2x: {
    group: "Neural-network functions",
    shape: "`[N, C, H, W]` with even `H` and `W` gives `[N, C, H/2, W/2]`.",
    demos: [{ params: "h: [2, 3, 4, 4]", call: "avgpool2x(h)" }],
  },
  randn: {
    group: "Noise and indices",
    shape: "f32 of the given shape.",
    demos: [{ params: "", call: "randn([2, 3, 4, 4])" }],
  },
  rand: {
    group: "Noise and indices",
    shape: "f32 of the given shape.",
    demos: [{ params: "", call: "rand([4])" }],
  },
  iota: {
    group: "Noise and indices",
    shape: "i32 of the given shape; the value at each position is its index along `axis`.",
    demos: [{ params: "", call: "iota([2, 3], axis: 1)" }],
  },
  to_float: {
    group: "Conversions and shapes",
    shape: "the shape of `x`, as f32.",
    demos: [{ params: "ids: i32[4]", call: "to_float(ids)" }],
  },
  rows: {
    group: "Training",
    shape:
      "not a tensor: marks the rows `ids` of the parameter `param` as its only trainable part, for `minimize ... over`.",
    demos: [],
  },
  adaptables: {
    group: "Training",
    shape:
      "not a tensor: a list of the model's `adaptable` parameter tensors that this step's graph uses, in the order they were created.",
    demos: [],
  },
  grad: {
    group: "Training",
    shape: "the shape of `wrt`; `loss` must be an f32 scalar.",
    demos: [{ params: "x: [2, 3]", call: "grad(sum(square(x)), x)" }],
  },
  state: {
    group: "Training",
    shape:
      'the shape and dtype of `like`. Named `NAME.PARAM` when `like` is a parameter (`state("fisher", w)` for `unet.h2.s_1.wk` is `fisher.unet.h2.s_1.wk`), else `NAME`; the same name in another step is the same tensor; saved in checkpoints.',
    demos: [{ params: "x: [2, 3]", call: 'state("fisher", x)' }],
  },
  assign: {
    group: "Training",
    shape:
      "the shape and dtype of `target` (a `state(...)` or an adapter's `past`); `value` must have them too, or be a scalar (broadcast). Reads of `target` in the same step see the old value. The result is `value`.",
    demos: [{ params: "x: [2, 3]", call: 'assign(state("total", x), x * 2)' }],
  },
  stop_gradient: {
    group: "Training",
    shape: "the shape and dtype of `x`.",
    demos: [{ params: "x: [2, 3]", call: "stop_gradient(x)" }],
  },
  shape: {
    group: "Conversions and shapes",
    shape: "not a tensor: a compile-time list of ints, one per axis.",
    demos: [{ params: "x: [2, 3]", call: "shape(x)" }],
  },
};

/** The tensor operators of the language, each run through the elaborator like a built-in. */
const operatorDemos: { syntax: string; params: string; call: string; note: string }[] = [
  { syntax: "a + b", params: "a: [2, 3], b: [3]", call: "a + b", note: "broadcasts" },
  { syntax: "a - b", params: "a: [2, 3], b: [3]", call: "a - b", note: "broadcasts" },
  {
    syntax: "a * b",
    params: "a: [2, 3], b: [3]",
    call: "a * b",
    note: "elementwise (Hadamard); broadcasts",
  },
  { syntax: "a / b", params: "a: [2, 3], b: [3]", call: "a / b", note: "broadcasts" },
  { syntax: "a ** b", params: "a: [2, 3], b: [2, 3]", call: "a ** b", note: "broadcasts" },
  {
    syntax: "a ** 2",
    params: "a: [2, 3]",
    call: "a ** 2",
    note: "a number exponent equal to 2 becomes `square`",
  },
  { syntax: "a @ b", params: "a: [2, 4, 8], b: [8, 3]", call: "a @ b", note: "as `matmul(a, b)`" },
  {
    syntax: "a == b",
    params: "a: [2, 3], b: [3]",
    call: "a == b",
    note: "f32 1 or 0; no gradient",
  },
  {
    syntax: "a != b",
    params: "a: [2, 3], b: [3]",
    call: "a != b",
    note: "f32 1 or 0; no gradient",
  },
  { syntax: "a < b", params: "a: [2, 3], b: [3]", call: "a < b", note: "f32 1 or 0; no gradient" },
  {
    syntax: "a <= b",
    params: "a: [2, 3], b: [3]",
    call: "a <= b",
    note: "f32 1 or 0; no gradient",
  },
  { syntax: "a > b", params: "a: [2, 3], b: [3]", call: "a > b", note: "f32 1 or 0; no gradient" },
  {
    syntax: "a >= b",
    params: "a: [2, 3], b: [3]",
    call: "a >= b",
    note: "f32 1 or 0; no gradient",
  },
  { syntax: "-a", params: "a: [2, 3]", call: "-a", note: "" },
];

// ---------------------------------------------------------------- running examples

export interface DemoResult {
  /** `[2, 3]`, `i32[4]`, or a description of a non-tensor result. */
  result: string;
  isTensor: boolean;
  /** IR ops of the forward computation (sources excluded), in order of first appearance. */
  forward: string[];
  /** IR ops that reverse-mode autodiff adds. */
  backward: string[];
  /** Per f32 tensor parameter: whether d(sum of result)/d(param) is structurally non-zero. */
  gradients: { name: string; flows: boolean }[] | null;
  graph: Graph;
  error: string | null;
}

const SOURCES = new Set(["input", "param", "const"]);

function opsIn(g: Graph, from: number, to: number): string[] {
  const seen: string[] = [];
  for (const n of g.nodes.slice(from, to))
    if (!SOURCES.has(n.op) && !seen.includes(n.op)) seen.push(n.op);
  return seen;
}

function showValue(v: Value, g: Graph): string {
  switch (v.kind) {
    case "tensor":
      return showType(g.type(v.id));
    case "list":
      return `[${v.items.map((x) => showValue(x, g)).join(", ")}]`;
    case "int":
    case "float":
      return String(v.value);
    default:
      return v.kind;
  }
}

/** Elaborates `block Demo(params) { return call }` on literal-shaped inputs. */
export function runDemo(params: string, call: string): DemoResult {
  const src = `block Demo(${params}) {\n  return ${call}\n}\n`;
  const parsed = parseFile(src, "demo.cld");
  const fail = (error: string): DemoResult => ({
    result: "",
    isTensor: false,
    forward: [],
    backward: [],
    gradients: null,
    graph: null as unknown as Graph,
    error,
  });
  if (!parsed.ast || parsed.diagnostics.length) {
    return fail(parsed.diagnostics.map((d) => d.message).join("; ") || "does not parse");
  }
  const decl = parsed.ast.decls[0] as BlockDecl;
  const el = new Elaborator({ blocks: new Map([["Demo", decl]]), registry: new ParamRegistry() });
  const args: { arg: Arg; value: Value }[] = [];
  const tensors: { name: string; id: number }[] = [];
  for (const p of decl.params) {
    if (p.type?.kind !== "TensorType")
      return fail(`demo parameter '${p.name.name}' needs a tensor type`);
    const shape = p.type.dims.map((d) => (d.kind === "Number" ? d.value : NaN));
    if (shape.some((d) => Number.isNaN(d)))
      return fail(`demo parameter '${p.name.name}' needs literal dims`);
    const id = el.g.input(p.name.name, { dtype: p.type.dtype, shape });
    tensors.push({ name: p.name.name, id });
    args.push({
      arg: {
        name: p.name,
        value: { kind: "Name", name: p.name.name, range: p.range },
        range: p.range,
      },
      value: { kind: "tensor", id },
    });
  }
  let v: Value;
  try {
    v = el.callBlock(
      { kind: "block", decl, bound: new Map(), scope: "demo" },
      args,
      decl.name,
      { path: "", used: new Map(), allowParams: true },
      null,
    );
  } catch (e) {
    if (e instanceof CompileError) return fail(e.diagnostics.map((d) => d.message).join("; "));
    throw e;
  }
  const g = el.g;
  const end = g.nodes.length;
  const result: DemoResult = {
    result: showValue(v, g),
    isTensor: v.kind === "tensor",
    forward: opsIn(g, 0, end),
    backward: [],
    gradients: null,
    graph: g,
    error: null,
  };
  const wrt = tensors.filter((t) => g.type(t.id).dtype === "f32");
  if (v.kind === "tensor" && g.type(v.id).dtype === "f32" && wrt.length) {
    const shape = g.shape(v.id);
    const loss = shape.length
      ? g.sum(
          v.id,
          shape.map((_, i) => i),
        )
      : v.id;
    const mark = g.nodes.length;
    try {
      const grads = grad(
        g,
        loss,
        wrt.map((t) => t.id),
      );
      result.gradients = wrt.map((t, i) => {
        const n = g.node(grads[i]);
        return { name: t.name, flows: !(n.op === "const" && n.attrs.value === 0) };
      });
      result.backward = opsIn(g, mark, g.nodes.length);
    } catch (e) {
      result.error = `autodiff: ${(e as Error).message}`;
    }
  }
  return result;
}

// ---------------------------------------------------------------- markdown helpers

const code = (s: string) => (s.includes("`") ? `\`\` ${s} \`\`` : `\`${s}\``);
/** A table cell: pipes escaped, newlines flattened. */
const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");
const sentence = (s: string) => {
  const t = s.trim();
  if (!t) return t;
  const up = t[0].toUpperCase() + t.slice(1);
  return /[.!?]$/.test(up) ? up : `${up}.`;
};
const list = (xs: string[]) =>
  xs.length <= 1 ? xs.join("") : `${xs.slice(0, -1).join(", ")} and ${xs[xs.length - 1]}`;

function showDefault(v: Value): string {
  switch (v.kind) {
    case "int":
      return String(v.value);
    case "float":
      return Number.isInteger(v.value) ? v.value.toFixed(1) : String(v.value);
    case "bool":
      return String(v.value);
    case "string":
      return JSON.stringify(v.value);
    case "list":
      return `[${v.items.map(showDefault).join(", ")}]`;
    default:
      return v.kind;
  }
}

type BuiltinDef = typeof builtins extends Map<string, infer B> ? B : never;

const kindText: Record<string, string> = {
  tensor: "tensor",
  tensors: "[tensor]",
  ints: "[int]",
  int: "int",
  float: "float",
  bool: "bool",
  string: "string",
  any: "any",
};

function signature(name: string, b: BuiltinDef, demo: DemoResult | null): string {
  const ps = b.params.map(
    (p) =>
      `${p.name}: ${kindText[p.kind] ?? p.kind}${p.default ? ` = ${showDefault(p.default)}` : ""}`,
  );
  const ret = demo && !demo.error ? (demo.isTensor ? "tensor" : "[int]") : "tensor";
  return `${name}(${ps.join(", ")}) -> ${ret}`;
}

// ---------------------------------------------------------------- generated regions

function keywordsSection(): string {
  return keywords.map(code).join(" ") + "\n";
}

function operatorsSection(): string {
  const rows = operatorDemos.map((o) => {
    const d = runDemo(o.params, o.call);
    if (d.error) throw new Error(`operator demo ${o.syntax}: ${d.error}`);
    const ir = d.forward.map(code).join(", ");
    const grads = d.gradients
      ? d.gradients
          .filter((x) => x.flows)
          .map((x) => code(x.name))
          .join(", ") || "none"
      : "none";
    return `| ${cell(code(o.syntax))} | ${cell(ir)} | ${cell(code(o.params))} | ${code(d.result)} | ${grads} | ${cell(o.note)} |`;
  });
  return [
    "| Expression | IR ops | Checked with | Result | Gradient to | Note |",
    "| --- | --- | --- | --- | --- | --- |",
    ...rows,
    "",
  ].join("\n");
}

interface BuiltinInfo {
  name: string;
  def: BuiltinDef;
  doc: BuiltinDoc | undefined;
  demos: { params: string; call: string; r: DemoResult }[];
}

function builtinInfos(): BuiltinInfo[] {
  return [...builtins].map(([name, def]) => {
    const doc = builtinDocs[name];
    const demos = (doc?.demos ?? []).map((d) => {
      const call = d.call || `${name}(x)`;
      return { params: d.params, call, r: runDemo(d.params, call) };
    });
    return { name, def, doc, demos };
  });
}

function builtinsSection(infos: BuiltinInfo[]): string {
  const out: string[] = [];
  const groups: string[] = [];
  for (const i of infos) {
    const g = i.doc?.group ?? "Not yet documented";
    if (!groups.includes(g)) groups.push(g);
  }
  out.push("| Function | Summary |", "| --- | --- |");
  for (const i of infos) {
    out.push(`| [${code(i.name)}](#builtin-${i.name}) | ${cell(i.def.doc)} |`);
  }
  out.push("");
  for (const group of groups) {
    out.push(`### ${group}`, "");
    for (const i of infos.filter((x) => (x.doc?.group ?? "Not yet documented") === group)) {
      const first = i.demos[0]?.r ?? null;
      out.push(`<a id="builtin-${i.name}"></a>`, "", `#### ${code(i.name)}`, "");
      out.push("```text", signature(i.name, i.def, first), "```", "");
      out.push(i.def.doc, "");
      out.push(
        `- **Shape:** ${i.doc ? i.doc.shape : "_not documented yet: add an entry to `builtinDocs` in tools/gen-docs.ts._"}`,
      );
      out.push(`- **Example:** ${code(i.def.example)}`);
      for (const d of i.demos) {
        if (d.r.error && !d.r.result) {
          out.push(
            `- **Checked:** ${code(d.call)} with ${code(d.params || "no inputs")} fails: ${d.r.error}`,
          );
          continue;
        }
        const inputs = d.params ? ` with ${code(d.params)}` : "";
        out.push(`- **Checked:** ${code(d.call)}${inputs} gives ${code(d.r.result)}.`);
      }
      if (first && !first.error) {
        if (first.gradients) {
          const to = first.gradients.filter((x) => x.flows).map((x) => code(x.name));
          const not = first.gradients.filter((x) => !x.flows).map((x) => code(x.name));
          out.push(
            `- **Gradient:** ${to.length ? `flows to ${list(to)}` : "none (zero almost everywhere)"}${to.length && not.length ? `; none to ${list(not)}` : ""}.`,
          );
        } else if (first.isTensor) {
          const why = first.result.startsWith("i32")
            ? "the result is i32"
            : "the function has no f32 tensor inputs";
          out.push(`- **Gradient:** none (${why}).`);
        }
        if (first.forward.length) out.push(`- **IR ops:** ${first.forward.map(code).join(", ")}.`);
      } else if (first?.error) {
        out.push(`- **Gradient:** ${first.error}.`);
      }
      if (i.def.scalar) {
        out.push(
          `- **Compile time:** called with numbers only (positional), it is evaluated by the compiler and gives a float: ${code(
            `${i.name}(${i.def.params
              .filter((p) => p.kind === "tensor")
              .map(() => "2")
              .join(", ")})`,
          )} is ${code(String(i.def.scalar(i.def.params.filter((p) => p.kind === "tensor").map(() => 2))))}.`,
        );
      }
      out.push("");
    }
  }
  return out.join("\n");
}

function initializersSection(): string {
  const what: Record<string, string> = {
    zeros: "all 0 (also what a `param` without `=` gets)",
    ones: "all 1",
    glorot: "uniform in `[-l, l]`, `l = sqrt(6 / (fan_in + fan_out))`",
    he: "normal with standard deviation `sqrt(2 / fan_in)`",
    normal: "`normal(std)`: normal with mean 0 and standard deviation `std`",
    uniform: "`uniform(limit)`: uniform in `[-limit, limit]`",
    constant: "`constant(value)`: all `value`",
  };
  const rows = initializerNames.map(
    (n) =>
      `| ${code(n)} | ${cell(what[n] ?? "_not documented yet: add it to tools/gen-docs.ts_")} |`,
  );
  return ["| Initializer | Initial values |", "| --- | --- |", ...rows, ""].join("\n");
}

function dataSourcesSection(): string {
  const out: string[] = [];
  for (const [name, s] of Object.entries(dataSchemas)) {
    const symbolic: Record<string, number | string | boolean> = {};
    const defaults: Record<string, number | string | boolean> = {};
    for (const p of s.params) {
      defaults[p.name] = p.default ?? (p.kind === "int" ? 1 : "");
      symbolic[p.name] = p.kind === "int" ? p.name : (p.default ?? "");
    }
    let fields: ReturnType<typeof s.fields>;
    try {
      fields = s.fields(symbolic);
    } catch {
      fields = s.fields(defaults);
    }
    out.push(`#### ${code(name)}`, "", sentence(s.doc), "");
    out.push("| Argument | Type | Default |", "| --- | --- | --- |");
    for (const p of s.params) {
      const dflt = p.default === undefined ? "required" : code(JSON.stringify(p.default));
      const type = p.choices ? p.choices.map((c) => code(JSON.stringify(c))).join(" or ") : p.kind;
      out.push(`| ${code(p.name)} | ${cell(type)} | ${cell(dflt)} |`);
    }
    out.push("", "| Batch field | Type |", "| --- | --- |");
    for (const [f, t] of Object.entries(fields)) {
      out.push(
        `| ${code(`b.${f}`)} | ${code(`${t.dtype === "f32" ? "" : t.dtype}[${t.shape.join(", ")}]`)} |`,
      );
    }
    out.push("");
    if (s.constants) {
      const names = Object.keys(s.constants(defaults));
      out.push(
        `Compile-time int constants, read on the data member (for \`data d = ${name}(...)\`, write \`d.${names[0] ?? "NAME"}\`): ${names.map(code).join(", ")}.`,
        "",
      );
    }
  }
  return out.join("\n");
}

// ---------------------------------------------------------------- docs/ops.md

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

function opsMarkdown(infos: BuiltinInfo[]): string {
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
      "Batched matrix products: tiled GEMM kernels (subgroup variants where the adapter supports them).",
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

// ---------------------------------------------------------------- assembly

export const regions = [
  "keywords",
  "operators",
  "builtins",
  "initializers",
  "data-sources",
] as const;

/** Replaces the text between `<!-- NAME:begin -->` and `<!-- NAME:end -->`. */
export function replaceRegion(text: string, name: string, body: string): string {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`docs/language.md has no region ${begin} ... ${end}`);
  const note = `<!-- Generated by tools/gen-docs.ts; do not edit by hand. -->`;
  return `${text.slice(0, i + begin.length)}\n${note}\n\n${body.trim()}\n\n${text.slice(j)}`;
}

async function format(text: string, file: string): Promise<string> {
  const options = (await prettier.resolveConfig(file)) ?? {};
  return prettier.format(text, { ...options, filepath: file });
}

export interface Generated {
  opsMd: string;
  languageMd: string;
  /** Built-ins without an entry in `builtinDocs`, and entries without a built-in. */
  undocumented: string[];
  stale: string[];
}

/** Builds both documents in memory from the code and the current docs/language.md. */
export async function generate(languageMd?: string): Promise<Generated> {
  const langPath = join(root, "docs", "language.md");
  let lang = languageMd ?? readFileSync(langPath, "utf8");
  const infos = builtinInfos();
  const bodies: Record<(typeof regions)[number], string> = {
    keywords: keywordsSection(),
    operators: operatorsSection(),
    builtins: builtinsSection(infos),
    initializers: initializersSection(),
    "data-sources": dataSourcesSection(),
  };
  for (const r of regions) lang = replaceRegion(lang, r, bodies[r]);
  return {
    opsMd: await format(opsMarkdown(infos), join(root, "docs", "ops.md")),
    languageMd: await format(lang, langPath),
    undocumented: [...builtins.keys()].filter((n) => !builtinDocs[n]),
    stale: Object.keys(builtinDocs).filter((n) => !builtins.has(n)),
  };
}

async function main(argv: string[]): Promise<number> {
  const g = await generate();
  const files: [string, string][] = [
    [join(root, "docs", "ops.md"), g.opsMd],
    [join(root, "docs", "language.md"), g.languageMd],
  ];
  for (const n of g.undocumented)
    console.error(`warning: built-in '${n}' has no entry in builtinDocs (tools/gen-docs.ts)`);
  for (const n of g.stale)
    console.error(`warning: builtinDocs has an entry for '${n}', which is not a built-in`);
  if (argv.includes("--check")) {
    const stale = files.filter(([p, t]) => readFileSync(p, "utf8") !== t).map(([p]) => p);
    for (const p of stale) console.error(`out of date: ${p} (run npx tsx tools/gen-docs.ts)`);
    return stale.length ? 1 : 0;
  }
  for (const [p, t] of files) {
    let old = "";
    try {
      old = readFileSync(p, "utf8");
    } catch {
      // new file
    }
    if (old !== t) {
      writeFileSync(p, t);
      console.log(`wrote ${p}`);
    }
  }
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
