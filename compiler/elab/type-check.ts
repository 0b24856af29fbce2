// Checking values against declared types: scalar types convert int/float, tensor types unify
// their dimensions with the actual shape, binding shape symbols (`x: [N, d]` binds N and d).
import type { Node, TensorTypeExpr, TypeExpr } from "../../grammar/ast.ts";
import { CompileError, error } from "../diagnostics.ts";
import { showType, type TensorType } from "../ir.ts";
import type { Elaborator } from "./elaborator.ts";
import type { Env, Frame } from "./env.ts";
import { typeText } from "./scalars.ts";
import { asInt, describe, fail, float, int, isNumber, type Value } from "./values.ts";

/** Checks a value against a declared type, binding shape symbols in env. */
export function checkType(
  el: Elaborator,
  v: Value,
  t: TypeExpr,
  env: Env,
  what: string,
  at: Node,
): Value {
  if (t.kind === "ScalarType") {
    // `batch: int = 1e308` is an integer to JavaScript, and a shape no tensor can have.
    if (
      t.name === "int" &&
      isNumber(v) &&
      Number.isInteger(v.value) &&
      !Number.isSafeInteger(v.value)
    )
      return fail(`${what} is too large for an int: ${v.value} (the limit is 2^53 - 1)`, at);
    const ok =
      (t.name === "int" &&
        (v.kind === "int" || (v.kind === "float" && Number.isInteger(v.value)))) ||
      (t.name === "float" && isNumber(v)) ||
      (t.name === "bool" && v.kind === "bool") ||
      (t.name === "string" && v.kind === "string");
    if (!ok) return fail(`${what} must be ${t.name}, got ${describe(v)}`, at);
    if (t.name === "float" && v.kind === "int") return float(v.value);
    if (t.name === "int" && v.kind === "float") return int(v.value);
    return v;
  }
  if (t.kind === "NamedType") return fail(`${what}: '${t.name.name}' is not a type here`, t);
  if (v.kind !== "tensor")
    return fail(`${what} must be a tensor ${typeText(t)}, got ${describe(v)}`, at);
  unifyShape(el, el.g.type(v.id), t, env, what, at);
  return v;
}

/**
 * Matches a tensor type against a declared one. Unbound dimension names are defined in env;
 * other dimensions are evaluated and must equal the actual size. A `...` matches any leading dims.
 */
export function unifyShape(
  el: Elaborator,
  actual: TensorType,
  t: TensorTypeExpr,
  env: Env,
  what: string,
  at: Node,
) {
  const mismatch = (detail: string): never => {
    const d = error(
      `${what}: expected ${typeText(t)} but got ${showType(actual)}: ${detail}`,
      at.range,
    );
    d.notes = [{ message: "the expected type is declared here", range: t.range }];
    throw new CompileError([d]);
  };
  if (actual.dtype !== t.dtype) mismatch(`dtype is ${actual.dtype}, expected ${t.dtype}`);
  const dims = t.dims;
  const ell = dims.findIndex((d) => d.kind === "Ellipsis");
  const fixed = ell < 0 ? dims : dims.slice(ell + 1);
  if (ell < 0 ? actual.shape.length !== dims.length : actual.shape.length < fixed.length) {
    mismatch(
      `rank ${actual.shape.length}, expected ${ell < 0 ? dims.length : `at least ${fixed.length}`}`,
    );
  }
  const offset = actual.shape.length - fixed.length;
  const frame: Frame = {
    env,
    scope: { path: "", used: new Map(), allowParams: false },
    binding: null,
  };
  fixed.forEach((d, i) => {
    const got = actual.shape[offset + i];
    if (d.kind === "Name" && !env.has(d.name)) {
      env.define(d.name, int(got));
      return;
    }
    const want = asInt(el.evalExpr(d, frame), "a dimension", d);
    if (want !== got) mismatch(`dim ${offset + i} is ${got}, expected ${want}`);
  });
}
