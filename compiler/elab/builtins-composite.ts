// Built-ins composed from primitives (softmax, attention past its fused bound, losses,
// normalizations, pooling) that fusion later turns back into few kernels.
import { axis, numel } from "../ir.ts";
import { ATTENTION_MAX_D, attentionDims } from "../ops/attention-dims.ts";
import { type Builtin, T, tensorParam } from "./builtin-def.ts";
import { mean } from "./builtins-tensor.ts";
import type { Elaborator } from "./elaborator.ts";
import { fail, float, int } from "./values.ts";

export const compositeBuiltins: Record<string, Builtin> = {};

function def(name: string, b: Builtin) {
  compositeBuiltins[name] = b;
}

function softmax(el: Elaborator, x: number, ax: number, log: boolean): number {
  const g = el.g;
  const s = g.shape(x);
  // The subtracted max only keeps exp() in range; softmax does not depend on it, so its
  // derivative (a mask of the maxima) is skipped.
  const m = g.broadcast(
    g.op("stop_gradient", [g.op("max", [x], { axes: [ax], keepdims: true })]),
    s,
  );
  const z = g.sub(x, m);
  const e = g.op("exp", [z]);
  const sum = g.broadcast(g.sum(e, [ax], true), s);
  return log ? g.sub(z, g.op("log", [sum])) : g.div(e, sum);
}
/** The fused op, or the same function composed from primitives past its head-size bound. */
function attention(el: Elaborator, q: number, k: number, v: number, scale: number): number {
  const g = el.g;
  const d = g.shape(q)[g.shape(q).length - 1];
  if (d <= ATTENTION_MAX_D) return g.op("attention", [q, k, v], { scale });
  attentionDims(g.type(q), g.type(k), g.type(v)); // the shape rule's messages
  const scores = g.scale(g.op("matmul", [q, k], { transB: true }), scale);
  return g.op("matmul", [softmax(el, scores, g.shape(scores).length - 1, false), v]);
}
def("softmax", {
  params: [tensorParam("x"), { name: "axis", kind: "int", default: int(-1) }],
  doc: "exp(x) / Σ exp(x) along an axis (max-subtracted for stability)",
  example: "softmax(scores)",
  impl: (el, a, at) =>
    T(
      el.at(at, () =>
        softmax(el, a.x as number, axis(a.axis as number, el.g.shape(a.x as number).length), false),
      ),
    ),
});
def("log_softmax", {
  params: [tensorParam("x"), { name: "axis", kind: "int", default: int(-1) }],
  doc: "log(softmax(x))",
  example: "log_softmax(logits)",
  impl: (el, a, at) =>
    T(
      el.at(at, () =>
        softmax(el, a.x as number, axis(a.axis as number, el.g.shape(a.x as number).length), true),
      ),
    ),
});
def("attention", {
  params: [tensorParam("q"), tensorParam("k"), tensorParam("v"), { name: "scale", kind: "float" }],
  doc: "scaled dot-product attention softmax(scale · q kᵀ) v, fused (the score map is never stored)",
  example: "attention(q, k, v, scale: 0.25)",
  impl: (el, a, at) =>
    T(
      el.at(at, () =>
        attention(el, a.q as number, a.k as number, a.v as number, a.scale as number),
      ),
    ),
});

