// Statement elaboration in block bodies: bindings, `param` declarations (registered and, when
// adaptable, wrapped by adapters), `return`, and compile-time `if`/`for`, which are unrolled.
import type { Stmt } from "../../grammar/ast.ts";
import type { TensorType } from "../ir.ts";
import { adaptParam } from "./adapters.ts";
import type { Elaborator } from "./elaborator.ts";
import type { Frame } from "./env.ts";
import { evalInit } from "./init.ts";
import { asBool, asInt, describe, fail, int, type Value } from "./values.ts";

/** The most iterations one compile-time loop may have. */
const MAX_LOOP = 10000;
/** The most compile-time loop iterations in one graph: nested loops multiply. */
const MAX_UNROLLED = 100_000;

export function execBlock(el: Elaborator, stmts: Stmt[], f: Frame) {
  for (const s of stmts) {
    // A `return` inside a taken compile-time `if` ends the block.
    if (f.returned) return;
    el.exec(s, f);
  }
}

export function exec(el: Elaborator, s: Stmt, f: Frame): void {
  switch (s.kind) {
    case "Let": {
      if (f.env.hasOwn(s.name.name))
        return fail(
          `'${s.name.name}' is already defined in this block; assign with '${s.name.name} = ...'`,
          s.name,
        );
      f.env.define(s.name.name, el.evalExpr(s.value, { ...f, binding: s.name.name }));
      return;
    }
    case "Assign": {
      if (!f.env.has(s.name.name))
        return fail(
          `'${s.name.name}' is not defined; declare it with 'let ${s.name.name} = ...'`,
          s.name,
        );
      f.env.set(s.name.name, el.evalExpr(s.value, { ...f, binding: s.name.name }));
      return;
    }
    case "Param":
      return execParam(el, s, f);
    case "Return":
      f.returned = el.evalExpr(s.value, { ...f, binding: null });
      return;
    case "If": {
      const c = asBool(el.evalExpr(s.cond, f), "an 'if' condition (known at compile time)", s.cond);
      const branch = c ? s.then : s.otherwise;
      if (branch) el.execBlock(branch, f);
      return;
    }
    case "For":
      return execFor(el, s, f);
    case "ExprStmt":
      el.evalExpr(s.expr, f);
      return;
    case "Assert": {
      const ok = asBool(el.evalExpr(s.cond, f), "an assertion", s.cond);
      if (!ok) return fail(s.message ?? "assertion failed", s);
      return;
    }
    case "Minimize":
    case "Log":
      return el.execStepStmt(s, f);
  }
}

/** `param name: [dims] = init`: registers the parameter and binds its (maybe adapted) node. */
function execParam(el: Elaborator, s: Extract<Stmt, { kind: "Param" }>, f: Frame): void {
  if (!f.scope.allowParams) return fail("'param' is only allowed inside a block", s);
  const shape = s.type.dims.map((d) => {
    if (d.kind === "Ellipsis") return fail("a parameter's shape cannot contain '...'", d);
    return asInt(el.evalExpr(d, f), "a parameter dimension", d);
  });
  if (shape.some((d) => d <= 0))
    return fail(
      `parameter '${s.name.name}' has a non-positive dimension [${shape.join(", ")}]`,
      s.type,
    );
  const type: TensorType = { dtype: s.type.dtype, shape };
  const init = s.init ? evalInit(el, s.init, f.env, type) : { kind: "zeros" as const };
  const name = f.scope.path ? `${f.scope.path}.${s.name.name}` : s.name.name;
  if (f.env.hasOwn(s.name.name))
    return fail(`'${s.name.name}' is already defined in this block`, s.name);
  const via = el.calls[0]?.range ?? null;
  const info = el.ctx.registry.declare({
    name,
    type,
    init,
    adaptable: s.adaptable,
    state: false,
    loc: s.range,
    via,
  });
  const w = el.ctx.registry.node(el.g, info);
  const adapted = s.adaptable
    ? adaptParam(el.g, el.ctx.registry, el.ctx.adapters ?? [], el.slots, info, w)
    : null;
  f.env.define(s.name.name, { kind: "tensor", id: adapted ?? w });
}

/** A compile-time `for`: the body is elaborated once per item, each in a child environment. */
function execFor(el: Elaborator, s: Extract<Stmt, { kind: "For" }>, f: Frame): void {
  const it = el.evalExpr(s.iterable, f);
  // Checked before the range is materialized: `0..1e12` must not allocate first.
  if (it.kind === "range" && it.end - it.start > MAX_LOOP)
    return fail(`a compile-time loop of ${it.end - it.start} iterations is too long`, s.iterable);
  const items =
    it.kind === "range" ? rangeItems(it.start, it.end) : it.kind === "list" ? it.items : null;
  if (!items) return fail(`cannot loop over ${describe(it)}`, s.iterable);
  if (items.length > MAX_LOOP)
    return fail(`a compile-time loop of ${items.length} iterations is too long`, s.iterable);
  for (const item of items) {
    if (++el.unrolled > MAX_UNROLLED)
      return fail(
        `compile-time loops unroll more than ${MAX_UNROLLED} iterations in total (nested loops multiply)`,
        s.iterable,
      );
    const env = f.env.child();
    env.define(s.variable.name, item);
    const inner: Frame = { env, scope: f.scope, binding: null };
    el.execBlock(s.body, inner);
    if (inner.returned) {
      f.returned = inner.returned;
      return;
    }
  }
}

function rangeItems(a: number, b: number): Value[] {
  const out: Value[] = [];
  for (let i = a; i < b; i++) out.push(int(i));
  return out;
}
