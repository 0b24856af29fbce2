// The attention ops' float64 semantics: the forward against the composed
// softmax(scale · q kᵀ) v, the derivative against finite differences, and the refusals.
import { describe, expect, it } from "vitest";
import { grad } from "../../../compiler/autodiff.ts";
import { interpret, type Feeds } from "../../../compiler/interpret.ts";
import { Graph, ShapeError, type TensorType } from "../../../compiler/ir.ts";
import "../../../compiler/ops/index.ts";
import { checkVjp, randomTensor, rng } from "../helpers.ts";

const f = (...shape: number[]): TensorType => ({ dtype: "f32", shape });

/** softmax(scale · q kᵀ) v from primitives (max-subtracted, as the softmax built-in). */
export function composedAttention(g: Graph, q: number, k: number, v: number, scale: number) {
  const s = g.scale(g.op("matmul", [q, k], { transB: true }), scale);
  const shape = g.shape(s);
  const ax = shape.length - 1;
  const m = g.broadcast(
    g.op("stop_gradient", [g.op("max", [s], { axes: [ax], keepdims: true })]),
    shape,
  );
  const e = g.op("exp", [g.sub(s, m)]);
  const p = g.div(e, g.broadcast(g.sum(e, [ax], true), shape));
  return g.op("matmul", [p, v]);
}

const shapes: [string, TensorType, TensorType][] = [
  ["T = S, d = 4", f(5, 4), f(5, 4)],
  ["T != S, odd d", f(3, 7, 3), f(3, 5, 3)],
  ["S = 1", f(2, 6, 5), f(2, 1, 5)],
  ["batch 2 x 3", f(2, 3, 4, 6), f(2, 3, 7, 6)],
];

describe("attention reference", () => {
  for (const [name, qt, kt] of shapes) {
    it(`equals the composed softmax(scale q k^T) v (${name})`, () => {
      const g = new Graph();
      const q = g.input("q", qt);
      const k = g.input("k", kt);
      const v = g.input("v", kt);
      const fused = g.op("attention", [q, k, v], { scale: 0.7 });
      const composed = composedAttention(g, q, k, v, 0.7);
      const r = rng(3);
      const feeds: Feeds = new Map([
        ["q", randomTensor(r, qt, -2, 2)],
        ["k", randomTensor(r, kt, -2, 2)],
        ["v", randomTensor(r, kt)],
      ]);
      const vals = interpret(g, feeds);
      expect(vals[fused].shape).toEqual(qt.shape);
      const a = vals[fused].data;
      const b = vals[composed].data;
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
      expect(worst).toBeLessThan(1e-12);
    });

    it(`has a VJP that matches central finite differences (${name})`, () => {
      const err = checkVjp([qt, kt, kt], (g, [q, k, v]) =>
        g.op("attention", [q, k, v], { scale: 0.6 }),
      );
      expect(err).toBeLessThan(1e-6);
    });
  }

  it("rejects mismatched shapes with the shapes in the message", () => {
    const g = new Graph();
    const q = g.input("q", f(2, 5, 4));
    const k = g.input("k", f(2, 6, 3));
    const v = g.input("v", f(2, 6, 3));
    expect(() => g.op("attention", [q, k, v], { scale: 1 })).toThrow(
      /q \[2, 5, 4\] and k \[2, 6, 3\] differ in the last dim/,
    );
    const k2 = g.input("k2", f(3, 6, 4));
    expect(() => g.op("attention", [q, k2, k2], { scale: 1 })).toThrow(/same leading dims/);
    const wide = g.input("wide", f(2, 65));
    expect(() => g.op("attention", [wide, wide, wide], { scale: 1 })).toThrow(
      /head size up to 64, got 65/,
    );
  });

  it("refuses second derivatives with a shape error naming attention", () => {
    const g = new Graph();
    const q = g.param("q", f(3, 4));
    const y = g.op("attention", [q, q, q], { scale: 0.5 });
    const [dq] = grad(g, g.sum(g.op("square", [y]), [0, 1]), [q]);
    const l2 = g.sum(g.op("square", [dq]), [0, 1]);
    expect(() => grad(g, l2, [q])).toThrow(ShapeError);
    expect(() => grad(g, l2, [q])).toThrow(/second derivatives of attention are not supported/);
  });
});