def("one_hot", {
  params: [tensorParam("ids"), { name: "n", kind: "int" }],
  doc: "f32 [..., n] with 1 at each id",
  example: "one_hot(labels, 10)",
  impl: (el, a, at) =>
    T(
      el.at(at, () => {
        const ids = a.ids as number;
        const s = [...el.g.shape(ids), a.n as number];
        const iota = el.g.op("iota", [], { shape: s, axis: s.length - 1, dtype: "i32" });
        return el.g.op("eq", [iota, el.g.broadcast(el.g.reshape(ids, [...el.g.shape(ids), 1]), s)]);
      }),
    ),
});
def("cross_entropy", {
  params: [tensorParam("logits"), tensorParam("labels")],
  doc: "mean over rows of -log softmax(logits)[label]; labels are i32 class ids",
  example: "cross_entropy(net(b.x), b.y)",
  impl: (el, a, at) =>
    T(
      el.at(at, () => {
        const g = el.g;
        const logits = a.logits as number;
        const labels = a.labels as number;
        const s = g.shape(logits);
        if (g.type(labels).dtype !== "i32")
          return fail("cross_entropy's labels must be i32 class ids", at);
        const ls = softmax(el, logits, s.length - 1, true);
        const iota = g.op("iota", [], { shape: s, axis: s.length - 1, dtype: "i32" });
        const hot = g.op("eq", [iota, g.broadcast(g.reshape(labels, [...g.shape(labels), 1]), s)]);
        const rows = numel(s.slice(0, -1));
        return g.scale(
          g.sum(
            g.mul(ls, hot),
            s.map((_, i) => i),
          ),
          -1 / rows,
        );
      }),
    ),
});
def("mse", {
  params: [tensorParam("x"), tensorParam("y")],
  doc: "mean of (x - y)²",
  example: "mse(eps_pred, noise)",
  impl: (el, a, at) =>
    T(
      el.at(at, () => {
        const d = el.g.op("square", [el.g.sub(a.x as number, a.y as number)]);
        return mean(
          el,
          d,
          el.g.shape(d).map((_, i) => i),
          false,
        );
      }),
    ),
});
def("layer_norm", {
  params: [tensorParam("x"), { name: "eps", kind: "float", default: float(1e-5) }],
  doc: "normalize over the last axis to zero mean and unit variance",
  example: "layer_norm(h) * gamma + beta",
  impl: (el, a, at) =>
    T(
      el.at(at, () =>
        normalize(el, a.x as number, [el.g.shape(a.x as number).length - 1], a.eps as number),
      ),
    ),
});
def("group_norm", {
  params: [
    tensorParam("x"),
    { name: "groups", kind: "int" },
    { name: "eps", kind: "float", default: float(1e-5) },
  ],
  doc: "for x [N, C, H, W]: normalize each group of C/groups channels over (channels, H, W)",
  example: "group_norm(h, groups: 8)",
  impl: (el, a, at) =>
    T(
      el.at(at, () => {
        const x = a.x as number;
        const s = el.g.shape(x);
        const G = a.groups as number;
        if (s.length !== 4 || s[1] % G !== 0)
          return fail(
            `group_norm needs [N, C, H, W] with C divisible by groups (${G}); got [${s.join(", ")}]`,
            at,
          );
        const r = el.g.reshape(x, [s[0], G, (s[1] / G) * s[2] * s[3]]);
        return el.g.reshape(normalize(el, r, [2], a.eps as number), s);
      }),
    ),
});
function normalize(el: Elaborator, x: number, axes: number[], eps: number): number {
  const g = el.g;
  const s = g.shape(x);
  const mu = g.broadcast(mean(el, x, axes, true), s);
  const d = g.sub(x, mu);
  const v = g.broadcast(mean(el, g.op("square", [d]), axes, true), s);
  return g.mul(d, g.op("rsqrt", [g.add(v, g.const(eps))]));
}
def("upsample2x", {
  params: [tensorParam("x")],
  doc: "nearest-neighbour 2× upsampling of [N, C, H, W]",
  example: "upsample2x(h)",
  impl: (el, a, at) =>
    T(
      el.at(at, () => {
        const [n, c, h, w] = el.g.shape(a.x as number);
        const r = el.g.reshape(a.x as number, [n, c, h, 1, w, 1]);
        return el.g.reshape(el.g.broadcast(r, [n, c, h, 2, w, 2]), [n, c, 2 * h, 2 * w]);
      }),
    ),
});
def("avgpool2x", {
  params: [tensorParam("x")],
  doc: "2×2 average pooling of [N, C, H, W] (H, W even)",
  example: "avgpool2x(h)",
  impl: (el, a, at) =>
    T(
      el.at(at, () => {
        const [n, c, h, w] = el.g.shape(a.x as number);
        if (h % 2 || w % 2) return fail(`avgpool2x needs even H and W, got ${h}×${w}`, at);
        const r = el.g.reshape(a.x as number, [n, c, h / 2, 2, w / 2, 2]);
        return mean(el, r, [3, 5], false);
      }),
    ),
});
