// The language's built-in functions. Each has a signature (for argument checking and the
// reference docs) and an implementation that emits IR, often as a composite of primitives
// (softmax, layer_norm, cross_entropy ...) that fusion later turns back into few kernels.
import type { Arg, Node } from "../../grammar/ast.ts";
import { didYouMean } from "../diagnostics.ts";
import { axis, numel } from "../ir.ts";
import { ATTENTION_MAX_D, attentionDims } from "../ops/attention-dims.ts";
import { trainingBuiltins } from "./builtins-training.ts";
import type { Elaborator } from "./elaborator.ts";
import {
  asBool,
  asInt,
  asIntList,
  asNumber,
  asString,
  describe,
  fail,
  float,
  int,
  isNumber,
  type Value,
} from "./values.ts";

type ArgKind = "tensor" | "int" | "float" | "bool" | "string" | "ints" | "tensors" | "any";

export interface Builtin {
  params: { name: string; kind: ArgKind; default?: Value }[];
  doc: string;
  example: string;
  /** Compile-time evaluation when every argument is a number (math on shape values). */
  scalar?: (xs: number[]) => number;
  impl: (el: Elaborator, a: Record<string, unknown>, at: Node) => Value;
}

export const builtins = new Map<string, Builtin>();

const T = (id: number): Value => ({ kind: "tensor", id });
const tensorParam = (name: string) => ({ name, kind: "tensor" as const });

function def(name: string, b: Builtin) {
  builtins.set(name, b);
}

// ---- elementwise math
const unaryMath: Record<string, [string, (x: number) => number]> = {
  exp: ["e^x", Math.exp],
  log: ["natural log", Math.log],
  sqrt: ["square root", Math.sqrt],
  rsqrt: ["1/sqrt(x)", (x) => 1 / Math.sqrt(x)],
  tanh: ["hyperbolic tangent", Math.tanh],
  sigmoid: ["logistic sigmoid", (x) => 1 / (1 + Math.exp(-x))],
  relu: ["max(x, 0)", (x) => Math.max(x, 0)],
  silu: ["x·sigmoid(x)", (x) => x / (1 + Math.exp(-x))],
  gelu: ["GELU (tanh approximation)", (x) => x],
  abs: ["|x|", Math.abs],
  sin: ["sine", Math.sin],
  cos: ["cosine", Math.cos],
  square: ["x²", (x) => x * x],
};
for (const [name, [doc, f]] of Object.entries(unaryMath)) {
  def(name, {
    params: [tensorParam("x")],
    doc,
    example: `${name}(x)`,
    scalar: name === "gelu" ? undefined : ([x]) => f(x),
    impl: (el, a, at) => T(el.at(at, () => el.g.op(name, [a.x as number]))),
  });
}
def("maximum", {
  params: [tensorParam("x"), tensorParam("y")],
  doc: "elementwise maximum",
  example: "maximum(x, 0.1 * x)",
  scalar: ([x, y]) => Math.max(x, y),
  impl: (el, a, at) => T(el.at(at, () => el.g.op("maximum", [a.x as number, a.y as number]))),
});
def("minimum", {
  params: [tensorParam("x"), tensorParam("y")],
  doc: "elementwise minimum",
  example: "minimum(x, 6)",
  scalar: ([x, y]) => Math.min(x, y),
  impl: (el, a, at) => T(el.at(at, () => el.g.op("minimum", [a.x as number, a.y as number]))),
});
def("where", {
  params: [tensorParam("cond"), tensorParam("x"), tensorParam("y")],
  doc: "x where cond != 0, else y",
  example: "where(x > 0, x, 0)",
  impl: (el, a, at) =>
    T(el.at(at, () => el.g.op("where", [a.cond as number, a.x as number, a.y as number]))),
});

