// Shared test helpers: seeded random tensors and a JAX check_vjp-style gradient check.
import { grad } from "../../compiler/autodiff.ts";
import { interpret, type Feeds } from "../../compiler/interpret.ts";
import { Graph, numel, type TensorType } from "../../compiler/ir.ts";
import type { Tensor64 } from "../../compiler/ops/index.ts";

export function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

export function randomTensor(r: () => number, t: TensorType, lo = -1, hi = 1): Tensor64 {
  const data = new Float64Array(numel(t.shape));
  for (let i = 0; i < data.length; i++)
    data[i] = t.dtype === "i32" ? Math.floor(lo + (hi - lo) * r()) : lo + (hi - lo) * r();
  return { dtype: t.dtype, shape: [...t.shape], data };
}

/**
 * Builds `build(g, inputs)` over parameters of the given types, then compares the reverse-mode
 * VJP along a random cotangent with central finite differences along a random direction:
 * <vjp(u), v> == d/dε <u, f(x + εv)>. Returns the relative error.
 */
export function checkVjp(
  types: TensorType[],
  build: (g: Graph, xs: number[]) => number,
  opts: { seed?: number; lo?: number; hi?: number; eps?: number; values?: Tensor64[] } = {},
): number {
  const r = rng(opts.seed ?? 7);
  const g = new Graph();
  const xs = types.map((t, i) => g.param(`x${i}`, t));
  const y = build(g, xs);
  const yType = g.type(y);
  const u = g.input("u", { dtype: "f32", shape: yType.shape });
  const dot = g.sum(
    g.mul(y, u),
    yType.shape.map((_, i) => i),
  );
  const floatXs = xs.filter((x) => g.type(x).dtype === "f32");
  const grads = grad(g, dot, floatXs);
  const values = opts.values ?? types.map((t) => randomTensor(r, t, opts.lo ?? -1, opts.hi ?? 1));
  const feeds: Feeds = new Map();
  values.forEach((v, i) => feeds.set(`x${i}`, v));
  feeds.set("u", randomTensor(r, { dtype: "f32", shape: yType.shape }));
  const vals = interpret(g, feeds);
  const dirs = floatXs.map((x) => randomTensor(r, g.type(x)));
  let analytic = 0;
  floatXs.forEach((_, k) => {
    const gv = vals[grads[k]];
    for (let i = 0; i < gv.data.length; i++) analytic += gv.data[i] * dirs[k].data[i];
  });
  const eps = opts.eps ?? 1e-6;
  const at = (s: number) => {
    const f2: Feeds = new Map(feeds);
    floatXs.forEach((x, k) => {
      const idx = xs.indexOf(x);
      const base = values[idx];
      f2.set(`x${idx}`, { ...base, data: base.data.map((v, i) => v + s * dirs[k].data[i]) });
    });
    return interpret(g, f2, dot + 1)[dot].data[0];
  };
  const numeric = (at(eps) - at(-eps)) / (2 * eps);
  return Math.abs(analytic - numeric) / Math.max(1e-8, Math.abs(analytic) + Math.abs(numeric));
}
