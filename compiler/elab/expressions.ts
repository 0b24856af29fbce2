// Expression elaboration: compile-time values are folded here, tensor expressions become IR
// nodes, and calls are dispatched to builtins or to block calls.
import type { Expr } from "../../grammar/ast.ts";
import { didYouMean } from "../diagnostics.ts";
import { builtins, callBuiltin } from "./builtins.ts";
import type { Elaborator } from "./elaborator.ts";
import type { Frame } from "./env.ts";
import { evalMember } from "./members.ts";
import { foldScalar } from "./scalars.ts";
import { asBool, asInt, describe, fail, float, int, isNumber, type Value } from "./values.ts";

export function evalExpr(el: Elaborator, e: Expr, f: Frame): Value {
  switch (e.kind) {
    case "Number":
      return e.isInt ? int(e.value) : float(e.value);
    case "String":
      return { kind: "string", value: e.value };
    case "Bool":
      return { kind: "bool", value: e.value };
    case "Name": {
      const v = f.env.get(e.name);
      if (v) return v;
      const block = el.ctx.blocks.get(e.name);
      if (block) return { kind: "block", decl: block, bound: new Map(), scope: null };
      if (builtins.has(e.name)) return { kind: "builtin", name: e.name };
      return fail(
        `unknown name '${e.name}'${didYouMean(e.name, [...f.env.names(), ...el.ctx.blocks.keys(), ...builtins.keys()])}`,
        e,
      );
    }
    case "Member":
      return evalMember(el.g, el.slots, evalExpr(el, e.object, f), e);
    case "List":
      return { kind: "list", items: e.items.map((x) => evalExpr(el, x, f)) };
    case "Range": {
      const s = asInt(evalExpr(el, e.start, f), "a range start", e.start);
      const t = asInt(evalExpr(el, e.end, f), "a range end", e.end);
      return { kind: "range", start: s, end: t };
    }
    case "Index": {
      const obj = evalExpr(el, e.object, f);
      const i = asInt(evalExpr(el, e.index, f), "an index", e.index);
      const items = obj.kind === "list" ? obj.items : obj.kind === "range" ? null : undefined;
      if (obj.kind === "range") {
        if (i < 0 || i >= obj.end - obj.start) return fail(`index ${i} is out of range`, e.index);
        return int(obj.start + i);
      }
      if (!items) return fail(`cannot index ${describe(obj)}; use slice() for tensors`, e);
      const k = i < 0 ? items.length + i : i;
      if (k < 0 || k >= items.length)
        return fail(`index ${i} is out of range for a list of ${items.length}`, e.index);
      return items[k];
    }
    case "Unary": {
      const v = evalExpr(el, e.operand, f);
      if (e.op === "!") return { kind: "bool", value: !asBool(v, "the operand of '!'", e.operand) };
      if (isNumber(v)) return { kind: v.kind, value: -v.value };
      return {
        kind: "tensor",
        id: el.at(e, () => el.g.neg(el.tensor(v, "the operand of '-'", e.operand))),
      };
    }
    case "Binary":
      return evalBinary(el, e, f);
    case "Call":
      return evalCall(el, e, f);
    case "Ellipsis":
      return fail("'...' may only appear in a tensor type", e);
  }
}

/** IR op names of the elementwise binary operators. */
const OP_NAME: Record<string, string> = {
  "+": "add",
  "-": "sub",
  "*": "mul",
  "/": "div",
  "**": "pow",
  "==": "eq",
  "!=": "ne",
  "<": "lt",
  "<=": "le",
  ">": "gt",
  ">=": "ge",
};

function evalBinary(el: Elaborator, e: Extract<Expr, { kind: "Binary" }>, f: Frame): Value {
  const l = evalExpr(el, e.left, f);
  if (e.op === "&&" || e.op === "||") {
    const lb = asBool(l, `the left side of '${e.op}'`, e.left);
    if (e.op === "&&" && !lb) return { kind: "bool", value: false };
    if (e.op === "||" && lb) return { kind: "bool", value: true };
    return {
      kind: "bool",
      value: asBool(evalExpr(el, e.right, f), `the right side of '${e.op}'`, e.right),
    };
  }
  const r = evalExpr(el, e.right, f);
  if (isNumber(l) && isNumber(r)) return foldScalar(e.op, l, r, e);
  if (
    l.kind === "string" &&
    r.kind === "string" &&
    (e.op === "==" || e.op === "!=" || e.op === "+")
  ) {
    if (e.op === "+") return { kind: "string", value: l.value + r.value };
    return { kind: "bool", value: (l.value === r.value) === (e.op === "==") };
  }
  if (l.kind === "bool" && r.kind === "bool" && (e.op === "==" || e.op === "!=")) {
    return { kind: "bool", value: (l.value === r.value) === (e.op === "==") };
  }
  const operands = [
    { side: "left side", value: l, expr: e.left },
    { side: "right side", value: r, expr: e.right },
  ];
  if (e.op === "@") {
    const a = el.tensor(l, "the left side of '@'", e.left);
    const b = el.tensor(r, "the right side of '@'", e.right);
    return { kind: "tensor", id: el.at(e, () => el.g.op("matmul", [a, b]), operands) };
  }
  const name = OP_NAME[e.op];
  if (!name) return fail(`'${e.op}' is not defined for ${describe(l)} and ${describe(r)}`, e);
  for (const [s, t] of [
    [l, r],
    [r, l],
  ]) {
    if (
      s.kind === "float" &&
      !Number.isInteger(s.value) &&
      t.kind === "tensor" &&
      el.g.type(t.id).dtype === "i32"
    ) {
      return fail(
        `'${e.op}' of an i32 tensor and ${describe(s)} would truncate ${s.value} to an int`,
        e,
      );
    }
  }
  return el.at(
    e,
    () => {
      // Scalars adopt the tensor's dtype so `ids == 3` compares i32 with i32.
      const lt = l.kind === "tensor" ? el.g.type(l.id) : null;
      const rt = r.kind === "tensor" ? el.g.type(r.id) : null;
      const a =
        l.kind === "tensor"
          ? l.id
          : isNumber(l)
            ? el.g.const(l.value, [], rt?.dtype ?? "f32")
            : el.tensor(l, `the left side of '${e.op}'`, e.left);
      const b =
        r.kind === "tensor"
          ? r.id
          : isNumber(r)
            ? el.g.const(r.value, [], lt?.dtype ?? "f32")
            : el.tensor(r, `the right side of '${e.op}'`, e.right);
      if (name === "pow" && isNumber(r) && r.value === 2)
        return { kind: "tensor", id: el.g.op("square", [a]) } as Value;
      return { kind: "tensor", id: el.g.op(name, [a, b]) } as Value;
    },
    operands,
  );
}

function evalCall(el: Elaborator, e: Extract<Expr, { kind: "Call" }>, f: Frame): Value {
  const callee = evalExpr(el, e.callee, f);
  const binding = f.binding;
  // Block calls inside a builtin's arguments take the enclosing binding's name; the
  // arguments of a block call do not (the call itself takes it).
  const argBinding = callee.kind === "builtin" ? binding : null;
  const args = e.args.map((a) => ({
    arg: a,
    value: evalExpr(el, a.value, { ...f, binding: argBinding }),
  }));
  if (callee.kind === "builtin") return callBuiltin(el, callee.name, args, e);
  if (callee.kind === "block") return el.callBlock(callee, args, e, f.scope, binding);
  return fail(`${describe(callee)} is not callable`, e.callee);
}
