// C++ calls into compiler/c/attention.hpp for the embedding gather and the four fused
// attention ops, with shapes baked in as literals (the head size as a template argument,
// so the kernels' d-loops have constant trip counts).
import type { Graph, IrNode } from "../ir.ts";
import { numel } from "../ir.ts";
import { attentionDims } from "../ops/attention-dims.ts";

export interface HeavyCall {
  code: string;
  flops: number;
}

/** An f32 value as a C++ float literal that parses back to exactly that float. */
function floatLiteral(x: number): string {
  const f = Math.fround(x);
  if (Number.isNaN(f)) return `__builtin_nanf("")`;
  if (!Number.isFinite(f)) return f > 0 ? "__builtin_inff()" : "(-__builtin_inff())";
  // The shortest decimal that reads back as this double also reads back as this float.
  let s = Object.is(f, -0) ? "-0.0" : String(f);
  if (!/[.e]/.test(s)) s += ".0";
  return `${s}f`;
}

const FUNCS: Record<string, { fn: string; flops: number }> = {
  attention: { fn: "attention_forward", flops: 4 },
  attention_stats: { fn: "attention_stats", flops: 2 },
  attention_grad_q: { fn: "attention_grad_q", flops: 6 },
  attention_grad_kv: { fn: "attention_grad_kv", flops: 8 },
};

/** One C++ statement computing node n. `ins`: pointer expressions for n.inputs in order
 * (attention: q, k, v; attention_stats: q, k, dO, O; the grads: q, k, v, dO, stats). */
export function attentionCall(g: Graph, n: IrNode, ins: string[], out: string): HeavyCall {
  const f = FUNCS[n.op];
  if (!f) throw new Error(`internal: attentionCall for ${n.op}`);
  const arity = n.op === "attention" ? 3 : n.op === "attention_stats" ? 4 : 5;
  if (ins.length !== arity || n.inputs.length !== arity)
    throw new Error(`internal: ${n.op} takes ${arity} operands, got ${ins.length}`);
  const [q, k] = n.inputs;
  // attention_stats has no v operand; its shape is k's.
  const v = n.op === "attention_stats" ? k : n.inputs[2];
  const dims = attentionDims(g.type(q), g.type(k), g.type(v));
  const batch = numel(dims.batch);
  const { T, S, d } = dims;
  const scale = floatLiteral(n.attrs.scale as number);
  const args = [...ins, out, batch, T, S, scale].join(", ");
  return {
    code: `cld::${f.fn}<${d}>(${args});`,
    flops: f.flops * batch * T * S * d,
  };
}

/** out [..., D] = table[clamp(ids[...], 0, V - 1)]; `ins`: table, ids. */
export function gatherCall(g: Graph, n: IrNode, ins: string[], out: string): HeavyCall {
  const [table, ids] = n.inputs;
  const [V, D] = g.shape(table);
  const P = numel(g.shape(ids));
  return { code: `cld::gather(${ins[0]}, ${ins[1]}, ${out}, ${P}, ${V}, ${D});`, flops: 0 };
}
