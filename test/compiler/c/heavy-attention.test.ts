// The C target's gather and fused attention kernels (compiler/c/attention.hpp, called as
// compiler/c/heavy-attention.ts renders them) against the float64 reference: every case's
// rendered call goes into one small C++ driver, compiled with the step's flags, that reads
// the operands from a file, runs one call and writes the output back.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attentionCall, gatherCall } from "../../../compiler/c/heavy-attention.ts";
import { interpret, type Feeds } from "../../../compiler/interpret.ts";
import { Graph, numel, type TensorType } from "../../../compiler/ir.ts";
import { getOp, type Tensor64 } from "../../../compiler/ops/index.ts";
import { randomTensor, rng } from "../helpers.ts";

const f = (...shape: number[]): TensorType => ({ dtype: "f32", shape });
const i32 = (...shape: number[]): TensorType => ({ dtype: "i32", shape });

const HEADERS = resolve(__dirname, "../../../compiler/c");
const FLAGS = ["-std=c++17", "-O3", "-march=native", "-fopenmp", "-fno-math-errno"];

/** One rendered call with its operands (already f32/i32 values) and the expected output. */
interface Case {
  name: string;
  code: string;
  flops: number;
  ins: Tensor64[];
  ref: Tensor64;
}

const cases: Case[] = [];

/** Operands rounded to what the kernel sees (f32), so the reference sees the same. */
const asStored = (t: Tensor64): Tensor64 => ({
  ...t,
  data: t.dtype === "f32" ? t.data.map(Math.fround) : t.data,
});

/** Renders node n of g and computes its reference from the stored operands. */
function addNode(name: string, g: Graph, n: number, vals: Tensor64[], ins = g.node(n).inputs) {
  const node = g.node(n);
  const operands = ins.map((i) => asStored(vals[i]));
  const exprs = operands.map(
    (t, k) => `(const ${t.dtype === "i32" ? "int32_t" : "float"}*)in[${k}]`,
  );
  const call =
    node.op === "gather" ? gatherCall(g, node, exprs, "out") : attentionCall(g, node, exprs, "out");
  const ref = getOp(node.op).reference!(operands, node.attrs, node.type);
  cases.push({ name, code: call.code, flops: call.flops, ins: operands, ref });
  return cases.length - 1;
}

/** q, k, v, a cotangent u, and the four attention nodes of forward + backward. */
function attentionGraph(qt: TensorType, kt: TensorType, scale: number, seed = 11, lo = -2, hi = 2) {
  const g = new Graph();
  const q = g.input("q", qt);
  const k = g.input("k", kt);
  const v = g.input("v", kt);
  const u = g.input("u", qt);
  const y = g.op("attention", [q, k, v], { scale });
  const st = g.op("attention_stats", [q, k, u, y], { scale });
  const dq = g.op("attention_grad_q", [q, k, v, u, st], { scale });
  const dkv = g.op("attention_grad_kv", [q, k, v, u, st], { scale });
  const r = rng(seed);
  const feeds: Feeds = new Map([
    ["q", randomTensor(r, qt, lo, hi)],
    ["k", randomTensor(r, kt, lo, hi)],
    ["v", randomTensor(r, kt)],
    ["u", randomTensor(r, qt)],
  ]);
  return { g, feeds, nodes: [y, st, dq, dkv] };
}

const attentionShapes: [string, TensorType, TensorType, number][] = [
  ["T = S = 8, d = 16", f(2, 8, 16), f(2, 8, 16), 0.45],
  ["T != S, d = 3", f(3, 7, 3), f(3, 5, 3), 0.45],
  ["S = 1, d = 5", f(2, 6, 5), f(2, 1, 5), 0.45],
  ["batch 2 x 3, T = 9, S = 6, d = 7", f(2, 3, 9, 7), f(2, 3, 6, 7), 0.45],
  ["T = 70 (two row chunks), S = 67, d = 8", f(1, 70, 8), f(1, 67, 8), 0.45],
  ["no batch dims, T = 1", f(1, 4), f(3, 4), 0.45],
  ["d = 33 (three vectors), T = 37, S = 20", f(2, 37, 33), f(2, 20, 33), 0.17],
  ["d = 64, T = 19, S = 150", f(2, 19, 64), f(2, 150, 64), 0.125],
  ["cross-attention: T = 130, S = 11, d = 24", f(3, 130, 24), f(3, 11, 24), 0.2],
  ["peaked softmax (scale 12)", f(3, 40, 8), f(3, 37, 8), 12],
];
const OPS = ["attention", "attention_stats", "attention_grad_q", "attention_grad_kv"];
const attentionCases: [string, number][] = [];
for (const [name, qt, kt, scale] of attentionShapes) {
  const { g, feeds, nodes } = attentionGraph(qt, kt, scale);
  const vals = interpret(g, feeds);
  nodes.forEach((n, k) => attentionCases.push([`${OPS[k]} (${name})`, addNode(name, g, n, vals)]));
}

