// The C target's matmul and conv kernels (compiler/c/gemm.hpp, conv.hpp, called as
// compiler/c/heavy-matmul-conv.ts renders them) against the float64 reference interpreter:
// every case's rendered call goes into one C++ driver, compiled with the step's flags, that
// reads the operands from a file, runs one call and writes the output back.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { convCall, matmulCall } from "../../../compiler/c/heavy-matmul-conv.ts";
import { interpret, type Feeds } from "../../../compiler/interpret.ts";
import { Graph, type Attrs, type TensorType } from "../../../compiler/ir.ts";
import type { Tensor64 } from "../../../compiler/ops/index.ts";
import { randomTensor, rng } from "../helpers.ts";

const f = (...shape: number[]): TensorType => ({ dtype: "f32", shape });

const HEADERS = resolve(__dirname, "../../../compiler/c");
const FLAGS = [
  "-std=c++17",
  "-O3",
  "-march=native",
  "-fopenmp",
  "-fno-math-errno",
  "-ffp-contract=fast",
];
const haveGxx = spawnSync("g++", ["--version"]).status === 0;

/** The epilogue the driver passes (when a case uses one), and its float64 twin. */
const EP_CPP = "auto ep = [&](float v, int i) -> float { return v * 0.5f + (float)(i % 11); };";
const ep64 = (v: number, i: number) => v * 0.5 + (i % 11);

interface Case {
  name: string;
  code: string;
  flops: number;
  ins: Tensor64[];
  ref: Float64Array;
}
const cases: Case[] = [];

/** One node `op(inputs...)` over fresh inputs of the given types, rendered and interpreted. */
function addCase(
  name: string,
  op: string,
  types: TensorType[],
  attrs: Attrs,
  withEp: boolean,
  seed = 3,
): number {
  const g = new Graph();
  const xs = types.map((t, k) => g.input(`x${k}`, t));
  const y = g.op(op, xs, attrs);
  const r = rng(seed);
  // Operands rounded to f32, so the reference sees exactly what the kernel sees.
  const ins = types.map((t) => {
    const v = randomTensor(r, t);
    return { ...v, data: v.data.map(Math.fround) };
  });
  const feeds: Feeds = new Map(ins.map((v, k) => [`x${k}`, v]));
  const out = interpret(g, feeds)[y].data;
  const ref = withEp ? out.map((v, i) => ep64(v, i)) : out;
  const exprs = ins.map((_, k) => `in[${k}]`);
  const node = g.node(y);
  const ep = withEp ? "ep" : null;
  const call =
    op === "matmul" ? matmulCall(g, node, exprs, "out", ep) : convCall(g, node, exprs, "out", ep);
  const code = withEp ? `${EP_CPP} ${call.code}` : call.code;
  cases.push({ name, code, flops: call.flops, ins, ref });
  return cases.length - 1;
}

const mm = (transA: boolean, transB: boolean) => ({ transA, transB });
const matmulCases: number[] = [
  addCase("tiny 3x5 @ 5x2", "matmul", [f(3, 5), f(5, 2)], mm(false, false), false),
  addCase("65x100 @ 100x31, epilogue", "matmul", [f(65, 100), f(100, 31)], mm(false, false), true),
  addCase("transA 257x17 -> 17x64", "matmul", [f(257, 17), f(257, 64)], mm(true, false), false),
  addCase("transB 31x300 . (70x300)^T", "matmul", [f(31, 300), f(70, 300)], mm(false, true), true),
  addCase("both transposed", "matmul", [f(40, 33), f(65, 40)], mm(true, true), false),
  addCase(
    "batched [3,17,31] @ [3,31,65]",
    "matmul",
    [f(3, 17, 31), f(3, 31, 65)],
    mm(false, false),
    true,
  ),
  addCase(
    "shared B [2,3,20,64] @ [64,48]",
    "matmul",
    [f(2, 3, 20, 64), f(64, 48)],
    mm(false, false),
    true,
  ),
  addCase(
    "shared B, transA [4,64,20]^T @ [64,33]",
    "matmul",
    [f(4, 64, 20), f(64, 33)],
    mm(true, false),
    false,
  ),
  addCase(
    "shared A [64,50] @ [5,50,70]",
    "matmul",
    [f(64, 50), f(5, 50, 70)],
    mm(false, false),
    true,
  ),
  addCase(
    "shared A, transB [30,40] @ [3,70,40]^T",
    "matmul",
    [f(30, 40), f(3, 70, 40)],
    mm(false, true),
    false,
  ),
  addCase(
    "two K blocks 100x530 @ 530x90",
    "matmul",
    [f(100, 530), f(530, 90)],
    mm(false, false),
    true,
  ),
  addCase("M = 1 row", "matmul", [f(1, 300), f(300, 100)], mm(false, false), false),
];

