import { describe, expect, it } from "vitest";
import { useGpu } from "../gpu-fixture.ts";
import {
  matmulKernel,
  matmulSchedule,
  matmulVec4Ok,
  orientMatmul,
  type MatmulParams,
} from "../../compiler/kernels/matmul.ts";
import {
  LAVAPIPE_LARGE_SCHEDULE,
  LAVAPIPE_SCHEDULE,
  type Schedule,
} from "../../compiler/kernels/gemm.ts";
import { biasEpilogue, biasEpilogueUniforms } from "../../compiler/kernels/epilogue.ts";
import { expectClose, randomArray, runKernel } from "./harness.ts";

const gpu = useGpu();

interface Case {
  M: number;
  N: number;
  K: number;
  batch?: number;
  transA?: boolean;
  transB?: boolean;
  /** Broadcast A (or B) over the batch with stride 0. */
  bcastA?: boolean;
  bcastB?: boolean;
  vec4?: boolean;
  subgroups?: boolean;
  bias?: "none" | "relu" | "bias";
  /** Let orientMatmul pick the orientation (narrow C is computed transposed). */
  orient?: boolean;
  schedule?: Schedule;
}

function reference(c: Case, A: Float32Array, B: Float32Array, p: MatmulParams): Float64Array {
  const { M, N, K, batch } = p;
  const C = new Float64Array(batch * M * N);
  for (let b = 0; b < batch; b++) {
    const a0 = b * p.strideA;
    const b0 = b * p.strideB;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const a = A[a0 + (c.transA ? k * M + m : m * K + k)];
          s += a * B[b0 + (c.transB ? n * K + k : k * N + n)];
        }
        C[b * M * N + m * N + n] = s;
      }
    }
  }
  return C;
}

async function check(c: Case, seed: number): Promise<void> {
  const batch = c.batch ?? 1;
  const { M, N, K } = c;
  const p: MatmulParams = {
    M,
    N,
    K,
    batch,
    strideA: c.bcastA ? 0 : M * K,
    strideB: c.bcastB ? 0 : K * N,
    strideC: M * N,
  };
  const A = randomArray((c.bcastA ? 1 : batch) * M * K, seed);
  const B = randomArray((c.bcastB ? 1 : batch) * K * N, seed + 1);
  let opts = { transA: !!c.transA, transB: !!c.transB, transC: false };
  let kp = p;
  let [first, second] = [A, B];
  if (c.orient) {
    const o = orientMatmul(opts, p);
    if (!o.swap) throw new Error("orientation test case is not swapped");
    [opts, kp, first, second] = [o.opts, o.params, B, A];
  }
  if (c.vec4 && !matmulVec4Ok({ ...opts, schedule: c.schedule }, kp))
    throw new Error("bad vec4 test case");
  const bias = c.bias && c.bias !== "none" ? randomArray(N, seed + 2) : null;
  const epilogue = bias
    ? biasEpilogue({ activation: c.bias === "relu" ? "relu" : "none" })
    : undefined;
  const k = matmulKernel({
    ...opts,
    subgroups: (c.subgroups ?? true) && gpu().hasSubgroups,
    vec4: c.vec4,
    epilogue,
    schedule: c.schedule,
  });
  const extra = bias ? [bias, { uniform: biasEpilogueUniforms(1, N) }] : [];
  const got = await runKernel(
    gpu(),
    k,
    "matmul",
    [first, second],
    batch * M * N,
    k.uniforms(kp),
    k.workgroups(kp.M, kp.N, batch),
    extra,
  );
  const want = reference(c, A, B, p);
  if (bias) {
    for (let i = 0; i < want.length; i++) {
      want[i] += bias[i % N];
      if (c.bias === "relu") want[i] = Math.max(0, want[i]);
    }
  }
  expectClose(got, want, 1e-4, JSON.stringify(c));
}

const SIZES = [1, 3, 7, 17, 33, 64, 130];