// A NaN in one query row: the forward's row turns NaN and the other rows are unaffected.
const nanCase = (() => {
  const { g, feeds, nodes } = attentionGraph(f(2, 9, 6), f(2, 7, 6), 0.4);
  feeds.get("q")!.data[2 * 6 + 1] = NaN; // batch item 0, query row 2
  const vals = interpret(g, feeds, nodes[0] + 1);
  return addNode("NaN row", g, nodes[0], vals);
})();

// Big enough to run on several threads: outputs must not depend on the thread count.
const detCases = (() => {
  const { g, feeds, nodes } = attentionGraph(f(5, 100, 32), f(5, 90, 32), 0.18);
  const vals = interpret(g, feeds);
  return nodes.map((n) => addNode("threads", g, n, vals));
})();

/** gather with ids outside [0, V): the kernel clamps (the reference refuses them). */
function gatherCase(name: string, tt: TensorType, it: TensorType, lo: number, hi: number) {
  const g = new Graph();
  const t = g.input("t", tt);
  const ids = g.input("ids", it);
  const y = g.op("gather", [t, ids]);
  const r = rng(5);
  const table = randomTensor(r, tt);
  const raw = randomTensor(r, it, lo, hi);
  const V = tt.shape[0];
  const clamped = { ...raw, data: raw.data.map((x) => Math.min(Math.max(x, 0), V - 1)) };
  const vals = interpret(
    g,
    new Map([
      ["t", table],
      ["ids", clamped],
    ]),
  );
  const k = addNode(name, g, y, vals);
  cases[k].ins[1] = raw; // the kernel sees the raw ids
  return k;
}
const gatherCases: [string, number][] = [
  ["ids [2, 3] in [-3, 10), V = 7, D = 5", gatherCase("g1", f(7, 5), i32(2, 3), -3, 10)],
  ["D = 1, V = 1", gatherCase("g2", f(1, 1), i32(4), -2, 3)],
  ["parallel: 300 ids, D = 300", gatherCase("g3", f(50, 300), i32(3, 100), -20, 70)],
];

let dir = "";
let exe = "";

