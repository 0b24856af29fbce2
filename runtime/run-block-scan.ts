// Looks at a run block before (or without) running it: how many times each step will be
// called (LR schedules need the total), and whether a loop trains (it gets a progress bar).
import type { Expr, Stmt } from "../grammar/ast.ts";
import type { Compiled } from "../compiler/compile.ts";
import type { Env } from "../compiler/elab/elaborator.ts";
import type { Value } from "../compiler/elab/values.ts";

/**
 * Adds to `out` how many times each step of `stmts` is called, `times` times over, assuming
 * loops run fully. A loop whose bounds depend on a loop variable or an evaluate() result
 * (evalHost throws) is not counted.
 */
export function countStepCalls(
  stmts: Stmt[],
  env: Env,
  c: Compiled,
  evalHost: (e: Expr, env: Env) => Value,
  out: Map<string, number>,
  times = 1,
): void {
  const known = (e: Expr): Value | null => {
    try {
      return evalHost(e, env);
    } catch {
      return null;
    }
  };
  for (const s of stmts) {
    if (s.kind === "Let" || s.kind === "Assign") {
      const v = known(s.value);
      if (v) env.define(s.name.name, v);
    } else if (s.kind === "For" && s.iterable.kind === "Range") {
      const a = known(s.iterable.start);
      const b = known(s.iterable.end);
      if (a?.kind === "int" && b?.kind === "int")
        countStepCalls(
          s.body,
          env.child(),
          c,
          evalHost,
          out,
          times * Math.max(0, b.value - a.value),
        );
    } else {
      const n = stepCalled(s, c);
      if (n !== null) out.set(n, (out.get(n) ?? 0) + times);
    }
  }
}

/** True when `stmts` call a step, directly or in a nested loop or if. */
export function containsStepCall(stmts: Stmt[], c: Compiled): boolean {
  return stmts.some(
    (s) =>
      stepCalled(s, c) !== null ||
      (s.kind === "For" && containsStepCall(s.body, c)) ||
      (s.kind === "If" && (containsStepCall(s.then, c) || containsStepCall(s.otherwise ?? [], c))),
  );
}

/** The step a statement calls, or null when it is not a step call. */
function stepCalled(s: Stmt, c: Compiled): string | null {
  if (s.kind !== "ExprStmt" || s.expr.kind !== "Call" || s.expr.callee.kind !== "Name") return null;
  return c.program.steps.has(s.expr.callee.name) ? s.expr.callee.name : null;
}
