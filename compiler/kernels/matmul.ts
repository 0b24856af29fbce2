// Batched matmul C[b] = op(A[b]) @ op(B[b]) as WGSL text. Shapes live in a uniform so one
// pipeline per (transA, transB, subgroups, vec4, epilogue, schedule) serves every size.
import type { Epilogue } from "./epilogue.ts";
import {
  gemmWgsl,
  gemmWorkgroups,
  LANES,
  LAVAPIPE_LARGE_SCHEDULE,
  LAVAPIPE_SCHEDULE,
  rowGroups,
  type Schedule,
} from "./gemm.ts";

export interface MatmulOptions {
  /** A is stored [K, M] (row-major) and used transposed. */
  transA: boolean;
  /** B is stored [N, K] and used transposed. */
  transB: boolean;
  /** C is stored [N, M]: the kernel's (row, col) result goes to C[col * M + row]. */
  transC?: boolean;
  subgroups: boolean;
  epilogue?: Epilogue;
  schedule?: Schedule;
  /**
   * Bind A and B as array<vec4<f32>> and load whole vec4s (about 1.6x faster on lavapipe).
   * Only valid when `matmulVec4Ok` holds for every shape the pipeline is used with.
   */
  vec4?: boolean;
}

export interface MatmulParams {
  M: number;
  N: number;
  K: number;
  batch: number;
  /** Elements between consecutive batch items; 0 broadcasts the operand. */
  strideA: number;
  strideB: number;
  /** Usually M * N; C rows are contiguous with leading dimension N. */
  strideC: number;
}

export interface MatmulKernel {
  wgsl: string;
  /** Bindings: 0 A, 1 B, 2 C, 3 params uniform, then the epilogue's from 4. */
  bindings: number;
  workgroups(M: number, N: number, batch: number): [number, number, number];
  uniforms(p: MatmulParams): Uint32Array;
}

/** Whether the vec4 variant is valid: every contiguous extent and batch stride % 4 == 0. */
export function matmulVec4Ok(
  opts: Pick<MatmulOptions, "transA" | "transB" | "schedule">,
  p: MatmulParams,
): boolean {
  const rows = (opts.schedule ?? LAVAPIPE_SCHEDULE).rows;
  const aInner = opts.transA ? p.M : p.K;
  const bInner = opts.transB ? p.K : p.N;
  return (
    aInner % 4 === 0 &&
    bInner % 4 === 0 &&
    p.strideA % 4 === 0 &&
    p.strideB % 4 === 0 &&
    (!opts.transA || rows % 4 === 0)
  );
}

/** Smallest M, N and K that take the large schedule (a 256^3 GEMM runs ~2 ms per call). */
export const LARGE_GEMM_MIN = 256;

/**
 * The register schedule for a GEMM of these dimensions: the 64-row one when every
 * dimension is large (its longer JIT is repaid in training and sampling loops), else the
 * default.
 */
export function matmulSchedule(
  p: Pick<MatmulParams, "M" | "N" | "K">,
  subgroups: boolean,
): Schedule {
  const large = Math.min(p.M, p.N, p.K) >= LARGE_GEMM_MIN;
  return subgroups && large ? LAVAPIPE_LARGE_SCHEDULE : LAVAPIPE_SCHEDULE;
}

/**
 * The orientation to compute C = op(A) op(B) in. A lane owns 8 rows x 4 columns and an
 * 8-lane group 32 columns, so a narrow C (attention's N = head dim 16) wastes half the
 * lanes on clamped columns; then compute C^T = op(B)^T op(A)^T instead, stored transposed.
 */
export function orientMatmul(
  o: { transA: boolean; transB: boolean },
  p: MatmulParams,
  schedule: Schedule = LAVAPIPE_SCHEDULE,
): {
  opts: { transA: boolean; transB: boolean; transC: boolean };
  params: MatmulParams;
  swap: boolean;
} {
  const padded = (M: number, N: number) =>
    Math.ceil(M / schedule.rows) * schedule.rows * Math.ceil(N / (LANES * 4)) * LANES * 4;
  const swapped = {
    opts: { transA: !o.transB, transB: !o.transA, transC: true },
    params: { ...p, M: p.N, N: p.M, strideA: p.strideB, strideB: p.strideA },
    swap: true,
  };
  const vecOk = matmulVec4Ok({ ...o, schedule }, p);
  const swapVecOk = matmulVec4Ok({ ...swapped.opts, schedule }, swapped.params);
  if (4 * padded(p.N, p.M) <= 3 * padded(p.M, p.N) && (swapVecOk || !vecOk)) return swapped;
  return { opts: { ...o, transC: false }, params: p, swap: false };
}

