// Compile-time evaluation helpers: scalar arithmetic on numbers (shape math such as
// `C / 2`) and the source text of types and expressions for messages.
import type { Expr, Node, TypeExpr } from "../../grammar/ast.ts";
import { fail, float, int, type Value } from "./values.ts";

export function typeText(t: TypeExpr): string {
  if (t.kind === "ScalarType") return t.name;
  if (t.kind === "NamedType") return t.name.name;
  const dims = t.dims.map((d) => exprText(d)).join(", ");
  return `${t.dtype === "f32" ? "" : t.dtype}[${dims}]`;
}

export function exprText(e: Expr): string {
  switch (e.kind) {
    case "Number":
      return e.text;
    case "Name":
      return e.name;
    case "Ellipsis":
      return "...";
    case "Binary":
      return `${exprText(e.left)} ${e.op} ${exprText(e.right)}`;
    case "Unary":
      return `${e.op}${exprText(e.operand)}`;
    case "String":
      return JSON.stringify(e.value);
    default:
      return "…";
  }
}

export function foldScalar(
  op: string,
  l: { kind: string; value: number },
  r: { kind: string; value: number },
  at: Node,
): Value {
  const both = l.kind === "int" && r.kind === "int";
  const num = (v: number): Value => (both && Number.isInteger(v) ? int(v) : float(v));
  switch (op) {
    case "+":
      return num(l.value + r.value);
    case "-":
      return num(l.value - r.value);
    case "*":
      return num(l.value * r.value);
    case "/":
      if (r.value === 0) return fail("division by zero", at);
      // int / int divides exactly when it can (shape arithmetic like C / 2), else gives a float.
      return num(l.value / r.value);
    case "%":
      if (r.value === 0) return fail("division by zero", at);
      return num(l.value % r.value);
    case "**":
      return num(l.value ** r.value);
    case "==":
      return { kind: "bool", value: l.value === r.value };
    case "!=":
      return { kind: "bool", value: l.value !== r.value };
    case "<":
      return { kind: "bool", value: l.value < r.value };
    case "<=":
      return { kind: "bool", value: l.value <= r.value };
    case ">":
      return { kind: "bool", value: l.value > r.value };
    case ">=":
      return { kind: "bool", value: l.value >= r.value };
    case "@":
      return fail("'@' needs tensors", at);
  }
  return fail(`'${op}' is not defined for numbers`, at);
}