const cv = (stride: number, pad: number, shape?: number[]): Attrs =>
  shape ? { stride, pad, shape } : { stride, pad };
const convCases: number[] = [];
const convShapes: [string, number[], number[], number, number][] = [
  ["3x3 s1 p1", [2, 5, 9, 11], [7, 5, 3, 3], 1, 1],
  ["3x3 s2 p1", [2, 6, 11, 8], [9, 6, 3, 3], 2, 1],
  ["5x5 s1 p2", [1, 4, 12, 10], [3, 4, 5, 5], 1, 2],
  ["1x1 s1 p0", [3, 17, 6, 5], [20, 17, 1, 1], 1, 0],
  ["1x1 s2 p2 (pad > kernel)", [2, 3, 7, 6], [5, 3, 1, 1], 2, 2],
  ["3x1 s1 p0, non-square", [2, 8, 10, 7], [6, 8, 3, 1], 1, 0],
  ["3x3 s3 p0", [2, 4, 13, 10], [5, 4, 3, 3], 3, 0],
  ["C = O = 64, 16x16 (several K blocks)", [2, 64, 16, 16], [64, 64, 3, 3], 1, 1],
];
for (const [name, xs, ws, s, p] of convShapes) {
  const Ho = Math.floor((xs[2] + 2 * p - ws[2]) / s) + 1;
  const Wo = Math.floor((xs[3] + 2 * p - ws[3]) / s) + 1;
  const ys = [xs[0], ws[0], Ho, Wo];
  const k = convCases.length;
  convCases.push(
    addCase(`conv2d ${name}`, "conv2d", [f(...xs), f(...ws)], cv(s, p), k % 2 === 0),
    addCase(
      `conv2d_grad_input ${name}`,
      "conv2d_grad_input",
      [f(...ys), f(...ws)],
      cv(s, p, xs),
      k % 2 === 1,
    ),
    addCase(
      `conv2d_grad_weight ${name}`,
      "conv2d_grad_weight",
      [f(...xs), f(...ys)],
      cv(s, p, ws),
      k % 2 === 0,
    ),
  );
}

// Big enough to run on several threads: outputs must not depend on the thread count.
const detCases = [
  addCase("det matmul", "matmul", [f(4, 130, 200), f(200, 150)], mm(false, false), true),
  addCase("det matmul transB", "matmul", [f(300, 270), f(260, 270)], mm(false, true), false),
  addCase("det conv2d", "conv2d", [f(4, 32, 16, 16), f(48, 32, 3, 3)], cv(1, 1), true),
  addCase(
    "det grad_input",
    "conv2d_grad_input",
    [f(4, 48, 8, 8), f(48, 32, 3, 3)],
    cv(2, 1, [4, 32, 16, 16]),
    false,
  ),
  addCase(
    "det grad_weight",
    "conv2d_grad_weight",
    [f(4, 32, 16, 16), f(4, 48, 16, 16)],
    cv(1, 1, [48, 32, 3, 3]),
    true,
  ),
];

