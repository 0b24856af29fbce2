// Parameter initializers: `zeros`, `ones`, `glorot`, `he`, `normal(std)`, `uniform(limit)`,
// `constant(v)`.
import type { Expr } from "../../grammar/ast.ts";
import { didYouMean } from "../diagnostics.ts";
import type { TensorType } from "../ir.ts";
import type { Elaborator, Env } from "./elaborator.ts";
import type { Init } from "./params.ts";
import { asNumber, fail } from "./values.ts";

const initializers: Record<string, { args: string[]; make: (a: number[]) => Init }> = {
  zeros: { args: [], make: () => ({ kind: "zeros" }) },
  ones: { args: [], make: () => ({ kind: "ones" }) },
  glorot: { args: [], make: () => ({ kind: "glorot" }) },
  he: { args: [], make: () => ({ kind: "he" }) },
  normal: { args: ["std"], make: ([std]) => ({ kind: "normal", std }) },
  uniform: { args: ["limit"], make: ([limit]) => ({ kind: "uniform", limit }) },
  constant: { args: ["value"], make: ([value]) => ({ kind: "constant", value }) },
};

export const initializerNames = Object.keys(initializers);

export function evalInit(el: Elaborator, e: Expr, env: Env, _type: TensorType): Init {
  const name =
    e.kind === "Name"
      ? e.name
      : e.kind === "Call" && e.callee.kind === "Name"
        ? e.callee.name
        : null;
  const spec = name ? initializers[name] : undefined;
  if (!name || !spec) {
    return fail(
      `unknown initializer${name ? ` '${name}'` : ""}${name ? didYouMean(name, initializerNames) : ""}; use one of ${initializerNames.join(", ")}`,
      e,
    );
  }
  const args = e.kind === "Call" ? e.args : [];
  if (args.length !== spec.args.length) {
    return fail(
      `initializer ${name} takes ${spec.args.length} argument${spec.args.length === 1 ? "" : "s"} (${spec.args.join(", ") || "none"}), got ${args.length}`,
      e,
    );
  }
  const frame = el.newFrame(env, { path: "", used: new Map(), allowParams: false });
  return spec.make(
    args.map((a, i) => asNumber(el.evalExpr(a.value, frame), `${name}'s ${spec.args[i]}`, a.value)),
  );
}