describe("matmul", () => {
  it("all odd and even size combinations (scalar path)", async () => {
    let seed = 1;
    for (const M of SIZES)
      for (const N of SIZES) for (const K of SIZES) await check({ M, N, K }, seed++);
  });

  for (const [transA, transB] of [
    [true, false],
    [false, true],
    [true, true],
  ]) {
    it(`transA=${transA} transB=${transB}`, async () => {
      let seed = 100;
      for (const M of SIZES)
        for (const N of [1, 7, 33, 130])
          for (const K of [3, 17, 64]) {
            await check({ M, N, K, transA, transB }, seed++);
          }
    });
  }

  it("vec4 fast path on aligned shapes, all transposes", async () => {
    let seed = 500;
    for (const [transA, transB] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ]) {
      for (const [M, N, K] of [
        [4, 4, 4],
        [8, 12, 36],
        [64, 64, 64],
        [68, 132, 100],
        [132, 36, 260],
      ]) {
        await check({ M, N, K, transA, transB, vec4: true }, seed++);
      }
    }
    await check({ M: 7, N: 8, K: 12, vec4: true }, seed++);
  });

  it("batched, with stride-0 broadcast of either operand", async () => {
    await check({ M: 17, N: 33, K: 7, batch: 3 }, 900);
    await check({ M: 17, N: 33, K: 7, batch: 3, bcastB: true }, 901);
    await check({ M: 33, N: 5, K: 64, batch: 4, bcastA: true, transA: true }, 902);
    await check({ M: 64, N: 64, K: 36, batch: 2, bcastB: true, vec4: true, transB: true }, 903);
  });

  it("bias + relu epilogue", async () => {
    await check({ M: 33, N: 17, K: 130, bias: "relu" }, 1000);
    await check({ M: 8, N: 64, K: 64, bias: "bias", vec4: true, batch: 2 }, 1001);
    await check({ M: 3, N: 7, K: 1, bias: "relu", batch: 2, bcastB: true }, 1002);
  });

  it("k tails below and after 32-wide chunks (attention head dims)", async () => {
    let seed = 1200;
    for (const K of [4, 8, 16, 20, 36, 44])
      for (const [transA, transB] of [
        [false, true],
        [true, false],
      ])
        await check({ M: 20, N: 36, K, batch: 2, transA, transB, vec4: true }, seed++);
  });

  it("narrow outputs computed transposed (orientMatmul swap)", async () => {
    // Few pipelines (each costs a JIT): both vec4 transposes, one scalar, one epilogue.
    let seed = 1300;
    for (const t of [false, true])
      await check(
        { M: 72, N: 16, K: 20, batch: 3, transA: t, transB: t, orient: true, vec4: true },
        seed++,
      );
    await check({ M: 67, N: 5, K: 13, batch: 2, transB: true, orient: true }, seed++);
    await check({ M: 33, N: 7, K: 9, bcastB: true, batch: 2, transB: true, orient: true }, seed++);
    await check({ M: 64, N: 12, K: 36, bias: "relu", orient: true, vec4: true }, seed++);
    const p = { M: 256, N: 256, K: 16, batch: 1, strideA: 0, strideB: 0, strideC: 0 };
    expect(orientMatmul({ transA: false, transB: false }, p).swap).toBe(false);
  });

  // The large-GEMM schedule: two pipelines, each of which JITs for 15-18 s on an idle
  // lavapipe with a cold Mesa cache (0.1 s warm), so the cases share them. The schedule only
  // changes the rows per lane and the K step around the same operand loads that the tests
  // above cover on the 8-row schedule, and matmulSchedule picks it only where M, N and K are
  // all >= 256, where the models' GEMMs are 4-aligned: the vec4 path untransposed (forward)
  // and with both operands transposed (the backward's loads). The scalar path at 64 rows
  // (unaligned shapes that large) is not run: a third 15-18 s JIT for a path whose loads
  // and edge clamping the 8-row tests above already check.
  it("large-GEMM schedule (64 rows per lane), vec4 path: edges, K tails, transposes, batch", async () => {
    const schedule = LAVAPIPE_LARGE_SCHEDULE;
    let seed = 1400;
    for (const [M, N, K] of [
      [68, 132, 100],
      [300, 36, 260],
      [132, 68, 36],
      [4, 4, 4],
    ])
      await check({ M, N, K, vec4: true, schedule, batch: 2 }, seed++);
    for (const [M, N, K] of [
      [68, 132, 100],
      [40, 36, 44],
      [8, 4, 12],
    ])
      await check({ M, N, K, vec4: true, schedule, transA: true, transB: true, batch: 2 }, seed++);
  });

  it("the large schedule only where every dimension is large, and only with subgroups", () => {
    expect(matmulSchedule({ M: 256, N: 256, K: 256 }, true)).toBe(LAVAPIPE_LARGE_SCHEDULE);
    expect(matmulSchedule({ M: 1024, N: 512, K: 4096 }, true)).toBe(LAVAPIPE_LARGE_SCHEDULE);
    expect(matmulSchedule({ M: 4096, N: 64, K: 64 }, true)).toBe(LAVAPIPE_SCHEDULE);
    expect(matmulSchedule({ M: 256, N: 256, K: 255 }, true)).toBe(LAVAPIPE_SCHEDULE);
    expect(matmulSchedule({ M: 1024, N: 1024, K: 1024 }, false)).toBe(LAVAPIPE_SCHEDULE);
  });

  it("fallback without subgroups", async () => {
    let seed = 1100;
    for (const [M, N, K] of [
      [1, 1, 1],
      [17, 33, 130],
      [64, 7, 3],
    ]) {
      await check({ M, N, K, subgroups: false }, seed++);
      await check({ M, N, K, subgroups: false, transA: true, transB: true }, seed++);
    }
    await check({ M: 64, N: 64, K: 68, subgroups: false, vec4: true }, seed++);
    await check(
      { M: 64, N: 64, K: 68, subgroups: false, vec4: true, transA: true, transB: true },
      seed++,
    );
  });
});
