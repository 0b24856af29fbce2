// C++ functions for the ops that are not fused elementwise work: a call into the kernel
// library (gemm.hpp, conv.hpp, attention.hpp) with shapes baked in, wrapped in a function
// whose parameters are the op's operands, its output and its epilogue's reads.
import type { Graph, IrNode } from "../ir.ts";
import { convCall, matmulCall } from "./heavy-matmul-conv.ts";
import { attentionCall, gatherCall } from "./heavy-attention.ts";
import { type CEpilogue, cType } from "./fused-c.ts";

export interface CHeavyFunction {
  code: string;
  /** Operands in parameter order (the output and then the epilogue's reads follow). */
  reads: number[];
  flops: number;
}

export function heavyFunctionC(
  g: Graph,
  host: IrNode,
  outDtype: string,
  epilogue: CEpilogue | null,
  name: string,
): CHeavyFunction {
  const ins = host.inputs.map((_, k) => `in${k}`);
  const ep = epilogue ? "ep" : null;
  let call: { code: string; flops: number };
  switch (host.op) {
    case "matmul":
      call = matmulCall(g, host, ins, "out", ep);
      break;
    case "conv2d":
    case "conv2d_grad_input":
    case "conv2d_grad_weight":
      call = convCall(g, host, ins, "out", ep);
      break;
    case "gather":
      call = gatherCall(g, host, ins, "out");
      break;
    case "attention":
    case "attention_stats":
    case "attention_grad_q":
    case "attention_grad_kv":
      call = attentionCall(g, host, ins, "out");
      break;
    default:
      throw new Error(`internal: no C kernel for ${host.op}`);
  }
  const args = [
    ...host.inputs.map((id, k) => `const ${cType(g.type(id).dtype)}* __restrict in${k}`),
    `${cType(outDtype)}* __restrict out`,
    ...(epilogue?.params ?? []),
  ];
  const body = [epilogue?.lambda ?? "", "  " + call.code].filter(Boolean);
  return {
    code: [`static void ${name}(${args.join(", ")}) {`, ...body, "}"].join("\n"),
    reads: [...host.inputs],
    flops: call.flops,
  };
}
