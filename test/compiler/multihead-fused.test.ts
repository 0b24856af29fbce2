// models/attention.cld's MultiHead with the fused attention op against the composed
// softmax(q kᵀ / sqrt(dh)) v it replaced: a tiny training step (self- and cross-attention,
// T != S) compiled both ways gives the same loss and parameter updates, on the float64
// interpreter and on the GPU.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.ts";
import { interpret, type Feeds } from "../../compiler/interpret.ts";
import type { Graph } from "../../compiler/ir.ts";
import { useGpu } from "../gpu-fixture.ts";
import { runOnGpu } from "./gpu-harness.ts";
import { randomTensor, rng } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "cld-multihead-"));
const gpu = useGpu(() => rmSync(dir, { recursive: true, force: true }));

const FUSED_LINE =
  "  return reshape(transpose(attention(qh, kh, vh, scale: 1 / sqrt(dh)), [0, 2, 1, 3]), [B, T, D])";
const COMPOSED_LINES = [
  "  let weights = softmax(matmul(qh, kh, transB: true) * (1 / sqrt(dh)))",
  "  return reshape(transpose(weights @ vh, [0, 2, 1, 3]), [B, T, D])",
].join("\n");

const real = readFileSync(resolve("models/attention.cld"), "utf8");
const composedFile = join(dir, "attention-composed.cld");
writeFileSync(
  composedFile,
  real
    .replace('import "layers.cld"', `import "${resolve("models/layers.cld")}"`)
    .replace(FUSED_LINE, COMPOSED_LINES),
);

function program(attentionFile: string, name: string): Graph {
  const file = join(dir, `${name}.cld`);
  writeFileSync(
    file,
    `import "${attentionFile}"

block Both(x: [B, T, D], ctx: [B, S, E]) -> [B, T, D] {
  return SelfAttention(x, heads: 2) + CrossAttention(x, ctx, heads: 2)
}

program P() {
  model net = Both()
  optimizer opt = sgd(lr: 1.0)
  step train(x: [2, 6, 8], ctx: [2, 3, 5]) {
    let loss = sum(square(net(x, ctx) - x))
    minimize loss over [net] with opt
    log loss
  }
  run {
  }
}
`,
  );
  const g = compile(file, new Map(), { subgroups: false }).steps.get("train")!.graph;
  // The updated parameters become outputs, and parameters inputs, so the harness binds them.
  for (const [p, v] of g.updates) g.outputs.set(`new ${g.node(p).name}`, v);
  return g;
}

const fused = program(resolve("models/attention.cld"), "fused");
const composed = program(composedFile, "composed");

function feedsFor(g: Graph): Feeds {
  const r = rng(5);
  const feeds: Feeds = new Map();
  for (const n of [...g.params(), ...g.inputs()].sort((a, b) => a.name!.localeCompare(b.name!)))
    feeds.set(n.name!, randomTensor(r, n.type, -0.7, 0.7));
  return feeds;
}

/** Max over outputs (by name) of max |a - b| / max |b|. */
function worst(a: Map<string, ArrayLike<number>>, b: Map<string, ArrayLike<number>>): number {
  let w = 0;
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  for (const [name, x] of a) {
    const y = b.get(name)!;
    let diff = 0;
    let size = 1e-30;
    for (let i = 0; i < x.length; i++) {
      diff = Math.max(diff, Math.abs(x[i] - y[i]));
      size = Math.max(size, Math.abs(y[i]));
    }
    w = Math.max(w, diff / size);
  }
  return w;
}

function reference(g: Graph, feeds: Feeds): Map<string, ArrayLike<number>> {
  const vals = interpret(g, feeds);
  return new Map([...g.outputs].map(([name, id]) => [name, vals[id].data]));
}

describe("MultiHead: fused attention vs the composed softmax", () => {
  const feeds = feedsFor(fused);

  it("compiles to the fused op (and the composed copy does not)", () => {
    expect(fused.nodes.some((n) => n.op === "attention_grad_kv")).toBe(true);
    expect(composed.nodes.some((n) => n.op.startsWith("attention"))).toBe(false);
    expect(composed.nodes.filter((n) => n.op === "exp").length).toBeGreaterThan(0);
  });

  it("gives the same loss and updates on the float64 interpreter", () => {
    const a = reference(fused, feeds);
    const b = reference(composed, feeds);
    expect(a.size).toBe(1 + 2 * 5); // loss and the 10 parameters of two attentions
    expect(worst(a, b)).toBeLessThan(1e-11);
  });

  it("gives the same loss and updates on the GPU", async () => {
    const asInputs = (g: Graph) => {
      for (const n of g.nodes) if (n.op === "param") n.op = "input";
      return g;
    };
    const a = await runOnGpu(gpu(), asInputs(fused), feeds);
    const b = await runOnGpu(gpu(), asInputs(composed), feeds);
    const ref = reference(fused, feeds);
    // f32 rounding only: the fused step is as close to float64 as the composed one.
    expect(worst(a, b)).toBeLessThan(1e-5);
    expect(worst(a, ref)).toBeLessThan(Math.max(1e-6, 2 * worst(b, ref)));
  });
});