let dir = "";
let exe = "";

function driverSource(): string {
  const lines = [
    "#include <cstdio>",
    "#include <cstdlib>",
    "#include <cstdint>",
    "#include <cstring>",
  ];
  lines.push('#include "gemm.hpp"', '#include "conv.hpp"', "");
  cases.forEach((c, i) =>
    lines.push(`static void case_${i}(const float* const* in, float* out) { ${c.code} }`),
  );
  lines.push(
    "int main(int argc, char** argv) {",
    "  if (argc != 5) return 2;",
    "  const int which = std::atoi(argv[1]);",
    "  const long nout = std::atol(argv[4]);",
    '  FILE* fi = std::fopen(argv[2], "rb");',
    "  uint32_t n = 0;",
    "  if (!fi || std::fread(&n, 4, 1, fi) != 1) return 3;",
    "  float* in[8] = {};",
    "  for (uint32_t k = 0; k < n; ++k) {",
    "    uint32_t count = 0;",
    "    if (std::fread(&count, 4, 1, fi) != 1) return 3;",
    "    in[k] = (float*)std::malloc(4 * (size_t)count + 4);",
    "    if (std::fread(in[k], 4, count, fi) != count) return 3;",
    "  }",
    "  std::fclose(fi);",
    // A NaN sentinel in every output element: one the kernel skips shows up as a mismatch.
    "  float* out = (float*)std::malloc(4 * (size_t)nout + 4);",
    "  const uint32_t sentinel = 0x7fc0dead;",
    "  for (long i = 0; i < nout; ++i) std::memcpy(out + i, &sentinel, 4);",
    "  switch (which) {",
    ...cases.map((_, i) => `    case ${i}: case_${i}(in, out); break;`),
    "    default: return 4;",
    "  }",
    '  FILE* fo = std::fopen(argv[3], "wb");',
    "  if (!fo || std::fwrite(out, 4, nout, fo) != (size_t)nout) return 5;",
    "  std::fclose(fo);",
    "  return 0;",
    "}",
  );
  return lines.join("\n") + "\n";
}

/** Runs case k with the given operands (default: the case's own); returns the raw output. */
function run(k: number, threads = 2, ins = cases[k].ins): Buffer {
  const parts: Buffer[] = [Buffer.from(new Uint32Array([ins.length]).buffer)];
  for (const t of ins) {
    const data = Float32Array.from(t.data);
    parts.push(Buffer.from(new Uint32Array([data.length]).buffer), Buffer.from(data.buffer));
  }
  const inFile = join(dir, `in${k}.bin`);
  const outFile = join(dir, `out${k}.bin`);
  writeFileSync(inFile, Buffer.concat(parts));
  execFileSync(exe, [String(k), inFile, outFile, String(cases[k].ref.length)], {
    env: { ...process.env, OMP_NUM_THREADS: String(threads) },
  });
  return readFileSync(outFile);
}

const floats = (b: Buffer) => new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);

/** max |got - ref| / max(1, max |ref|); any NaN counts as infinitely wrong. */
function error(k: number, got: Float32Array): number {
  const ref = cases[k].ref;
  expect(got.length).toBe(ref.length);
  let scale = 1;
  for (const v of ref) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < ref.length; i++) {
    if (Number.isNaN(got[i])) return Infinity;
    worst = Math.max(worst, Math.abs(got[i] - ref[i]) / scale);
  }
  return worst;
}

