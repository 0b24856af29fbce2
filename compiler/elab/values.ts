// Values the elaborator computes with: compile-time scalars and lists, IR tensors, and
// callables (blocks, builtins, models).
import type { BlockDecl, DataMember, Node, SourceRange } from "../../grammar/ast.ts";
import { CompileError, error } from "../diagnostics.ts";

export type Value =
  | { kind: "int"; value: number }
  | { kind: "float"; value: number }
  | { kind: "bool"; value: boolean }
  | { kind: "string"; value: string }
  | { kind: "list"; items: Value[] }
  | { kind: "tensor"; id: number }
  | { kind: "block"; decl: BlockDecl; bound: Map<string, Value>; scope: string | null }
  | { kind: "builtin"; name: string }
  | { kind: "batch"; source: DataMember; fields: Map<string, Value> }
  | { kind: "range"; start: number; end: number }
  | { kind: "data"; name: string; constants: Record<string, number> }
  | { kind: "record"; fields: Map<string, Value> }
  | { kind: "adapter"; name: string }
  | { kind: "rows"; param: number; ids: number };

export const int = (value: number): Value => ({ kind: "int", value });
export const float = (value: number): Value => ({ kind: "float", value });

export function describe(v: Value): string {
  switch (v.kind) {
    case "int":
    case "float":
      return `${v.kind} ${v.value}`;
    case "bool":
      return `bool ${v.value}`;
    case "string":
      return `string "${v.value}"`;
    case "list":
      return `a list of ${v.items.length}`;
    case "tensor":
      return "a tensor";
    case "block":
      return `block ${v.decl.name.name}`;
    case "builtin":
      return `function ${v.name}`;
    case "batch":
      return `a batch of ${v.source.name.name}`;
    case "range":
      return `range ${v.start}..${v.end}`;
    case "data":
      return `data source ${v.name}`;
    case "record":
      return `a record (${[...v.fields.keys()].join(", ")})`;
    case "adapter":
      return `adapter ${v.name}`;
    case "rows":
      return "rows of a parameter";
  }
}

export function fail(message: string, at: Node | SourceRange | null): never {
  const range = at && "range" in at ? at.range : (at as SourceRange | null);
  throw new CompileError([error(message, range)]);
}

export function isNumber(v: Value): v is { kind: "int" | "float"; value: number } {
  return v.kind === "int" || v.kind === "float";
}

export function asInt(v: Value, what: string, at: Node): number {
  if (v.kind === "int") return v.value;
  if (v.kind === "float" && Number.isInteger(v.value)) return v.value;
  return fail(`${what} must be an int, got ${describe(v)}`, at);
}

export function asNumber(v: Value, what: string, at: Node): number {
  if (isNumber(v)) return v.value;
  return fail(`${what} must be a number, got ${describe(v)}`, at);
}

export function asBool(v: Value, what: string, at: Node): boolean {
  if (v.kind === "bool") return v.value;
  return fail(`${what} must be a bool, got ${describe(v)}`, at);
}

export function asString(v: Value, what: string, at: Node): string {
  if (v.kind === "string") return v.value;
  return fail(`${what} must be a string, got ${describe(v)}`, at);
}

export function asIntList(v: Value, what: string, at: Node): number[] {
  if (v.kind === "int") return [v.value];
  if (v.kind !== "list") return fail(`${what} must be a list of ints, got ${describe(v)}`, at);
  return v.items.map((x) => asInt(x, what, at));
}
