// Optimizers as IR: the update of every trainable parameter is part of the step graph, so
// it is fused and runs on the device. The host only supplies the per-step scalars (learning
// rate after the schedule, Adam's bias corrections) as inputs.
import type { Graph } from "../ir.ts";
import type { ParamInfo, ParamRegistry } from "./params.ts";

export interface OptimizerSpec {
  name: string;
  kind: "adamw" | "sgd";
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  momentum: number;
  clipNorm: number; // 0: no clipping
  schedule: "constant" | "cosine" | "linear";
  warmup: number;
  /** Exponential moving average of the weights (0: none), kept as state `<opt>.ema.<param>`. */
  ema: number;
}

/**
 * The kinds of per-parameter state an optimizer keeps besides its EMA copies, named
 * `<opt>.<kind>.<param>`: what the run block's `reset(opt)` zeroes.
 */
export const OPTIMIZER_MOMENTS = ["m", "v", "momentum"] as const;
export type OptimizerMoment = (typeof OPTIMIZER_MOMENTS)[number];

/** The state tensors `optimizer` keeps besides its EMA copies (which track the weights). */
export function optimizerMomentNames(optimizer: string, params: Map<string, ParamInfo>): string[] {
  const prefixes = OPTIMIZER_MOMENTS.map((k) => `${optimizer}.${k}.`);
  return [...params]
    .filter(([name, info]) => info.state && prefixes.some((p) => name.startsWith(p)))
    .map(([name]) => name);
}

/** The parameter a moment tensor `<opt>.<kind>.<param>` belongs to, or null for other names. */
export function momentOwner(name: string): string | null {
  const m = /^[A-Za-z_]\w*\.([A-Za-z_]\w*)\.(.+)$/.exec(name);
  return m && (OPTIMIZER_MOMENTS as readonly string[]).includes(m[1]) ? m[2] : null;
}

/** The host-side scalars an optimizer step needs, for optimizer step number t (1-based). */
export function optimizerScalars(
  o: OptimizerSpec,
  t: number,
  totalSteps: number,
): Record<string, number> {
  let lr = o.lr;
  if (o.warmup > 0 && t <= o.warmup) lr *= t / o.warmup;
  else if (o.schedule !== "constant" && totalSteps > o.warmup) {
    const p = Math.min(1, (t - o.warmup) / Math.max(1, totalSteps - o.warmup));
    lr *= o.schedule === "cosine" ? 0.5 * (1 + Math.cos(Math.PI * p)) : 1 - p;
  }
  const out: Record<string, number> = {
    [`${o.name}.lr`]: lr,
    [`${o.name}.bc1`]: 1 - o.beta1 ** t,
    [`${o.name}.bc2`]: 1 - o.beta2 ** t,
  };
  if (o.ema > 0) out[`${o.name}.ema_decay`] = emaDecay(o.ema, t);
  return out;
}

