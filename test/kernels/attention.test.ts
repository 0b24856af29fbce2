// The fused attention kernels on Dawn against the float64 reference: the forward and the
// three backward kernels (through autodiff), on odd sizes (T, S, d not multiples of 4,
// S = 1, T != S, a leading batch of 2 x 3, more rows than one workgroup).
import { describe, expect, it } from "vitest";
import { grad } from "../../compiler/autodiff.ts";
import type { Feeds } from "../../compiler/interpret.ts";
import { Graph, type TensorType } from "../../compiler/ir.ts";
import "../../compiler/ops/index.ts";
import { buildPlan } from "../../compiler/plan.ts";
import { simplify } from "../../compiler/simplify.ts";
import { useGpu } from "../gpu-fixture.ts";
import { compareOutputs, runOnGpu } from "../compiler/gpu-harness.ts";
import { randomTensor, rng } from "../compiler/helpers.ts";

const f = (...shape: number[]): TensorType => ({ dtype: "f32", shape });

const gpu = useGpu();

const cases: [string, TensorType, TensorType][] = [
  ["T = S = 8, d = 16 (vec4 rows)", f(2, 8, 16), f(2, 8, 16)],
  ["T != S, d = 3", f(3, 7, 3), f(3, 5, 3)],
  ["S = 1, d = 5", f(2, 6, 5), f(2, 1, 5)],
  ["batch 2 x 3, T = 9, S = 6, d = 7", f(2, 3, 9, 7), f(2, 3, 6, 7)],
  ["T = 70 > one workgroup, S = 67, d = 8", f(1, 70, 8), f(1, 67, 8)],
  ["no batch dims, T = 1", f(1, 4), f(3, 4)],
];

function build(qt: TensorType, kt: TensorType, withGrads: boolean, scale = 0.45) {
  const g = new Graph();
  const q = g.param("q", qt);
  const k = g.param("k", kt);
  const v = g.param("v", kt);
  const y = g.op("attention", [q, k, v], { scale });
  g.outputs.set("y", y);
  if (withGrads) {
    const u = g.input("u", qt);
    const loss = g.sum(
      g.mul(y, u),
      qt.shape.map((_, i) => i),
    );
    const [dq, dk, dv] = grad(g, loss, [q, k, v]);
    g.outputs.set("dq", dq);
    g.outputs.set("dk", dk);
    g.outputs.set("dv", dv);
  }
  const r = rng(11);
  const feeds: Feeds = new Map([
    ["q", randomTensor(r, qt, -2, 2)],
    ["k", randomTensor(r, kt, -2, 2)],
    ["v", randomTensor(r, kt)],
    ["u", randomTensor(r, qt)],
  ]);
  return { g, feeds };
}

/** Params go in as feeds too: the harness binds inputs only, so make them inputs. */
function asInputs(g: Graph): Graph {
  for (const n of g.nodes) if (n.op === "param") n.op = "input";
  return g;
}

describe("attention kernels", () => {
  for (const [name, qt, kt] of cases) {
    it(`forward and backward match the reference (${name})`, async () => {
      const { g, feeds } = build(qt, kt, true);
      asInputs(g);
      const got = await runOnGpu(gpu(), g, feeds);
      expect(compareOutputs(g, feeds, got)).toBeLessThan(2e-5);
    });
  }

  it("matches the reference on peaked softmaxes (scores spread over hundreds: many rescales)", async () => {
    const { g, feeds } = build(f(3, 40, 8), f(3, 37, 8), true, 12);
    asInputs(g);
    const got = await runOnGpu(gpu(), g, feeds);
    expect(compareOutputs(g, feeds, got)).toBeLessThan(1e-4);
  });

  // The schedule without subgroups (every lane loads each streamed row itself).
  for (const [name, qt, kt] of [cases[1], cases[4]]) {
    it(`match the reference without subgroups (${name})`, async () => {
      const { g, feeds } = build(qt, kt, true);
      asInputs(g);
      const got = await runOnGpu(gpu(), g, feeds, { subgroups: false });
      expect(compareOutputs(g, feeds, got)).toBeLessThan(2e-5);
    });
  }

  it("uses subgroup shuffles where the device has them", () => {
    const { g } = build(f(2, 9, 4), f(2, 9, 4), true);
    const wgsl = (subgroups: boolean) =>
      buildPlan(simplify(asInputs(g)), { subgroups })
        .kernels.filter((k) => k.ops[0].startsWith("attention"))
        .map((k) => k.source);
    expect(wgsl(true).every((w) => w.includes("subgroupShuffle"))).toBe(true);
    expect(wgsl(false).some((w) => w.includes("subgroup"))).toBe(false);
    expect(gpu().hasSubgroups).toBe(true); // else the cases above test only the fallback
  });

  it("runs the forward as one kernel and the backward as three (no T x S buffer)", () => {
    const { g } = build(f(4, 32, 8), f(4, 24, 8), true);
    const plan = buildPlan(simplify(asInputs(g)), { subgroups: false });
    const ops = plan.kernels.map((k) => k.ops[0]);
    expect(ops.filter((o) => o.startsWith("attention"))).toEqual([
      "attention",
      "attention_stats",
      "attention_grad_q",
      "attention_grad_kv",
    ]);
    const biggest = Math.max(...plan.buffers.map((b) => b.bytes));
    expect(biggest).toBeLessThan(4 * 32 * 24 * 4);
  });
});