describe.skipIf(!haveGxx)("C matmul and conv kernels match the float64 reference", () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "cld-mmconv-"));
    const src = join(dir, "driver.cpp");
    exe = join(dir, "driver");
    writeFileSync(src, driverSource());
    execFileSync("g++", [...FLAGS, "-I", HEADERS, src, "-o", exe], {
      stdio: ["ignore", "pipe", "pipe"],
    });
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const k of [...matmulCases, ...convCases])
    it(cases[k].name, () => expect(error(k, floats(run(k)))).toBeLessThanOrEqual(1e-4));

  it("give the same bits on 1, 2 and 3 threads", () => {
    for (const k of detCases) {
      const one = run(k, 1);
      expect(error(k, floats(one))).toBeLessThanOrEqual(1e-4);
      expect(run(k, 2).equals(one)).toBe(true);
      expect(run(k, 3).equals(one)).toBe(true);
    }
  });

  it("propagate NaN and Inf", () => {
    const k = matmulCases[1]; // [65, 100] @ [100, 31] with an epilogue
    const [a, b] = cases[k].ins;
    const a2 = { ...a, data: a.data.slice() };
    const b2 = { ...b, data: b.data.slice() };
    a2.data[4 * 100 + 7] = NaN; // row 4 of A
    b2.data[2 * 31 + 5] = Infinity; // column 5 of B (through k = 2)
    const got = floats(run(k, 2, [a2, b2]));
    expect(Number.isNaN(got[4 * 31])).toBe(true);
    expect(Number.isNaN(got[4 * 31 + 30])).toBe(true);
    expect(Number.isFinite(got[5 * 31])).toBe(true);
    expect(Number.isFinite(got[5 * 31 + 5])).toBe(false);
  });
});

describe("matmulCall and convCall", () => {
  it("bake shapes, flags and batch strides into the call", () => {
    const g = new Graph();
    const a = g.input("a", f(2, 3, 20, 64));
    const b = g.input("b", f(64, 48));
    const y = g.op("matmul", [a, b], { transA: false, transB: false });
    const c = matmulCall(g, g.node(y), ["pa", "pb"], "po", null);
    expect(c.code).toBe(
      "cld::matmul(pa, pb, po, 6, 20, 48, 64, false, false, 1280L, 0L, cld::NoEp{});",
    );
    expect(c.flops).toBe(2 * 6 * 20 * 48 * 64);
    const at = g.input("at", f(64, 50));
    const bt = g.input("bt", f(5, 70, 64));
    const y2 = g.op("matmul", [at, bt], { transA: true, transB: true });
    expect(matmulCall(g, g.node(y2), ["x", "w"], "o", "ep0").code).toBe(
      "cld::matmul(x, w, o, 5, 50, 70, 64, true, true, 0L, 4480L, ep0);",
    );
  });

  it("read the conv dims from the right operand for each op", () => {
    const g = new Graph();
    const x = g.input("x", f(8, 64, 32, 32));
    const w = g.input("w", f(32, 64, 3, 3));
    const y = g.op("conv2d", [x, w], { stride: 2, pad: 1 });
    const dy = g.input("dy", f(8, 32, 16, 16));
    const dx = g.op("conv2d_grad_input", [dy, w], { stride: 2, pad: 1, shape: [8, 64, 32, 32] });
    const dw = g.op("conv2d_grad_weight", [x, dy], { stride: 2, pad: 1, shape: [32, 64, 3, 3] });
    const args = "8, 64, 32, 32, 32, 3, 3, 2, 1";
    expect(convCall(g, g.node(y), ["X", "W"], "Y", "e").code).toBe(
      `cld::conv2d(X, W, Y, ${args}, e);`,
    );
    expect(convCall(g, g.node(dx), ["DY", "W"], "DX", null).code).toBe(
      `cld::conv2d_grad_input(DY, W, DX, ${args}, cld::NoEp{});`,
    );
    expect(convCall(g, g.node(dw), ["X", "DY"], "DW", null).code).toBe(
      `cld::conv2d_grad_weight(X, DY, DW, ${args}, cld::NoEp{});`,
    );
    const flops = 2 * 8 * 32 * 16 * 16 * 64 * 9;
    for (const n of [y, dx, dw])
      expect(convCall(g, g.node(n), ["p", "q"], "o", null).flops).toBe(flops);
  });
});