function driverSource(): string {
  const lines = [
    "#include <cstdio>",
    "#include <cstdlib>",
    "#include <cstdint>",
    "#include <cstring>",
    '#include "attention.hpp"',
    "",
  ];
  cases.forEach((c, i) =>
    lines.push(`static void case_${i}(void* const* in, float* out) { ${c.code} }`),
  );
  lines.push(
    "int main(int argc, char** argv) {",
    "  if (argc != 5) return 2;",
    "  const int which = std::atoi(argv[1]);",
    "  const long nout = std::atol(argv[4]);",
    '  FILE* fi = std::fopen(argv[2], "rb");',
    "  uint32_t n = 0;",
    "  if (!fi || std::fread(&n, 4, 1, fi) != 1) return 3;",
    "  void* in[8] = {};",
    "  for (uint32_t k = 0; k < n; ++k) {",
    "    uint32_t count = 0;",
    "    if (std::fread(&count, 4, 1, fi) != 1) return 3;",
    "    in[k] = std::malloc(4 * (size_t)count + 4);",
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

/** Runs case k; returns the raw output bytes. */
function run(k: number, threads = 2): Buffer {
  const c = cases[k];
  const parts: Buffer[] = [Buffer.from(new Uint32Array([c.ins.length]).buffer)];
  for (const t of c.ins) {
    const data = t.dtype === "i32" ? Int32Array.from(t.data) : Float32Array.from(t.data);
    parts.push(Buffer.from(new Uint32Array([data.length]).buffer), Buffer.from(data.buffer));
  }
  const inFile = join(dir, `in${k}.bin`);
  const outFile = join(dir, `out${k}.bin`);
  writeFileSync(inFile, Buffer.concat(parts));
  execFileSync(exe, [String(k), inFile, outFile, String(c.ref.data.length)], {
    env: { ...process.env, OMP_NUM_THREADS: String(threads) },
  });
  return readFileSync(outFile);
}

const floats = (b: Buffer) => new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);

/** max |got - ref| / (1 + |ref|); a NaN on one side only counts as infinitely wrong. */
function error(k: number, got: Float32Array): number {
  const ref = cases[k].ref.data;
  expect(got.length).toBe(ref.length);
  let worst = 0;
  for (let i = 0; i < ref.length; i++) {
    if (Number.isNaN(ref[i]) || Number.isNaN(got[i])) {
      if (Number.isNaN(ref[i]) !== Number.isNaN(got[i])) return Infinity;
      continue;
    }
    worst = Math.max(worst, Math.abs(got[i] - ref[i]) / (1 + Math.abs(ref[i])));
  }
  return worst;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "cld-attn-"));
  const src = join(dir, "driver.cpp");
  exe = join(dir, "driver");
  writeFileSync(src, driverSource());
  execFileSync("g++", [...FLAGS, "-ffp-contract=fast", "-I", HEADERS, src, "-o", exe], {
    stdio: ["ignore", "pipe", "pipe"],
  });
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("C attention kernels match the float64 reference", () => {
  for (const [name, k] of attentionCases)
    it(name, () => expect(error(k, floats(run(k)))).toBeLessThanOrEqual(1e-4));

  it("propagate a NaN to its row only", () => {
    const got = floats(run(nanCase));
    expect(Number.isNaN(got[2 * 6])).toBe(true);
    expect(Number.isNaN(got[3 * 6])).toBe(false);
    expect(error(nanCase, got)).toBeLessThanOrEqual(1e-4);
  });

  it("give the same bits on 1, 2 and 3 threads", () => {
    for (const k of detCases) {
      const one = run(k, 1);
      expect(error(k, floats(one))).toBeLessThanOrEqual(1e-4);
      expect(run(k, 2).equals(one)).toBe(true);
      expect(run(k, 3).equals(one)).toBe(true);
      expect(run(k, 2).equals(one)).toBe(true);
    }
  });
});

describe("C gather", () => {
  for (const [name, k] of gatherCases)
    it(`copies clamped rows (${name})`, () => expect(error(k, floats(run(k)))).toBe(0));
});

describe("attentionCall and gatherCall", () => {
  it("bake in the shapes, the head size as a template argument, and the WGSL path's flops", () => {
    const [, k] = attentionCases.find(([n]) => n.startsWith("attention_grad_kv (batch 2 x 3"))!;
    expect(cases[k].code).toBe(
      "cld::attention_grad_kv<7>((const float*)in[0], (const float*)in[1], (const float*)in[2], " +
        "(const float*)in[3], (const float*)in[4], out, 6, 9, 6, 0.44999998807907104f);",
    );
    expect(cases[k].flops).toBe(8 * 6 * 9 * 6 * 7);
    const fwd = cases[attentionCases[0][1]];
    expect(fwd.flops).toBe(4 * 2 * 8 * 8 * 16);
    expect(cases[gatherCases[0][1]].code).toBe(
      "cld::gather((const float*)in[0], (const int32_t*)in[1], out, 6, 7, 5);",
    );
    expect(cases[gatherCases[0][1]].flops).toBe(0);
  });

  it("print the scale so that it reads back as the same f32", () => {
    for (const scale of [0.1, 1 / Math.sqrt(24), 3e-39, 1e30, 2]) {
      const g = new Graph();
      const q = g.input("q", f(2, 3));
      const y = g.op("attention", [q, q, q], { scale });
      const code = attentionCall(g, g.node(y), ["a", "b", "c"], "o").code;
      const lit = /, ([^,]+)f\);$/.exec(code)![1];
      expect(Math.fround(Number(lit))).toBe(Math.fround(scale));
      expect(Number(lit)).toBe(Math.fround(scale));
    }
  });

  it("refuse operand lists of the wrong length", () => {
    const g = new Graph();
    const q = g.input("q", f(2, 3));
    const y = g.op("attention", [q, q, q], { scale: 1 });
    expect(() => attentionCall(g, g.node(y), ["a", "b"], "o")).toThrow(/takes 3 operands/);
  });
});
