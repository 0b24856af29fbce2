// Test helpers: parse a snippet and print expressions compactly, e.g. `(a + (b * c))`.
import { expect } from "vitest";
import { parseFile } from "../../grammar/index.ts";
import type { BlockDecl, Expr, FileAst, Stmt } from "../../grammar/ast.ts";

export function parseOk(text: string, file = "test.cld"): FileAst {
  const r = parseFile(text, file);
  expect(r.diagnostics.map((d) => d.message)).toEqual([]);
  expect(r.ast).not.toBeNull();
  return r.ast!;
}

/** Statements of `block T() { <body> }`. */
export function stmts(body: string): Stmt[] {
  return (parseOk(`block T() {\n${body}\n}\n`).decls[0] as BlockDecl).body;
}

/** The expression of `let v = <src>`. */
export function expr(src: string): Expr {
  const s = stmts(`let v = ${src}`)[0];
  if (s.kind !== "Let") throw new Error("expected a let");
  return s.value;
}

export function show(e: Expr): string {
  switch (e.kind) {
    case "Binary":
      return `(${show(e.left)} ${e.op} ${show(e.right)})`;
    case "Unary":
      return `(${e.op}${show(e.operand)})`;
    case "Name":
      return e.name;
    case "Number":
      return e.text;
    case "String":
      return JSON.stringify(e.value);
    case "Bool":
      return String(e.value);
    case "Call":
      return `${show(e.callee)}(${e.args.map((a) => (a.name ? `${a.name.name}: ` : "") + show(a.value)).join(", ")})`;
    case "Member":
      return `${show(e.object)}.${e.member.name}`;
    case "Index":
      return `${show(e.object)}[${show(e.index)}]`;
    case "Range":
      return `${show(e.start)}..${show(e.end)}`;
    case "List":
      return `[${e.items.map(show).join(", ")}]`;
    case "Ellipsis":
      return "...";
  }
}

/** `line:col-line:col` of a range, for compact assertions. */
export function at(n: {
  range: { start: { line: number; column: number }; end: { line: number; column: number } };
}) {
  const { start, end } = n.range;
  return `${start.line}:${start.column}-${end.line}:${end.column}`;
}
