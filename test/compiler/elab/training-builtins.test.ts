// adaptables(), grad(), state() and assign() (compiler/elab/builtins-training.ts): what they
// elaborate to, checked by running the step graph on the float64 interpreter against
// hand-computed values, and their diagnostics.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { check, compile } from "../../../compiler/compile.ts";
import { interpret, tensor } from "../../../compiler/interpret.ts";

const dir = mkdtempSync(join(tmpdir(), "cld-training-builtins-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** A program around `Proj` (adaptable wk [3, 4], plain wq [4, 4]) with the given steps. */
function source(steps: string): string {
  return `block Proj(x: [B, E], out: int = 4) -> [B, out] {
  adaptable param wk: [E, out] = glorot
  param wq: [out, out] = glorot
  return (x @ wk) @ wq
}

program P(scale: float = 0.5) {
  model net = Proj(out: 4)
  optimizer opt = sgd(lr: 0.1)
${steps}
  run {
  }
}
`;
}

function write(steps: string): string {
  const file = join(dir, `p${n++}.cld`);
  writeFileSync(file, source(steps));
  return file;
}

/** `line:col message` of every diagnostic `cldc check` reports; lines count in `steps`. */
function diagnostics(steps: string): string[] {
  return check(write(steps), { subgroups: false }).map(
    (d) => `${(d.range?.start.line ?? 0) - 9}:${d.range?.start.column} ${d.message}`,
  );
}

const X = [0.5, -1, 2, 1.5, 0.25, -0.75]; // [2, 3]
const WK = Array.from({ length: 12 }, (_, i) => Math.sin(i + 1) * 0.5); // [3, 4]
const WQ = Array.from({ length: 16 }, (_, i) => Math.cos(i * 0.7) * 0.4); // [4, 4]
const F0 = Array.from({ length: 12 }, (_, i) => i * 0.01); // earlier contents of the state

/** d/dwk of sum((x wk wq)²) = 2 xᵀ (x wk wq) wqᵀ, by plain loops. */
function expectedGrad(): number[] {
  const y = Array.from({ length: 8 }, (_, k) => {
    const [b, o] = [Math.floor(k / 4), k % 4];
    let s = 0;
    for (let j = 0; j < 4; j++) {
      let h = 0;
      for (let e = 0; e < 3; e++) h += X[b * 3 + e] * WK[e * 4 + j];
      s += h * WQ[j * 4 + o];
    }
    return s;
  });
  return Array.from({ length: 12 }, (_, k) => {
    const [e, j] = [Math.floor(k / 4), k % 4];
    let s = 0;
    for (let b = 0; b < 2; b++)
      for (let o = 0; o < 4; o++) s += 2 * X[b * 3 + e] * y[b * 4 + o] * WQ[j * 4 + o];
    return s;
  });
}

describe("adaptables, grad, state and assign", () => {
  const file = write(`
  step accumulate(x: [2, 3]) {
    let loss = sum(square(net(x)))
    for w in adaptables(net) {
      let f = state("fisher", w)
      assign(f, f + square(grad(loss, w)) * scale)
      assign(state("anchor", w), w)
    }
    assign(state("calls", 0.0), state("calls", 0.0) + 1)
    log loss
  }

  step train(x: [2, 3]) {
    let loss = sum(square(net(x)))
    minimize loss over [adaptables(net)] with opt
    log loss
  }
`);
  const c = compile(file, new Map(), { subgroups: false });
  const infos = c.program.registry.params;

  it("state() declares persistent, untrained tensors named after the parameter", () => {
    // (sgd without momentum keeps no optimizer state)
    expect([...infos.values()].filter((i) => i.state).map((i) => [i.name, i.type.shape])).toEqual([
      ["fisher.net.wk", [3, 4]],
      ["anchor.net.wk", [3, 4]],
      ["calls", []],
    ]);
    expect(infos.get("net.wk")!.adaptable).toBe(true);
  });

  it("grad() and assign() compute the updates, checked on the float64 interpreter", () => {
    const g = c.program.steps.get("accumulate")!.graph;
    const vals = interpret(
      g,
      new Map([
        ["x", tensor([2, 3], X)],
        ["net.wk", tensor([3, 4], WK)],
        ["net.wq", tensor([4, 4], WQ)],
        ["fisher.net.wk", tensor([3, 4], F0)],
        ["anchor.net.wk", tensor([3, 4], new Array(12).fill(0))],
        ["calls", tensor([], [41])],
      ]),
    );
    const updated = new Map([...g.updates].map(([p, v]) => [g.node(p).name!, vals[v]]));
    expect([...updated.keys()].sort()).toEqual(["anchor.net.wk", "calls", "fisher.net.wk"]);
    const want = expectedGrad().map((d, i) => F0[i] + d * d * 0.5);
    Array.from(updated.get("fisher.net.wk")!.data).forEach((v, i) =>
      expect(v).toBeCloseTo(want[i], 9),
    );
    expect(Array.from(updated.get("anchor.net.wk")!.data)).toEqual(WK);
    expect(Array.from(updated.get("calls")!.data)).toEqual([42]);
    expect(expectedGrad().some((d) => Math.abs(d) > 0.1)).toBe(true); // not a trivial check
  });

  it("minimize over [adaptables(net)] trains exactly the adaptable parameters", () => {
    const g = c.program.steps.get("train")!.graph;
    expect([...g.updates.keys()].map((p) => g.node(p).name)).toEqual(["net.wk"]);
  });
});

describe("diagnostics", () => {
  const step = (body: string) => `
  step s(x: [2, 3]) {
    let loss = sum(square(net(x)))
${body}
    log loss
  }`;

  it("adaptables() needs a model that the step has called", () => {
    expect(diagnostics(step("    let a = adaptables(Proj)"))).toEqual([
      "4:13 adaptables() takes a model (model NAME = ...), got block Proj",
    ]);
    expect(
      diagnostics(`
  step s(x: [2, 3]) {
    let a = adaptables(net)
    log loss = sum(square(net(x)))
  }`),
    ).toEqual([
      "3:13 model 'net' has no adaptable parameter in this step (call the model first; mark layers with 'adaptable param')",
    ]);
  });

  it("grad() needs a scalar loss", () => {
    expect(diagnostics(step("    let g = grad(net(x), net.wk)"))).toEqual([
      "4:13 grad() needs a scalar loss, got [2, 4]",
    ]);
  });

  it("state() cannot take a trained parameter's name; assign() writes only state, once", () => {
    expect(diagnostics(step('    let s = state("net.wk", net.wk)'))).toEqual([
      '4:13 state(): the name must be an identifier, got "net.wk"',
    ]);
    expect(diagnostics(step("    assign(net.wk, net.wk * 2)"))).toEqual([
      "4:5 assign() writes state tensors (state(...) or an adapter's past), not the parameter 'net.wk'; train parameters with minimize",
    ]);
    expect(
      diagnostics(
        step('    assign(state("f", net.wk), net.wk)\n    assign(state("f", net.wk), 0)'),
      ),
    ).toEqual(["5:5 'f.net.wk' is assigned twice in this step"]);
    expect(diagnostics(step('    assign(state("f", net.wk), x)'))).toEqual([
      "4:5 assign(): 'f.net.wk' is [3, 4], the value is [2, 3]",
    ]);
  });

  it("minimize ... over names lists in its message", () => {
    expect(diagnostics(step("    minimize loss over [adaptables(net), x] with opt"))).toEqual([
      "4:5 'minimize ... over' takes models, adapters, parameters, rows(...) or lists of them, got a tensor",
    ]);
  });
});
