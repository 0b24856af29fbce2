// The language's built-in functions: the registry that name lookup and the reference docs
// read, the remaining small built-ins (noise, indices, casts, rows()), and binding a call's
// arguments to a built-in's parameters. The families live in builtins-tensor.ts (primitives),
// builtins-composite.ts (softmax, losses, normalizations ...) and builtins-training.ts.
import type { Arg, Node } from "../../grammar/ast.ts";
import { didYouMean } from "../diagnostics.ts";
import { type Builtin, T, tensorParam } from "./builtin-def.ts";
import { compositeBuiltins } from "./builtins-composite.ts";
import { tensorBuiltins } from "./builtins-tensor.ts";
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

export type { Builtin };

export const builtins = new Map<string, Builtin>();

function def(name: string, b: Builtin) {
  builtins.set(name, b);
}

// Registration order is the order of the reference docs.
for (const [name, b] of Object.entries(tensorBuiltins)) def(name, b);
for (const [name, b] of Object.entries(compositeBuiltins)) def(name, b);

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
