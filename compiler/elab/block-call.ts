// Block calls: binds arguments to a block's parameters (positional, named, defaults, partial
// application from a model declaration), type-checks them, names the call's parameter scope
// and elaborates the body in a fresh environment.
import type { Arg, Node } from "../../grammar/ast.ts";
import { didYouMean } from "../diagnostics.ts";
import type { Elaborator } from "./elaborator.ts";
import { Env, type Frame, type ParamScope } from "./env.ts";
import { describe, fail, type Value } from "./values.ts";

/** Block calls nested deeper than this are reported as (probable) recursion. */
const MAX_CALL_DEPTH = 64;

export function callBlock(
  el: Elaborator,
  callee: Extract<Value, { kind: "block" }>,
  args: { arg: Arg; value: Value }[],
  call: Node,
  parentScope: ParamScope,
  binding: string | null,
): Value {
  const decl = callee.decl;
  if (el.calls.push(call) > MAX_CALL_DEPTH) {
    el.calls.pop();
    return fail(`block ${decl.name.name} calls itself too deeply (recursion?)`, call);
  }
  try {
    const env = new Env();
    const bound = new Map(callee.bound);
    const positional = args.filter((a) => a.arg.name === null);
    const named = args.filter((a) => a.arg.name !== null);
    const free = decl.params.filter((p) => !callee.bound.has(p.name.name));
    if (positional.length > free.length) {
      return fail(
        `block ${decl.name.name} takes ${free.length} argument${free.length === 1 ? "" : "s"} (${free.map((p) => p.name.name).join(", ")}) but ${positional.length} positional arguments were given`,
        call,
      );
    }
    const argAt = new Map<string, Node>(); // where each argument is written, for type errors
    positional.forEach((a, i) => {
      bound.set(free[i].name.name, a.value);
      argAt.set(free[i].name.name, a.arg.value);
    });
    for (const a of named) {
      const n = a.arg.name!.name;
      if (!decl.params.some((p) => p.name.name === n)) {
        return fail(
          `block ${decl.name.name} has no parameter '${n}'${didYouMean(
            n,
            decl.params.map((p) => p.name.name),
          )}`,
          a.arg.name!,
        );
      }
      if (callee.bound.has(n)) {
        return fail(
          `argument '${n}' is already bound by the model declaration${callee.scope ? ` of '${callee.scope}'` : ""}`,
          a.arg,
        );
      }
      if (bound.has(n)) return fail(`argument '${n}' is given twice`, a.arg);
      bound.set(n, a.value);
      argAt.set(n, a.arg.value);
    }
    const scopeName = childScopeName(
      parentScope,
      binding ?? decl.name.name.toLowerCase(),
      callee.scope,
    );
    const scope: ParamScope = { path: scopeName, used: new Map(), allowParams: true };
    const frame: Frame = { env, scope, binding: null };
    for (const p of decl.params) {
      let v = bound.get(p.name.name);
      if (v === undefined) {
        if (!p.default) {
          // A call without tensor arguments is a partial application (e.g. `model net = Net(classes: 10)`).
          return fail(`missing argument '${p.name.name}' in call of block ${decl.name.name}`, call);
        }
        v = el.evalExpr(p.default, frame);
      }
      if (p.type)
        v = el.checkType(
          v,
          p.type,
          env,
          `argument '${p.name.name}' of ${decl.name.name}`,
          argAt.get(p.name.name) ?? call,
        );
      const symbol = env.get(p.name.name);
      if (
        symbol &&
        env.hasOwn(p.name.name) &&
        symbol.kind === "int" &&
        !(v.kind === "int" && v.value === symbol.value)
      ) {
        // `x: [N, out], out: int`: the shape of x already fixed `out`.
        return fail(
          `argument '${p.name.name}' of ${decl.name.name} is ${describe(v)}, but an earlier argument's shape makes '${p.name.name}' ${symbol.value}`,
          argAt.get(p.name.name) ?? call,
        );
      }
      env.define(p.name.name, v);
    }
    el.execBlock(decl.body, frame);
    const result = frame.returned;
    if (!result) return fail(`block ${decl.name.name} ends without 'return'`, decl.name);
    if (decl.returns)
      el.checkType(result, decl.returns, env, `the result of ${decl.name.name}`, call);
    return result;
  } finally {
    el.calls.pop();
  }
}

/** A parameter scope path for a block call; repeated names get _1, _2, ... suffixes. */
function childScopeName(parent: ParamScope, base: string, fixed: string | null): string {
  if (fixed !== null) return fixed;
  const n = parent.used.get(base) ?? 0;
  parent.used.set(base, n + 1);
  const name = n === 0 ? base : `${base}_${n}`;
  return parent.path ? `${parent.path}.${name}` : name;
}
