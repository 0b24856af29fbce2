// Runs a built-in or operator on a small literal-shaped example through the real elaborator
// and autodiff, so the docs report measured result types, IR ops and gradient flow.
import type { Arg, BlockDecl } from "../../grammar/ast.ts";
import { parseFile } from "../../grammar/index.ts";
import { grad } from "../../compiler/autodiff.ts";
import { CompileError } from "../../compiler/diagnostics.ts";
import { Elaborator } from "../../compiler/elab/elaborator.ts";
import { ParamRegistry } from "../../compiler/elab/params.ts";
import type { Value } from "../../compiler/elab/values.ts";
import { Graph, showType } from "../../compiler/ir.ts";

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

export function opsIn(g: Graph, from: number, to: number): string[] {
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
