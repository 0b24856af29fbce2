// The elaborator turns checked syntax into IR: it evaluates compile-time values, binds shape
// symbols by unification, unrolls `for`/`if` in blocks, names parameter scopes and emits IR
// nodes for tensor expressions. One Elaborator builds one step graph.
import type {
  Arg,
  BlockDecl,
  Expr,
  Node,
  SourceRange,
  Stmt,
  TensorTypeExpr,
  TypeExpr,
} from "../../grammar/ast.ts";
import { CompileError, didYouMean, error } from "../diagnostics.ts";
import { Graph, ShapeError, showType, type TensorType } from "../ir.ts";
import { adaptParam, type AdapterSlot, type AdapterSpec } from "./adapters.ts";
import { builtins, callBuiltin } from "./builtins.ts";
import { evalMember } from "./members.ts";
import { foldScalar, typeText } from "./scalars.ts";
import { evalInit } from "./init.ts";
import { ParamRegistry } from "./params.ts";
import { asBool, asInt, describe, fail, float, int, isNumber, type Value } from "./values.ts";

/** A lexical environment: a chain of frames. */
export class Env {
  private vars = new Map<string, Value>();
  constructor(private parent: Env | null = null) {}
  get(name: string): Value | undefined {
    return this.vars.get(name) ?? this.parent?.get(name);
  }
  has(name: string): boolean {
    return this.vars.has(name) || (this.parent?.has(name) ?? false);
  }
  hasOwn(name: string): boolean {
    return this.vars.has(name);
  }
  define(name: string, v: Value) {
    this.vars.set(name, v);
  }
  set(name: string, v: Value): boolean {
    if (this.vars.has(name)) {
      this.vars.set(name, v);
      return true;
    }
    return this.parent?.set(name, v) ?? false;
  }
  names(): string[] {
    return [...this.vars.keys(), ...(this.parent?.names() ?? [])];
  }
  child(): Env {
    return new Env(this);
  }
}

/** Where parameters created by `param` statements go: a dotted path and its used names. */
export interface ParamScope {
  path: string;
  used: Map<string, number>;
  /** When false, `param` statements are errors (e.g. inside a step body outside any block). */
  allowParams: boolean;
}

export interface ElabContext {
  blocks: Map<string, BlockDecl>;
  registry: ParamRegistry;
  /** Adapters declared by the program (LoRA on adaptable parameters). */
  adapters?: AdapterSpec[];
}

interface Frame {
  env: Env;
  scope: ParamScope;
  /** The binding a block call's result is assigned to: names the call's parameter scope. */
  binding: string | null;
  returned?: Value;
}

export class Elaborator {
  readonly g = new Graph();
  private seedInput: number | null = null;
  /** Adapter slots created in this graph, by adapter name. */
  readonly slots = new Map<string, AdapterSlot[]>();
  private randnStreams = 0;
  /** The block calls being elaborated, outermost first. */
  private calls: Node[] = [];
  /** Compile-time loop iterations so far: nested loops multiply, so the total is capped too. */
  private unrolled = 0;

  constructor(readonly ctx: ElabContext) {}

  // ------------------------------------------------------------ helpers for builtins

  tensor(v: Value, what: string, at: Node): number {
    if (v.kind === "tensor") return v.id;
    if (isNumber(v)) return this.g.const(v.value);
    return fail(`${what} must be a tensor, got ${describe(v)}`, at);
  }

  /**
   * Runs `f` with IR node locations set to `at`, turning ShapeErrors into diagnostics; each
   * tensor operand gets a note with its shape, pointing where that tensor was made.
   */
  at<T>(
    at: Node | SourceRange,
    f: () => T,
    operands: { side: string; value: Value; expr: Expr }[] = [],
  ): T {
    const range = "range" in at ? at.range : at;
    const saved = this.g.loc;
    this.g.loc = range;
    try {
      return f();
    } catch (e) {
      if (!(e instanceof ShapeError)) throw e;
      const d = error(e.message, range);
      const notes = operands.flatMap(({ side, value, expr }) => {
        if (value.kind !== "tensor") return [];
        const name = expr.kind === "Name" ? ` '${expr.name}'` : "";
        const made = this.g.node(value.id).loc ?? expr.range;
        return [
          {
            message: `the ${side}${name} is ${showType(this.g.type(value.id))}, from here`,
            range: made,
          },
        ];
      });
      if (notes.length) d.notes = notes;
      throw new CompileError([d]);
    } finally {
      this.g.loc = saved;
    }
  }

