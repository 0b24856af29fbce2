// The parameter registry: every trainable or state tensor a program owns, keyed by its
// dotted path (`net.h.w`), with how to initialize it. Shared by all steps of a program so
// that two steps calling the same model see the same weights.
import type { SourceRange } from "../../grammar/ast.ts";
import { CompileError, error } from "../diagnostics.ts";
import { type Graph, showType, type TensorType } from "../ir.ts";

export type Init =
  | { kind: "zeros" }
  | { kind: "ones" }
  | { kind: "constant"; value: number }
  | { kind: "normal"; std: number }
  | { kind: "uniform"; limit: number }
  | { kind: "glorot" } // uniform, limit sqrt(6 / (fan_in + fan_out))
  | { kind: "he" } // normal, std sqrt(2 / fan_in)
  | { kind: "copy"; of: string }; // starts equal to another parameter (EMA weights)

export interface ParamInfo {
  name: string;
  type: TensorType;
  init: Init;
  adaptable: boolean;
  /** Optimizer state and other non-trainable persistent tensors. */
  state: boolean;
  loc: SourceRange | null;
  /** The outermost block call that created it (diagnostics: which call gave which shape). */
  via?: SourceRange | null;
}

export class ParamRegistry {
  readonly params = new Map<string, ParamInfo>();

  declare(info: ParamInfo): ParamInfo {
    const prev = this.params.get(info.name);
    if (!prev) {
      this.params.set(info.name, info);
      return info;
    }
    if (showType(prev.type) !== showType(info.type)) {
      const d = error(
        `parameter '${info.name}' is ${showType(info.type)} here but ${showType(prev.type)} where it was first created`,
        info.loc,
      );
      d.notes = [];
      if (info.via)
        d.notes.push({
          message: `created as ${showType(info.type)} by this call`,
          range: info.via,
        });
      d.notes.push({
        message: `first created as ${showType(prev.type)} ${prev.via ? "by this call" : "here"}`,
        range: prev.via ?? prev.loc,
      });
      throw new CompileError([d]);
    }
    return prev;
  }

  /** The node for a parameter in graph g, created once per graph. */
  node(g: Graph, info: ParamInfo): number {
    const existing = g.nodes.find((n) => n.op === "param" && n.name === info.name);
    if (existing) return existing.id;
    const saved = g.loc;
    g.loc = info.loc;
    const id = g.param(info.name, info.type);
    g.loc = saved;
    return id;
  }
}

/** fan_in and fan_out for matrices [in, out] and conv kernels [out, in, kh, kw]. */
export function fans(shape: number[]): [number, number] {
  if (shape.length === 0) return [1, 1];
  if (shape.length === 1) return [shape[0], shape[0]];
  if (shape.length === 2) return [shape[0], shape[1]];
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  return [shape[1] * receptive, shape[0] * receptive];
}