// ---- shapes
def("reshape", {
  params: [tensorParam("x"), { name: "shape", kind: "ints" }],
  doc: "same elements, new shape (one dim may be -1)",
  example: "reshape(x, [B, -1])",
  impl: (el, a, at) => T(el.at(at, () => el.g.reshape(a.x as number, a.shape as number[]))),
});
def("transpose", {
  params: [tensorParam("x"), { name: "perm", kind: "ints" }],
  doc: "permute axes",
  example: "transpose(x, [0, 2, 1])",
  impl: (el, a, at) => T(el.at(at, () => el.g.transpose(a.x as number, a.perm as number[]))),
});
def("broadcast", {
  params: [tensorParam("x"), { name: "shape", kind: "ints" }],
  doc: "repeat size-1 axes",
  example: "broadcast(b, [B, C])",
  impl: (el, a, at) => T(el.at(at, () => el.g.broadcast(a.x as number, a.shape as number[]))),
});
def("slice", {
  params: [
    tensorParam("x"),
    { name: "axis", kind: "int" },
    { name: "start", kind: "int" },
    { name: "end", kind: "int" },
  ],
  doc: "the elements start <= i < end along one axis",
  example: "slice(qkv, axis: -1, start: 0, end: C)",
  impl: (el, a, at) =>
    T(
      el.at(at, () => {
        const s = el.g.shape(a.x as number);
        const ax = axis(a.axis as number, s.length);
        const start = s.map((_, i) => (i === ax ? (a.start as number) : 0));
        const end = s.map((d, i) => (i === ax ? (a.end as number) : d));
        return el.g.op("slice", [a.x as number], { start, end });
      }),
    ),
});
def("concat", {
  params: [
    { name: "xs", kind: "tensors" },
    { name: "axis", kind: "int", default: int(0) },
  ],
  doc: "join tensors along an axis",
  example: "concat([h, skip], axis: 1)",
  impl: (el, a, at) =>
    T(el.at(at, () => el.g.op("concat", a.xs as number[], { axis: a.axis as number }))),
});
def("matmul", {
  params: [
    tensorParam("a"),
    tensorParam("b"),
    { name: "transA", kind: "bool", default: { kind: "bool", value: false } },
    { name: "transB", kind: "bool", default: { kind: "bool", value: false } },
  ],
  doc: "batched matrix product, optionally with transposed operands",
  example: "matmul(q, k, transB: true)",
  impl: (el, a, at) =>
    T(
      el.at(at, () =>
        el.g.op("matmul", [a.a as number, a.b as number], {
          transA: a.transA as boolean,
          transB: a.transB as boolean,
        }),
      ),
    ),
});
def("conv2d", {
  params: [
    tensorParam("x"),
    tensorParam("w"),
    { name: "stride", kind: "int", default: int(1) },
    { name: "pad", kind: "int", default: int(0) },
  ],
  doc: "2-D convolution, NCHW input and OIHW weights",
  example: "conv2d(x, w, stride: 1, pad: 1)",
  impl: (el, a, at) =>
    T(
      el.at(at, () =>
        el.g.op("conv2d", [a.x as number, a.w as number], {
          stride: a.stride as number,
          pad: a.pad as number,
        }),
      ),
    ),
});
def("embed", {
  params: [tensorParam("ids"), tensorParam("table")],
  doc: "embedding lookup: rows of table [V, D] at i32 ids",
  example: "embed(tokens, table)",
  impl: (el, a, at) => T(el.at(at, () => el.g.op("gather", [a.table as number, a.ids as number]))),
});

// ---- reductions
const axesParams = [
  tensorParam("x"),
  { name: "axes", kind: "ints" as const, default: { kind: "list" as const, items: [] } },
  { name: "keepdims", kind: "bool" as const, default: { kind: "bool" as const, value: false } },
];
function axesOf(el: Elaborator, x: number, axes: number[]): number[] {
  const r = el.g.shape(x).length;
  return axes.length ? axes.map((k) => axis(k, r)) : Array.from({ length: r }, (_, i) => i);
}
def("sum", {
  params: axesParams,
  doc: "sum over axes (all when omitted)",
  example: "sum(x, axes: [1])",
  impl: (el, a, at) =>
    T(
      el.at(at, () =>
        el.g.sum(
          a.x as number,
          axesOf(el, a.x as number, a.axes as number[]),
          a.keepdims as boolean,
        ),
      ),
    ),
});
def("mean", {
  params: axesParams,
  doc: "mean over axes (all when omitted)",
  example: "mean(x, axes: [-1], keepdims: true)",
  impl: (el, a, at) =>
    T(
      el.at(at, () =>
        mean(
          el,
          a.x as number,
          axesOf(el, a.x as number, a.axes as number[]),
          a.keepdims as boolean,
        ),
      ),
    ),
});
def("max", {
  params: axesParams,
  doc: "maximum over axes",
  example: "max(x, axes: [-1])",
  impl: (el, a, at) =>
    T(
      el.at(at, () =>
        el.g.op("max", [a.x as number], {
          axes: axesOf(el, a.x as number, a.axes as number[]),
          keepdims: a.keepdims as boolean,
        }),
      ),
    ),
});
def("argmax", {
  params: [tensorParam("x"), { name: "axis", kind: "int", default: int(-1) }],
  doc: "index of the maximum along an axis (i32)",
  example: "argmax(logits)",
  impl: (el, a, at) =>
    T(el.at(at, () => el.g.op("argmax", [a.x as number], { axis: a.axis as number }))),
});