/** Appends the optimizer update for (param, grad) pairs; records updates in g.updates. */
export function emitOptimizer(
  g: Graph,
  o: OptimizerSpec,
  registry: ParamRegistry,
  pairs: { param: number; grad: number; rows?: number }[],
) {
  // Row-restricted parameters (a learned token's embedding row): gradient and step are
  // masked to those rows, so Adam leaves every other row exactly as it was.
  const masks = pairs.map(({ param, rows }) =>
    rows === undefined ? null : rowMask(g, param, rows),
  );
  pairs = pairs.map((p, k) => (masks[k] === null ? p : { ...p, grad: g.mul(p.grad, masks[k]!) }));
  const scalar = (n: string) => g.input(`${o.name}.${n}`, { dtype: "f32", shape: [] });
  const lr = scalar("lr");
  let grads = pairs.map((p) => p.grad);
  if (o.clipNorm > 0) {
    // Global-norm clipping: scale = min(1, clip / (‖g‖ + 1e-6)).
    let sq: number | null = null;
    for (const gr of grads) {
      const s = g.sum(
        g.op("square", [gr]),
        g.shape(gr).map((_, i) => i),
      );
      sq = sq === null ? s : g.add(sq, s);
    }
    const norm = g.op("sqrt", [sq!]);
    g.outputs.set(`${o.name}.grad_norm`, norm);
    const scale = g.op("minimum", [
      g.const(1),
      g.div(g.const(o.clipNorm), g.add(norm, g.const(1e-6))),
    ]);
    grads = grads.map((gr) => g.mul(gr, scale));
  }
  const state = (param: number, kind: OptimizerMoment) => {
    const p = g.node(param);
    const info = registry.declare({
      name: `${o.name}.${kind}.${p.name}`,
      type: p.type,
      init: { kind: "zeros" },
      adaptable: false,
      state: true,
      loc: p.loc,
    });
    return registry.node(g, info);
  };
  if (o.kind === "adamw") {
    const bc1 = scalar("bc1");
    const bc2 = scalar("bc2");
    pairs.forEach(({ param }, k) => {
      const gr = grads[k];
      const m = state(param, "m");
      const v = state(param, "v");
      const m2 = g.add(g.scale(m, o.beta1), g.scale(gr, 1 - o.beta1));
      const v2 = g.add(g.scale(v, o.beta2), g.scale(g.op("square", [gr]), 1 - o.beta2));
      const mhat = g.div(m2, bc1);
      const vhat = g.div(v2, bc2);
      let step = g.div(mhat, g.add(g.op("sqrt", [vhat]), g.const(o.eps)));
      if (o.weightDecay > 0) step = g.add(step, g.scale(param, o.weightDecay));
      if (masks[k] !== null) step = g.mul(step, masks[k]!);
      const next = g.sub(param, g.mul(lr, step));
      g.updates.set(param, next);
      g.updates.set(m, m2);
      g.updates.set(v, v2);
      emitEma(g, o, registry, param, next);
    });
  } else {
    pairs.forEach(({ param }, k) => {
      let d = grads[k];
      if (o.weightDecay > 0) d = g.add(d, g.scale(param, o.weightDecay));
      if (masks[k] !== null) d = g.mul(d, masks[k]!);
      if (o.momentum > 0) {
        const buf = state(param, "momentum");
        d = g.add(g.scale(buf, o.momentum), d);
        g.updates.set(buf, d);
      }
      const next = g.sub(param, g.mul(lr, d));
      g.updates.set(param, next);
      emitEma(g, o, registry, param, next);
    });
  }
}

function emitEma(g: Graph, o: OptimizerSpec, registry: ParamRegistry, param: number, next: number) {
  if (!(o.ema > 0)) return;
  const p = g.node(param);
  const info = registry.declare({
    name: `${o.name}.ema.${p.name}`,
    type: p.type,
    init: { kind: "copy", of: p.name! },
    adaptable: false,
    state: true,
    loc: p.loc,
  });
  const ema = registry.node(g, info);
  const d = g.input(`${o.name}.ema_decay`, { dtype: "f32", shape: [] });
  g.updates.set(ema, g.add(g.mul(ema, d), g.mul(next, g.sub(g.const(1), d))));
}

/**
 * The EMA decay at optimizer step t (1-based): min(ema, (1 + t) / (10 + t)). The warm-up
 * keeps early averages from being dominated by the random initial weights (with a fixed
 * 0.999 the init still weighs 37 % after 1,000 steps).
 */
export function emaDecay(ema: number, t: number): number {
  return Math.min(ema, (1 + t) / (10 + t));
}

/** f32 [V, 1...] mask with 1 on the rows listed in the i32 tensor `ids` of a [V, ...] param. */
function rowMask(g: Graph, param: number, ids: number): number {
  const shape = g.shape(param);
  const V = shape[0];
  const k = g.shape(ids).reduce((a, b) => a * b, 1);
  const hit = g.op("eq", [
    g.op("iota", [], { shape: [V, k], axis: 0, dtype: "i32" }),
    g.broadcast(g.reshape(ids, [1, k]), [V, k]),
  ]);
  const any = g.op("max", [hit], { axes: [1], keepdims: false });
  return g.broadcast(g.reshape(any, [V, ...shape.slice(1).map(() => 1)]), shape);
}
