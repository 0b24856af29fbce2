// Host-side evaluation of run-block expressions: names bound by run-block loops or
// `evaluate` results; everything else as in the compile-time check (compiler/elab/run-expr.ts).
import type { Expr } from "../grammar/ast.ts";
import { didYouMean } from "../compiler/diagnostics.ts";
import type { Env } from "../compiler/elab/elaborator.ts";
import type { DataSpec } from "../compiler/elab/program.ts";
import { evalRunExpr } from "../compiler/elab/run-expr.ts";
import { fail, type Value } from "../compiler/elab/values.ts";

export function evalHostExpr(
  e: Expr,
  env: Env,
  results: ReadonlyMap<string, number>,
  data: Map<string, DataSpec>,
): Value {
  return evalRunExpr(
    e,
    (n) => {
      const v = env.get(n.name);
      if (v) return v;
      const r = results.get(n.name);
      if (r !== undefined) return { kind: "float", value: r };
      return fail(
        `unknown name '${n.name}' in run${didYouMean(n.name, [...env.names(), ...results.keys()])}`,
        n,
      );
    },
    data,
  )!;
}