// ---- composites
function mean(el: Elaborator, x: number, axes: number[], keepdims: boolean): number {
  const s = el.g.shape(x);
  const n = axes.reduce((p, k) => p * s[k], 1);
  return el.g.scale(el.g.sum(x, axes, keepdims), 1 / n);
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
def("randn", {
  params: [{ name: "shape", kind: "ints" }],
  doc: "standard normal noise, fresh every step, deterministic for the program's seed",
  example: "randn([B, 3, 32, 32])",
  impl: (el, a, at) =>
    T(
      el.at(at, () => {
        const { seed, stream } = el.randomSource();
        return el.g.op("randn", [seed], { shape: a.shape as number[], stream });
      }),
    ),
});
def("rand", {
  params: [{ name: "shape", kind: "ints" }],
  doc: "uniform noise in [0, 1), fresh every step, deterministic for the program's seed",
  example: "rand([B])",
  impl: (el, a, at) =>
    T(
      el.at(at, () => {
        const { seed, stream } = el.randomSource();
        return el.g.op("rand", [seed], { shape: a.shape as number[], stream });
      }),
    ),
});
def("iota", {
  params: [
    { name: "shape", kind: "ints" },
    { name: "axis", kind: "int", default: int(0) },
  ],
  doc: "i32 index along an axis",
  example: "iota([T], axis: 0)",
  impl: (el, a, at) =>
    T(
      el.at(at, () =>
        el.g.op("iota", [], { shape: a.shape as number[], axis: a.axis as number, dtype: "i32" }),
      ),
    ),
});
def("to_float", {
  params: [tensorParam("x")],
  doc: "convert to f32",
  example: "to_float(ids)",
  impl: (el, a, at) => T(el.at(at, () => el.g.op("cast", [a.x as number], { dtype: "f32" }))),
});
def("rows", {
  params: [tensorParam("param"), tensorParam("ids")],
  doc: "marks rows of a parameter as the only trainable part, for `minimize ... over` (a learned token's embedding row)",
  example: "minimize loss over [kv, rows(text.tok, b.concept)] with opt",
  impl: (el, a, at) => {
    const p = el.g.node(a.param as number);
    if (p.op !== "param") return fail("rows() takes a parameter (e.g. text.tok)", at);
    if (el.g.type(a.ids as number).dtype !== "i32") return fail("rows() takes i32 row ids", at);
    return { kind: "rows", param: p.id, ids: a.ids as number };
  },
});
for (const [name, b] of Object.entries(trainingBuiltins)) def(name, b);
def("stop_gradient", {
  params: [tensorParam("x")],
  doc: "x, treated as a constant by autodiff",
  example: "stop_gradient(target)",
  impl: (el, a, at) => T(el.at(at, () => el.g.op("stop_gradient", [a.x as number]))),
});
def("shape", {
  params: [tensorParam("x")],
  doc: "the shape of a tensor as a list of ints",
  example: "shape(x)[0]",
  impl: (el, a) => ({ kind: "list", items: el.g.shape(a.x as number).map(int) }),
});

// ---------------------------------------------------------------- binding

export function callBuiltin(
  el: Elaborator,
  name: string,
  args: { arg: Arg; value: Value }[],
  at: Node,
): Value {
  const b = builtins.get(name)!;
  if (b.scalar && args.length && args.every((a) => isNumber(a.value) && a.arg.name === null)) {
    if (args.length !== b.params.filter((p) => p.kind === "tensor").length) {
      return fail(`${name} takes ${b.params.length} argument(s), got ${args.length}`, at);
    }
    return float(b.scalar(args.map((a) => (a.value as { value: number }).value)));
  }
  const bound: Record<string, unknown> = {};
  const given = new Map<string, { arg: Arg; value: Value }>();
  const positional = args.filter((a) => a.arg.name === null);
  if (positional.length > b.params.length) {
    return fail(
      `${name} takes at most ${b.params.length} argument${b.params.length === 1 ? "" : "s"} (${b.params.map((p) => p.name).join(", ")}), got ${positional.length}`,
      at,
    );
  }
  positional.forEach((a, i) => given.set(b.params[i].name, a));
  for (const a of args.filter((a) => a.arg.name !== null)) {
    const n = a.arg.name!.name;
    if (!b.params.some((p) => p.name === n))
      return fail(
        `${name} has no parameter '${n}'${didYouMean(
          n,
          b.params.map((p) => p.name),
        )}`,
        a.arg.name!,
      );
    if (given.has(n)) return fail(`argument '${n}' of ${name} is given twice`, a.arg);
    given.set(n, a);
  }
  for (const p of b.params) {
    const a = given.get(p.name);
    const v = a?.value ?? p.default;
    if (v === undefined)
      return fail(
        `${name} is missing its argument '${p.name}' (signature: ${name}(${b.params.map((q) => q.name).join(", ")}))`,
        at,
      );
    const where = a?.arg ?? at;
    const what = `${name}'s argument '${p.name}'`;
    switch (p.kind) {
      case "tensor":
        bound[p.name] = el.tensor(v, what, where);
        break;
      case "tensors":
        if (v.kind !== "list")
          return fail(`${what} must be a list of tensors, got ${describe(v)}`, where);
        bound[p.name] = v.items.map((x) => el.tensor(x, what, where));
        break;
      case "int":
        bound[p.name] = asInt(v, what, where);
        break;
      case "float":
        bound[p.name] = asNumber(v, what, where);
        break;
      case "bool":
        bound[p.name] = asBool(v, what, where);
        break;
      case "string":
        bound[p.name] = asString(v, what, where);
        break;
      case "ints":
        bound[p.name] = asIntList(v, what, where);
        break;
      case "any":
        bound[p.name] = v;
    }
  }
  return b.impl(el, bound, at);
}
