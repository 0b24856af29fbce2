// What a built-in function is: its signature (for argument checking and the reference
// docs) and an implementation that emits IR; plus shorthands shared by the files that
// define the built-in families.
import type { Node } from "../../grammar/ast.ts";
import type { Elaborator } from "./elaborator.ts";
import type { Value } from "./values.ts";

type ArgKind = "tensor" | "int" | "float" | "bool" | "string" | "ints" | "tensors" | "any";

export interface Builtin {
  params: { name: string; kind: ArgKind; default?: Value }[];
  doc: string;
  example: string;
  /** Compile-time evaluation when every argument is a number (math on shape values). */
  scalar?: (xs: number[]) => number;
  impl: (el: Elaborator, a: Record<string, unknown>, at: Node) => Value;
}

export const T = (id: number): Value => ({ kind: "tensor", id });
export const tensorParam = (name: string) => ({ name, kind: "tensor" as const });
