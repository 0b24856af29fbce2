// The elaborator turns checked syntax into IR: it evaluates compile-time values, binds shape
// symbols by unification, unrolls `for`/`if` in blocks, names parameter scopes and emits IR
// nodes for tensor expressions. One Elaborator builds one step graph.
//
// This class holds the per-graph state and the helpers builtins use; the work itself lives
// in one file per concept: expressions.ts, statements.ts, block-call.ts and type-check.ts
// (environments and frames are in env.ts). Across files they call each other through these
// methods, so a subclass (the step elaborator) that overrides one is seen by all of them.
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
import { CompileError, error } from "../diagnostics.ts";
import { Graph, ShapeError, showType, type TensorType } from "../ir.ts";
import type { AdapterSlot, AdapterSpec } from "./adapters.ts";
import { callBlock } from "./block-call.ts";
import { Env, type Frame, type ParamScope } from "./env.ts";
import { evalExpr } from "./expressions.ts";
import type { ParamRegistry } from "./params.ts";
import { exec, execBlock } from "./statements.ts";
import { checkType, unifyShape } from "./type-check.ts";
import { describe, fail, isNumber, type Value } from "./values.ts";

export { Env };
export type { Frame, ParamScope };

export interface ElabContext {
  blocks: Map<string, BlockDecl>;
  registry: ParamRegistry;
  /** Adapters declared by the program (LoRA on adaptable parameters). */
  adapters?: AdapterSpec[];
}

export class Elaborator {
  readonly g = new Graph();
  private seedInput: number | null = null;
  /** Adapter slots created in this graph, by adapter name. */
  readonly slots = new Map<string, AdapterSlot[]>();
  private randnStreams = 0;
  /** The block calls being elaborated, outermost first (pushed and popped by callBlock). */
  readonly calls: Node[] = [];
  /** Compile-time loop iterations so far: nested loops multiply, so the total is capped too. */
  unrolled = 0;

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

  // ------------------------------------------------------------ elaboration entry points

  evalExpr(e: Expr, f: Frame): Value {
    return evalExpr(this, e, f);
  }

  callBlock(
    callee: Extract<Value, { kind: "block" }>,
    args: { arg: Arg; value: Value }[],
    call: Node,
    parentScope: ParamScope,
    binding: string | null,
  ): Value {
    return callBlock(this, callee, args, call, parentScope, binding);
  }

  /** Checks a value against a declared type, binding shape symbols in env. */
  checkType(v: Value, t: TypeExpr, env: Env, what: string, at: Node): Value {
    return checkType(this, v, t, env, what, at);
  }

  unifyShape(actual: TensorType, t: TensorTypeExpr, env: Env, what: string, at: Node) {
    unifyShape(this, actual, t, env, what, at);
  }

  execBlock(stmts: Stmt[], f: Frame) {
    execBlock(this, stmts, f);
  }

  exec(s: Stmt, f: Frame): void {
    exec(this, s, f);
  }

  /** Overridden by the step elaborator; in blocks these statements are errors. */
  execStepStmt(s: Stmt, _f: Frame): void {
    fail(`'${s.kind === "Minimize" ? "minimize" : "log"}' is only allowed in a step`, s);
  }

  newFrame(env: Env, scope: ParamScope): Frame {
    return { env, scope, binding: null };
  }
}
