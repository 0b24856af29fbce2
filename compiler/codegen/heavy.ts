// Kernels for ops that are not fused elementwise work: matmul and convolutions (generated
// by compiler/kernels with shapes in uniforms, so one pipeline serves many sizes) and the
// embedding gather and fused attention.
import { type Graph, type IrNode, numel } from "../ir.ts";
import { matmulKernel, matmulSchedule, matmulVec4Ok, orientMatmul } from "../kernels/matmul.ts";
import { convDims } from "../ops/conv.ts";
import { matmulDims } from "../ops/matmul.ts";
import {
  conv2dBackwardInputFor,
  conv2dBackwardWeightFor,
  conv2dForwardFor,
} from "../kernels/conv2d.ts";
import { dispatch1d, WORKGROUP } from "./fused.ts";
import type { Epilogue } from "../kernels/epilogue.ts";
import { attentionKernel, type AttentionKernelKind } from "../kernels/attention.ts";
import { attentionDims } from "../ops/attention-dims.ts";

export interface HeavyKernel {
  wgsl: string;
  /** Binding order: value ids to bind, the output (-1 marks it) and uniform data. */
  bindings: (
    { kind: "value"; id: number } | { kind: "out" } | { kind: "uniform"; data: Uint32Array }
  )[];
  workgroups: [number, number, number];
  flops: number;
}

export interface Target {
  subgroups: boolean;
  /** Kernels in WGSL (Dawn: a GPU or lavapipe) or C++ (the native CPU target). */
  language?: "wgsl" | "c";
}

export function heavyKernel(g: Graph, n: IrNode, target: Target, epilogue?: Epilogue): HeavyKernel {
  switch (n.op) {
    case "matmul":
      return matmul(g, n, target, epilogue);
    case "conv2d":
    case "conv2d_grad_input":
    case "conv2d_grad_weight":
      return conv(g, n, target, epilogue);
    case "gather":
      return gather(g, n);
    case "attention":
    case "attention_stats":
    case "attention_grad_q":
    case "attention_grad_kv":
      return attention(g, n, target);
  }
  throw new Error(`internal: no kernel for ${n.op}`);
}

function matmul(g: Graph, n: IrNode, target: Target, epilogue?: Epilogue): HeavyKernel {
  const [a, b] = n.inputs;
  const transA = !!n.attrs.transA;
  const transB = !!n.attrs.transB;
  const d = matmulDims(g.type(a), g.type(b), transA, transB);
  let batch = numel(d.batch);
  let M = d.M;
  const aBatched = numel(g.shape(a).slice(0, -2)) > 1;
  const bBatched = numel(g.shape(b).slice(0, -2)) > 1;
  let strideA = aBatched ? d.M * d.K : 0;
  const strideB = bBatched ? d.K * d.N : 0;
  if (aBatched && !bBatched && !transA) {
    // A shared B: one tall GEMM over all batch rows.
    M = batch * d.M;
    batch = 1;
    strideA = 0;
  }
  const o = orientMatmul(
    { transA, transB },
    { M, N: d.N, K: d.K, batch, strideA, strideB, strideC: M * d.N },
  );
  const params = o.params;
  const schedule = matmulSchedule(params, target.subgroups);
  const vec4 = matmulVec4Ok({ ...o.opts, schedule }, params);
  const k = matmulKernel({ ...o.opts, subgroups: target.subgroups, vec4, epilogue, schedule });
  return {
    wgsl: k.wgsl,
    bindings: [
      { kind: "value", id: o.swap ? b : a },
      { kind: "value", id: o.swap ? a : b },
      { kind: "out" },
      { kind: "uniform", data: k.uniforms(params) },
    ],
    workgroups: k.workgroups(params.M, params.N, batch),
    flops: 2 * numel(d.batch) * d.M * d.N * d.K,
  };
}

function conv(g: Graph, n: IrNode, target: Target, epilogue?: Epilogue): HeavyKernel {
  const stride = n.attrs.stride as number;
  const pad = n.attrs.pad as number;
  const [p, q] = n.inputs;
  const xShape =
    n.op === "conv2d" ? g.shape(p) : n.op === "conv2d_grad_input" ? n.type.shape : g.shape(p);
  const wShape =
    n.op === "conv2d" ? g.shape(q) : n.op === "conv2d_grad_input" ? g.shape(q) : n.type.shape;
  const d = convDims(xShape, wShape, stride, pad);
  // The helpers pick the direct (stride-1, "same") kernels where they apply.
  const gen =
    n.op === "conv2d"
      ? conv2dForwardFor
      : n.op === "conv2d_grad_input"
        ? conv2dBackwardInputFor
        : conv2dBackwardWeightFor;
  const k = gen(d, { subgroups: target.subgroups, epilogue });
  return {
    wgsl: k.wgsl,
    bindings: [
      { kind: "value", id: p },
      { kind: "value", id: q },
      { kind: "out" },
      { kind: "uniform", data: k.uniforms(d) },
    ],
    workgroups: k.workgroups(d),
    flops: 2 * d.N * d.O * d.Ho * d.Wo * d.C * d.KH * d.KW,
  };
}

const simple = (decls: string, total: number, body: string): string =>
  [
    decls,
    `@compute @workgroup_size(${WORKGROUP})`,
    "fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {",
    `  let i = i32(gid.x + gid.y * nwg.x * ${WORKGROUP}u);`,
    `  if (i >= ${total}) { return; }`,
    body,
    "}",
    "",
  ].join("\n");

function gather(g: Graph, n: IrNode): HeavyKernel {
  const [table, ids] = n.inputs;
  const [V, D] = g.shape(table);
  const total = numel(n.type.shape);
  const wgsl = simple(
    [
      "@group(0) @binding(0) var<storage, read> table: array<f32>;",
      "@group(0) @binding(1) var<storage, read> ids: array<i32>;",
      "@group(0) @binding(2) var<storage, read_write> out: array<f32>;",
    ].join("\n"),
    total,
    `  let id = clamp(ids[i / ${D}], 0, ${V - 1});\n  out[i] = table[id * ${D} + i % ${D}];`,
  );
  return {
    wgsl,
    bindings: [{ kind: "value", id: table }, { kind: "value", id: ids }, { kind: "out" }],
    workgroups: dispatch1d(total),
    flops: 0,
  };
}

function attention(g: Graph, n: IrNode, target: Target): HeavyKernel {
  const [q, k] = n.inputs;
  // attention_stats has no v operand; its shape is k's.
  const v = n.op === "attention_stats" ? k : n.inputs[2];
  const dims = attentionDims(g.type(q), g.type(k), g.type(v));
  const kind = (n.op === "attention" ? "forward" : n.op.slice(10)) as AttentionKernelKind;
  const a = attentionKernel(
    kind,
    {
      batch: numel(dims.batch),
      T: dims.T,
      S: dims.S,
      d: dims.d,
      scale: n.attrs.scale as number,
    },
    { subgroups: target.subgroups },
  );
  return {
    wgsl: a.wgsl,
    bindings: [
      ...n.inputs.map((id) => ({ kind: "value" as const, id })),
      { kind: "out" },
      { kind: "uniform", data: a.uniforms },
    ],
    workgroups: a.workgroups,
    flops: a.flops,
  };
}