  /** The per-step random seed (an i32 scalar input) and a fresh stream id for randn. */
  randomSource(): { seed: number; stream: number } {
    if (this.seedInput === null)
      this.seedInput = this.g.input("__seed", { dtype: "i32", shape: [] });
    return { seed: this.seedInput, stream: this.randnStreams++ };
  }

  // ------------------------------------------------------------ expressions

  evalExpr(e: Expr, f: Frame): Value {
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
        const block = this.ctx.blocks.get(e.name);
        if (block) return { kind: "block", decl: block, bound: new Map(), scope: null };
        if (builtins.has(e.name)) return { kind: "builtin", name: e.name };
        return fail(
          `unknown name '${e.name}'${didYouMean(e.name, [...f.env.names(), ...this.ctx.blocks.keys(), ...builtins.keys()])}`,
          e,
        );
      }
      case "Member":
        return evalMember(this.g, this.slots, this.evalExpr(e.object, f), e);
      case "List":
        return { kind: "list", items: e.items.map((x) => this.evalExpr(x, f)) };
      case "Range": {
        const s = asInt(this.evalExpr(e.start, f), "a range start", e.start);
        const t = asInt(this.evalExpr(e.end, f), "a range end", e.end);
        return { kind: "range", start: s, end: t };
      }
      case "Index": {
        const obj = this.evalExpr(e.object, f);
        const i = asInt(this.evalExpr(e.index, f), "an index", e.index);
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
        const v = this.evalExpr(e.operand, f);
        if (e.op === "!")
          return { kind: "bool", value: !asBool(v, "the operand of '!'", e.operand) };
        if (isNumber(v)) return { kind: v.kind, value: -v.value };
        return {
          kind: "tensor",
          id: this.at(e, () => this.g.neg(this.tensor(v, "the operand of '-'", e.operand))),
        };
      }
      case "Binary":
        return this.evalBinary(e, f);
      case "Call":
        return this.evalCall(e, f);
      case "Ellipsis":
        return fail("'...' may only appear in a tensor type", e);
    }
  }

  private evalBinary(e: Extract<Expr, { kind: "Binary" }>, f: Frame): Value {
    const l = this.evalExpr(e.left, f);
    if (e.op === "&&" || e.op === "||") {
      const lb = asBool(l, `the left side of '${e.op}'`, e.left);
      if (e.op === "&&" && !lb) return { kind: "bool", value: false };
      if (e.op === "||" && lb) return { kind: "bool", value: true };
      return {
        kind: "bool",
        value: asBool(this.evalExpr(e.right, f), `the right side of '${e.op}'`, e.right),
      };
    }
    const r = this.evalExpr(e.right, f);
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
    const opName: Record<string, string> = {
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
    const operands = [
      { side: "left side", value: l, expr: e.left },
      { side: "right side", value: r, expr: e.right },
    ];
    if (e.op === "@") {
      const a = this.tensor(l, "the left side of '@'", e.left);
      const b = this.tensor(r, "the right side of '@'", e.right);
      return { kind: "tensor", id: this.at(e, () => this.g.op("matmul", [a, b]), operands) };
    }
    const name = opName[e.op];
    if (!name) return fail(`'${e.op}' is not defined for ${describe(l)} and ${describe(r)}`, e);
    for (const [s, t] of [
      [l, r],
      [r, l],
    ]) {
      if (
        s.kind === "float" &&
        !Number.isInteger(s.value) &&
        t.kind === "tensor" &&
        this.g.type(t.id).dtype === "i32"
      ) {
        return fail(
          `'${e.op}' of an i32 tensor and ${describe(s)} would truncate ${s.value} to an int`,
          e,
        );
      }
    }
    return this.at(
      e,
      () => {
        // Scalars adopt the tensor's dtype so `ids == 3` compares i32 with i32.
        const lt = l.kind === "tensor" ? this.g.type(l.id) : null;
        const rt = r.kind === "tensor" ? this.g.type(r.id) : null;
        const a =
          l.kind === "tensor"
            ? l.id
            : isNumber(l)
              ? this.g.const(l.value, [], rt?.dtype ?? "f32")
              : this.tensor(l, `the left side of '${e.op}'`, e.left);
        const b =
          r.kind === "tensor"
            ? r.id
            : isNumber(r)
              ? this.g.const(r.value, [], lt?.dtype ?? "f32")
              : this.tensor(r, `the right side of '${e.op}'`, e.right);
        if (name === "pow" && isNumber(r) && r.value === 2)
          return { kind: "tensor", id: this.g.op("square", [a]) } as Value;
        return { kind: "tensor", id: this.g.op(name, [a, b]) } as Value;
      },
      operands,
    );
  }

  private evalCall(e: Extract<Expr, { kind: "Call" }>, f: Frame): Value {
    const callee = this.evalExpr(e.callee, f);
    const binding = f.binding;
    // Block calls inside a builtin's arguments take the enclosing binding's name; the
    // arguments of a block call do not (the call itself takes it).
    const argBinding = callee.kind === "builtin" ? binding : null;
    const args = e.args.map((a) => ({
      arg: a,
      value: this.evalExpr(a.value, { ...f, binding: argBinding }),
    }));
    if (callee.kind === "builtin") return callBuiltin(this, callee.name, args, e);
    if (callee.kind === "block") return this.callBlock(callee, args, e, f.scope, binding);
    return fail(`${describe(callee)} is not callable`, e.callee);
  }

  // ------------------------------------------------------------ blocks

  callBlock(
    callee: Extract<Value, { kind: "block" }>,
    args: { arg: Arg; value: Value }[],
    call: Node,
    parentScope: ParamScope,
    binding: string | null,
  ): Value {
    const decl = callee.decl;
    if (this.calls.push(call) > 64) {
      this.calls.pop();
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
      const scopeName = this.scopeName(
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
            return fail(
              `missing argument '${p.name.name}' in call of block ${decl.name.name}`,
              call,
            );
          }
          v = this.evalExpr(p.default, frame);
        }
        if (p.type)
          v = this.checkType(
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
      this.execBlock(decl.body, frame);
      const result = frame.returned;
      if (!result) return fail(`block ${decl.name.name} ends without 'return'`, decl.name);
      if (decl.returns)
        this.checkType(result, decl.returns, env, `the result of ${decl.name.name}`, call);
      return result;
    } finally {
      this.calls.pop();
    }
  }

  /** A parameter scope path for a block call; repeated names get _1, _2, ... suffixes. */
  private scopeName(parent: ParamScope, base: string, fixed: string | null): string {
    if (fixed !== null) return fixed;
    const n = parent.used.get(base) ?? 0;
    parent.used.set(base, n + 1);
    const name = n === 0 ? base : `${base}_${n}`;
    return parent.path ? `${parent.path}.${name}` : name;
  }

  /** Checks a value against a declared type, binding shape symbols in env. */
  checkType(v: Value, t: TypeExpr, env: Env, what: string, at: Node): Value {
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
    this.unifyShape(this.g.type(v.id), t, env, what, at);
    return v;
  }

  unifyShape(actual: TensorType, t: TensorTypeExpr, env: Env, what: string, at: Node) {
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
      const want = asInt(this.evalExpr(d, frame), "a dimension", d);
      if (want !== got) mismatch(`dim ${offset + i} is ${got}, expected ${want}`);
    });
  }

  // ------------------------------------------------------------ statements

  execBlock(stmts: Stmt[], f: Frame) {
    for (const s of stmts) {
      // A `return` inside a taken compile-time `if` ends the block.
      if (f.returned) return;
      this.exec(s, f);
    }
  }

  exec(s: Stmt, f: Frame): void {
    switch (s.kind) {
      case "Let": {
        if (f.env.hasOwn(s.name.name))
          return fail(
            `'${s.name.name}' is already defined in this block; assign with '${s.name.name} = ...'`,
            s.name,
          );
        f.env.define(s.name.name, this.evalExpr(s.value, { ...f, binding: s.name.name }));
        return;
      }
      case "Assign": {
        if (!f.env.has(s.name.name))
          return fail(
            `'${s.name.name}' is not defined; declare it with 'let ${s.name.name} = ...'`,
            s.name,
          );
        f.env.set(s.name.name, this.evalExpr(s.value, { ...f, binding: s.name.name }));
        return;
      }
      case "Param": {
        if (!f.scope.allowParams) return fail("'param' is only allowed inside a block", s);
        const shape = s.type.dims.map((d) => {
          if (d.kind === "Ellipsis") return fail("a parameter's shape cannot contain '...'", d);
          return asInt(this.evalExpr(d, f), "a parameter dimension", d);
        });
        if (shape.some((d) => d <= 0))
          return fail(
            `parameter '${s.name.name}' has a non-positive dimension [${shape.join(", ")}]`,
            s.type,
          );
        const type: TensorType = { dtype: s.type.dtype, shape };
        const init = s.init ? evalInit(this, s.init, f.env, type) : { kind: "zeros" as const };
        const name = f.scope.path ? `${f.scope.path}.${s.name.name}` : s.name.name;
        if (f.env.hasOwn(s.name.name))
          return fail(`'${s.name.name}' is already defined in this block`, s.name);
        const via = this.calls[0]?.range ?? null;
        const info = this.ctx.registry.declare({
          name,
          type,
          init,
          adaptable: s.adaptable,
          state: false,
          loc: s.range,
          via,
        });
        const w = this.ctx.registry.node(this.g, info);
        const adapted = s.adaptable
          ? adaptParam(this.g, this.ctx.registry, this.ctx.adapters ?? [], this.slots, info, w)
          : null;
        f.env.define(s.name.name, { kind: "tensor", id: adapted ?? w });
        return;
      }
      case "Return":
        f.returned = this.evalExpr(s.value, { ...f, binding: null });
        return;
      case "If": {
        const c = asBool(
          this.evalExpr(s.cond, f),
          "an 'if' condition (known at compile time)",
          s.cond,
        );
        const branch = c ? s.then : s.otherwise;
        if (branch) this.execBlock(branch, f);
        return;
      }
      case "For": {
        const it = this.evalExpr(s.iterable, f);
        // Checked before the range is materialized: `0..1e12` must not allocate first.
        if (it.kind === "range" && it.end - it.start > 10000)
          return fail(
            `a compile-time loop of ${it.end - it.start} iterations is too long`,
            s.iterable,
          );
        const items =
          it.kind === "range" ? rangeItems(it.start, it.end) : it.kind === "list" ? it.items : null;
        if (!items) return fail(`cannot loop over ${describe(it)}`, s.iterable);
        if (items.length > 10000)
          return fail(`a compile-time loop of ${items.length} iterations is too long`, s.iterable);
        for (const item of items) {
          if (++this.unrolled > MAX_UNROLLED)
            return fail(
              `compile-time loops unroll more than ${MAX_UNROLLED} iterations in total (nested loops multiply)`,
              s.iterable,
            );
          const env = f.env.child();
          env.define(s.variable.name, item);
          const inner: Frame = { env, scope: f.scope, binding: null };
          this.execBlock(s.body, inner);
          if (inner.returned) {
            f.returned = inner.returned;
            return;
          }
        }
        return;
      }
      case "ExprStmt":
        this.evalExpr(s.expr, f);
        return;
      case "Assert": {
        const ok = asBool(this.evalExpr(s.cond, f), "an assertion", s.cond);
        if (!ok) return fail(s.message ?? "assertion failed", s);
        return;
      }
      case "Minimize":
      case "Log":
        return this.execStepStmt(s, f);
    }
  }

  /** Overridden by the step elaborator; in blocks these statements are errors. */
  execStepStmt(s: Stmt, _f: Frame): void {
    fail(`'${s.kind === "Minimize" ? "minimize" : "log"}' is only allowed in a step`, s);
  }

  newFrame(env: Env, scope: ParamScope): Frame {
    return { env, scope, binding: null };
  }
}

export type { Frame };

const MAX_UNROLLED = 100_000;

function rangeItems(a: number, b: number): Value[] {
  const out: Value[] = [];
  for (let i = a; i < b; i++) out.push(int(i));
  return out;
}