const decls = (v: boolean) => {
  const t = v ? "vec4<f32>" : "f32";
  return `struct Params { M: u32, N: u32, K: u32, batch: u32, strideA: u32, strideB: u32, strideC: u32, gy: u32 }
@group(0) @binding(0) var<storage, read> A: array<${t}>;
@group(0) @binding(1) var<storage, read> B: array<${t}>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;`;
};

const C4 = ["x", "y", "z", "w"];

export function matmulKernel(opts: MatmulOptions): MatmulKernel {
  const schedule = opts.schedule ?? LAVAPIPE_SCHEDULE;
  const R = schedule.rows;
  const v4 = !!opts.vec4 && schedule.kVec === 4 && (!opts.transA || R % 4 === 0);
  const el = (arr: string, i: string) => (v4 ? `${arr}[(${i}) / 4u][(${i}) % 4u]` : `${arr}[${i}]`);
  // Element strides of op(A) along rows / k and of op(B) along k / columns.
  const sAm = opts.transA ? "1u" : "K";
  const sAk = opts.transA ? "M" : "1u";
  const sBk = opts.transB ? "1u" : "N";
  const sBn = opts.transB ? "K" : "1u";
  const setup: string[] = [
    "let aBase = bz * P.strideA;",
    "let bBase = bz * P.strideB;",
    "let cBase = bz * P.strideC;",
  ];
  // Clamped rows/columns keep every load in bounds; the store drops them.
  for (let r = 0; r < R; r++)
    setup.push(`let ar${r} = aBase + min(row0 + ${r}u, M - 1u) * ${sAm};`);
  for (let j = 0; j < 4; j++) setup.push(`let bc${j} = min(col0 + ${j}u, N - 1u) * ${sBn};`);
  const aPrep = opts.transA
    ? "let kq0 = ka * M;\nlet kq1 = kq0 + M;\nlet kq2 = kq1 + M;\nlet kq3 = kq2 + M;"
    : "let kq0 = ka;\nlet kq1 = ka + 1u;\nlet kq2 = ka + 2u;\nlet kq3 = ka + 3u;";

  let aFast: string | undefined;
  let bFast: string | undefined;
  if (v4) {
    const a: string[] = [];
    if (!opts.transA) {
      for (let r = 0; r < R; r++) a.push(`let a${r} = A[(ar${r} + ka) / 4u];`);
    } else {
      // A stored [K, M]: vec4s run along rows; load 4 k x (R/4) row quads, transpose in registers.
      for (let q = 0; q < R / 4; q++) {
        setup.push(`let rq${q} = min(row0 + ${4 * q}u, M - 4u) / 4u;`);
        for (let j = 0; j < 4; j++)
          a.push(`let t${q}_${j} = A[(aBase + (ka + ${j}u) * M) / 4u + rq${q}];`);
      }
      for (let r = 0; r < R; r++) {
        const q = Math.floor(r / 4);
        const c = C4[r % 4];
        a.push(`let a${r} = vec4<f32>(t${q}_0.${c}, t${q}_1.${c}, t${q}_2.${c}, t${q}_3.${c});`);
      }
    }
    aFast = a.join("\n");
    const b: string[] = [];
    if (!opts.transB) {
      setup.push("let bcv = min(col0, N - 4u) / 4u;");
      for (let j = 0; j < 4; j++) b.push(`let b${j} = B[bk / 4u + bcv];`, "bk += N;");
    } else {
      // B stored [N, K]: one vec4 along k per column, transposed in registers.
      for (let j = 0; j < 4; j++) b.push(`let v${j} = B[(bk + bc${j}) / 4u];`);
      for (let j = 0; j < 4; j++) {
        const c = C4[j];
        b.push(`let b${j} = vec4<f32>(v0.${c}, v1.${c}, v2.${c}, v3.${c});`);
      }
      b.push("bk += 4u;");
    }
    bFast = b.join("\n");
  }

  const wgsl = gemmWgsl(
    {
      decls: decls(v4),
      M: "P.M",
      N: "P.N",
      K: "P.K",
      setup: setup.join("\n"),
      aPrep,
      aLoad: (r, j) => el("A", `ar${r} + kq${j}`),
      aFast,
      bInit: "var bk = bBase;",
      bLoad: (j) => el("B", `bk + bc${j}`),
      bAdvance: `bk += ${sBk};`,
      bFast,
      cIndex: opts.transC ? "cBase + col * M + row" : "cBase + row * N + col",
    },
    { subgroups: opts.subgroups, schedule, epilogue: opts.epilogue, epilogueBinding: 4 },
  );
  return {
    wgsl,
    bindings: 4 + (opts.epilogue?.bindings ?? 0),
    workgroups: (M, N, batch) => gemmWorkgroups(M, N, batch, schedule),
    uniforms: (p) =>
      new Uint32Array([
        p.M,
        p.N,
        p.K,
        p.batch,
        p.strideA,
        p.strideB,
        p.strideC,
        rowGroups(p.M, schedule),
      ]),
  };
}
