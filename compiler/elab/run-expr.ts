// Run-block expressions — literals, names, data-source constants, and arithmetic and
// comparisons on numbers (ints stay ints when the result is integral) — evaluated once
// for both users: the compile-time check (a name known only at run time gives null, and
// null propagates) and the host interpreter (every name is known).
import type { Expr, NameExpr } from "../../grammar/ast.ts";
import type { DataSpec } from "./program.ts";
import { dataConstant } from "./run-check.ts";
import { fail, type Value } from "./values.ts";

export function evalRunExpr(
  e: Expr,
  name: (e: NameExpr) => Value | null,
  data: Map<string, DataSpec>,
): Value | null {
  switch (e.kind) {
    case "Number":
      return e.isInt ? { kind: "int", value: e.value } : { kind: "float", value: e.value };
    case "String":
      return { kind: "string", value: e.value };
    case "Bool":
      return { kind: "bool", value: e.value };
    case "Name":
      return name(e);
    case "Member":
      return dataConstant(e, data);
    case "Binary": {
      const l = evalRunExpr(e.left, name, data);
      const r = evalRunExpr(e.right, name, data);
      if (!l || !r) return null;
      if (!(l.kind === "int" || l.kind === "float") || !(r.kind === "int" || r.kind === "float"))
        return fail(`'${e.op}' needs numbers in run`, e);
      const a = l.value;
      const b = r.value;
      const ops: Record<string, () => number | boolean> = {
        "+": () => a + b,
        "-": () => a - b,
        "*": () => a * b,
        "/": () => a / b,
        "%": () => a % b,
        "==": () => a === b,
        "!=": () => a !== b,
        "<": () => a < b,
        "<=": () => a <= b,
        ">": () => a > b,
        ">=": () => a >= b,
      };
      const v = ops[e.op]?.();
      if (v === undefined) return fail(`'${e.op}' is not supported in run`, e);
      if (typeof v === "boolean") return { kind: "bool", value: v };
      return l.kind === "int" && r.kind === "int" && Number.isInteger(v)
        ? { kind: "int", value: v }
        : { kind: "float", value: v };
    }
    default:
      return fail("this expression is not supported in a run block", e);
  }
}
