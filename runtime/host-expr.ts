// Host-side evaluation of run-block expressions: numbers, strings, booleans, names bound
// by run-block loops or `evaluate` results, data-source constants, and arithmetic and
// comparisons on numbers (ints stay ints when the result is integral).
import type { Expr } from "../grammar/ast.ts";
import { didYouMean } from "../compiler/diagnostics.ts";
import type { Env } from "../compiler/elab/elaborator.ts";
import { fail, type Value } from "../compiler/elab/values.ts";
import { dataConstant } from "../compiler/elab/run-check.ts";

export function evalHostExpr(
  e: Expr,
  env: Env,
  results: ReadonlyMap<string, number>,
  data: Parameters<typeof dataConstant>[1],
): Value {
  switch (e.kind) {
    case "Number":
      return e.isInt ? { kind: "int", value: e.value } : { kind: "float", value: e.value };
    case "String":
      return { kind: "string", value: e.value };
    case "Bool":
      return { kind: "bool", value: e.value };
    case "Name": {
      const v =
        env.get(e.name) ??
        (results.has(e.name) ? { kind: "float" as const, value: results.get(e.name)! } : undefined);
      if (!v)
        return fail(
          `unknown name '${e.name}' in run${didYouMean(e.name, [...env.names(), ...results.keys()])}`,
          e,
        );
      return v;
    }
    case "Member":
      return dataConstant(e, data);
    case "Binary": {
      const l = evalHostExpr(e.left, env, results, data);
      const r = evalHostExpr(e.right, env, results, data);
      if ((l.kind === "int" || l.kind === "float") && (r.kind === "int" || r.kind === "float")) {
        const ops: Record<string, (a: number, b: number) => number | boolean> = {
          "+": (a, b) => a + b,
          "-": (a, b) => a - b,
          "*": (a, b) => a * b,
          "/": (a, b) => a / b,
          "%": (a, b) => a % b,
          "==": (a, b) => a === b,
          "!=": (a, b) => a !== b,
          "<": (a, b) => a < b,
          "<=": (a, b) => a <= b,
          ">": (a, b) => a > b,
          ">=": (a, b) => a >= b,
        };
        const f = ops[e.op];
        if (!f) return fail(`'${e.op}' is not supported in run`, e);
        const v = f(l.value, r.value);
        if (typeof v === "boolean") return { kind: "bool", value: v };
        return l.kind === "int" && r.kind === "int" && Number.isInteger(v)
          ? { kind: "int", value: v }
          : { kind: "float", value: v };
      }
      return fail(`'${e.op}' needs numbers in run`, e);
    }
    default:
      return fail("this expression is not supported in a run block", e);
  }
}
