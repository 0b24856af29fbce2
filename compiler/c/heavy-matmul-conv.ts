// C++ calls into compiler/c/gemm.hpp (matmul) and compiler/c/conv.hpp (conv2d and its two
// gradients), with every shape baked in as an integer literal.
import type { Graph, IrNode } from "../ir.ts";
import { numel } from "../ir.ts";
import { convDims } from "../ops/conv.ts";
import { matmulDims } from "../ops/matmul.ts";

export interface HeavyCall {
  code: string;
  flops: number;
}

const epArg = (ep: string | null) => ep ?? "cld::NoEp{}";

/** A batch stride as a C++ long literal. */
const long = (x: number) => `${x}L`;

/** One C++ statement computing node n. `ins` are C++ pointer expressions for n.inputs in
 * order, `out` the output pointer expression, `ep` the name of an epilogue lambda in scope or
 * null (then pass cld::NoEp{}). */
export function matmulCall(
  g: Graph,
  n: IrNode,
  ins: string[],
  out: string,
  ep: string | null,
): HeavyCall {
  if (n.op !== "matmul") throw new Error(`internal: matmulCall for ${n.op}`);
  if (ins.length !== 2 || n.inputs.length !== 2)
    throw new Error(`internal: matmul takes 2 operands, got ${ins.length}`);
  const [a, b] = n.inputs;
  const transA = !!n.attrs.transA;
  const transB = !!n.attrs.transB;
  const d = matmulDims(g.type(a), g.type(b), transA, transB);
  const { M, N, K } = d;
  const batch = numel(d.batch);
  // An operand without batch entries of its own is shared (stride 0), as in the reference.
  const strideA = numel(g.shape(a).slice(0, -2)) === 1 ? 0 : M * K;
  const strideB = numel(g.shape(b).slice(0, -2)) === 1 ? 0 : K * N;
  const args = [
    ins[0],
    ins[1],
    out,
    batch,
    M,
    N,
    K,
    transA,
    transB,
    long(strideA),
    long(strideB),
    epArg(ep),
  ];
  return { code: `cld::matmul(${args.join(", ")});`, flops: 2 * batch * M * N * K };
}

const CONV_FUNCS: Record<string, string> = {
  conv2d: "conv2d",
  conv2d_grad_input: "conv2d_grad_input",
  conv2d_grad_weight: "conv2d_grad_weight",
};

/** conv2d(x, w) -> y; conv2d_grad_input(dy, w) -> dx; conv2d_grad_weight(x, dy) -> dw. */
export function convCall(
  g: Graph,
  n: IrNode,
  ins: string[],
  out: string,
  ep: string | null,
): HeavyCall {
  const fn = CONV_FUNCS[n.op];
  if (!fn) throw new Error(`internal: convCall for ${n.op}`);
  if (ins.length !== 2 || n.inputs.length !== 2)
    throw new Error(`internal: ${n.op} takes 2 operands, got ${ins.length}`);
  const stride = n.attrs.stride as number;
  const pad = n.attrs.pad as number;
  const [p, q] = n.inputs;
  const xShape = n.op === "conv2d_grad_input" ? n.type.shape : g.shape(p);
  const wShape = n.op === "conv2d_grad_weight" ? n.type.shape : g.shape(q);
  const d = convDims(xShape, wShape, stride, pad);
  const args = [ins[0], ins[1], out, d.N, d.C, d.H, d.W, d.O, d.KH, d.KW, stride, pad, epArg(ep)];
  return {
    code: `cld::${fn}(${args.join(", ")});`,
    flops: 2 * d.N * d.O * d.Ho * d.Wo * d.C * d.KH * d.KW,
  };
}
