// The `attention` built-in: the fused op up to head size 64, the composed
// matmul-softmax-matmul past it (same values), located shape diagnostics, and second
// derivatives refused with a diagnostic rather than a crash.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { check, compile } from "../../../compiler/compile.ts";
import { interpret, type Feeds } from "../../../compiler/interpret.ts";
import { getOp } from "../../../compiler/ops/index.ts";
import { randomTensor, rng } from "../helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "cld-attention-builtin-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

function write(steps: string): string {
  const file = join(dir, `p${n++}.cld`);
  writeFileSync(
    file,
    `block Id(x: [B, T, D]) -> [B, T, D] {
  param w: [D] = ones
  return x * w
}

program P() {
  model net = Id()
  optimizer opt = sgd(lr: 0.1)
${steps}
  run {
  }
}
`,
  );
  return file;
}

/** `line:col message` of every diagnostic; lines count from the first line of `steps`. */
const diagnostics = (steps: string) =>
  check(write(steps), { subgroups: false }).map(
    (d) => `${(d.range?.start.line ?? 0) - 8}:${d.range?.start.column} ${d.message}`,
  );

const logStep = (d: number) => `
  step s(q: [2, 5, ${d}], k: [2, 3, ${d}], v: [2, 3, ${d}]) {
    log y = sum(square(attention(net(q), k, v, scale: 0.3)))
  }`;

describe("attention built-in", () => {
  it("emits the fused op up to head size 64 and the composed ops past it, with equal values", () => {
    for (const d of [64, 65]) {
      const g = compile(write(logStep(d)), new Map(), { subgroups: false }).steps.get("s")!.graph;
      const ops = new Set(g.nodes.map((x) => x.op));
      expect(ops.has("attention")).toBe(d <= 64);
      expect(ops.has("exp")).toBe(d > 64);
      const r = rng(d);
      const feeds: Feeds = new Map();
      for (const x of [...g.inputs(), ...g.params()]) feeds.set(x.name!, randomTensor(r, x.type));
      feeds.set("net.w", { ...feeds.get("net.w")!, data: feeds.get("net.w")!.data.fill(1) });
      const got = interpret(g, feeds)[g.outputs.get("y")!].data[0];
      // The op's float64 reference, called directly (its shape rule would refuse d = 65).
      const [q, k, v] = ["q", "k", "v"].map((name) => feeds.get(name)!);
      const ref = getOp("attention").reference!(
        [q, k, v],
        { scale: 0.3 },
        {
          dtype: "f32",
          shape: q.shape,
        },
      );
      const want = ref.data.reduce((s, x) => s + x * x, 0);
      expect(Math.abs(got - want)).toBeLessThan(1e-9 * want);
    }
  });

  it("reports shape mismatches at the call", () => {
    expect(
      diagnostics(`
  step s(q: [2, 5, 4], k: [2, 3, 6]) {
    log y = sum(attention(q, k, k, scale: 1.0))
  }`),
    ).toEqual(["3:17 attention: q [2, 5, 4] and k [2, 3, 6] differ in the last dim (4 vs 6)"]);
  });

  it("refuses to minimize a loss that differentiates through attention twice", () => {
    expect(
      diagnostics(`
  step s(q: [2, 5, 4], k: [2, 3, 4]) {
    let y = sum(square(attention(net(q), k, k, scale: 0.5)))
    minimize sum(square(grad(y, net.w))) over [net] with opt
  }`),
    ).toEqual([
      "4:5 cannot differentiate the loss: second derivatives of attention are not supported (attention_grad_q has no derivative rule)",
    ]);
  });
});
