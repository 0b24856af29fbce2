// Static checks of a program's `run` block. The host interprets it (runtime/session.ts), but a
// misspelt command after a long training loop must be reported by `cldc check` and before
// training starts, not when the loop is done. The rules mirror the session's interpreter:
// statements are calls, loops, ifs and lets; expressions are numbers, strings, bools, names
// and arithmetic/comparisons on them.
import type { CallExpr, Expr, MemberExpr, Stmt } from "../../grammar/ast.ts";
import { didYouMean } from "../diagnostics.ts";
import { dataSchemas } from "./datasources.ts";
import { Env } from "./elaborator.ts";
import type { DataSpec, StepGraph } from "./program.ts";
import { evalRunExpr } from "./run-expr.ts";
import { checkSampleCall } from "./sample-call.ts";
import { fail, type Value } from "./values.ts";

export const RUN_COMMANDS = [
  "checkpoint",
  "evaluate",
  "print",
  "merge",
  "reset",
  "select",
  "load",
  "sample",
  "require",
];
export const RUN_OPERATORS = ["+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">="];

let adapterNames: string[] = [];
let optimizerNames: string[] = [];
let dataSpecs = new Map<string, DataSpec>();
/** A name whose value is only known while the run block runs (a loop variable, a result). */
const RUNTIME: Value = { kind: "bool", value: true };

export function checkRun(
  run: Stmt[],
  settings: Map<string, Value>,
  steps: Map<string, StepGraph>,
  adapters: string[] = [],
  data = new Map<string, DataSpec>(),
  optimizers: string[] = [],
) {
  adapterNames = adapters;
  optimizerNames = optimizers;
  dataSpecs = data;
  const env = new Env();
  for (const [k, v] of settings) env.define(k, v);
  // evaluate(step) defines the step's logged means as names for later statements.
  const results = new Set<string>();
  collectEvaluated(run, steps, results);
  for (const r of results) if (!env.has(r)) env.define(r, RUNTIME);
  block(run, env, steps);
}

/** `seq.count` in run: a compile-time constant of a data source (as in steps). */
export function dataConstant(e: MemberExpr, data: Map<string, DataSpec>): Value {
  const spec = e.object.kind === "Name" ? data.get(e.object.name) : undefined;
  if (!spec) return fail("in run, only a data source's constants have members, e.g. seq.count", e);
  const constants = dataSchemas[spec.source].constants?.(spec.args) ?? {};
  if (!(e.member.name in constants))
    return fail(
      `data source ${spec.name} has no constant '${e.member.name}'${didYouMean(e.member.name, Object.keys(constants))}`,
      e.member,
    );
  return { kind: "int", value: constants[e.member.name] };
}

/**
 * `require(cond, "message")`: the condition's value when it depends only on settings and
 * constants (so a bad `--set` is refused before training), or null when only the run knows it.
 * Both the checker and the session use this, so they agree on what "static" means.
 */
export function requireArgs(e: CallExpr): { cond: Expr; message: string } {
  const [cond, msg] = e.args.map((a) => a.value);
  if (e.args.length !== 2 || e.args.some((a) => a.name) || msg.kind !== "String")
    return fail(
      'require takes a condition and a message: require(lambda >= 0.0, "lambda must be >= 0")',
      e,
    );
  return { cond, message: msg.value };
}

/**
 * The one-line error for a bad `reset(...)` (it takes one optimizer): a did-you-mean when the
 * argument is a near miss, else the calls this program allows. The checker and the session
 * (runtime/run-commands.ts) share it.
 */
export function resetUsage(e: CallExpr, optimizers: Iterable<string>): string {
  const names = [...optimizers];
  if (!names.length) return "reset takes an optimizer, and this program declares none";
  const arg = e.args.length === 1 ? e.args[0].value : undefined;
  const hint = arg?.kind === "Name" ? didYouMean(arg.name, names) : "";
  return `reset takes an optimizer${hint || `: ${names.map((n) => `reset(${n})`).join(" or ")}`}`;
}

export function requireFailed(message: string, e: CallExpr): never {
  return fail(message, e);
}

function staticValue(e: Expr, env: Env): Value | null {
  return evalRunExpr(
    e,
    (n) => {
      const v = env.get(n.name);
      return v && v !== RUNTIME ? v : null;
    },
    dataSpecs,
  );
}

function collectEvaluated(stmts: Stmt[], steps: Map<string, StepGraph>, out: Set<string>) {
  for (const s of stmts) {
    if (s.kind === "For") collectEvaluated(s.body, steps, out);
    if (s.kind === "If") collectEvaluated([...s.then, ...(s.otherwise ?? [])], steps, out);
    if (
      s.kind !== "ExprStmt" ||
      s.expr.kind !== "Call" ||
      s.expr.callee.kind !== "Name" ||
      s.expr.callee.name !== "evaluate"
    )
      continue;
    const arg = s.expr.args[0]?.value;
    const step = arg?.kind === "Name" ? steps.get(arg.name) : undefined;
    for (const k of step?.graph.outputs.keys() ?? []) out.add(k);
  }
}

function block(stmts: Stmt[], env: Env, steps: Map<string, StepGraph>) {
  for (const s of stmts) stmt(s, env, steps);
}

function stmt(s: Stmt, env: Env, steps: Map<string, StepGraph>) {
  const known = RUNTIME;
  switch (s.kind) {
    case "For": {
      if (s.iterable.kind !== "Range")
        return fail("a run loop iterates over a range a..b", s.iterable);
      expr(s.iterable.start, env);
      expr(s.iterable.end, env);
      const inner = env.child();
      inner.define(s.variable.name, known);
      return block(s.body, inner, steps);
    }
    case "If":
      expr(s.cond, env);
      block(s.then, env, steps);
      return block(s.otherwise ?? [], env, steps);
    case "Let":
      expr(s.value, env);
      return env.define(s.name.name, known);
    case "Assign":
      expr(s.value, env);
      if (!env.has(s.name.name))
        return fail(
          `'${s.name.name}' is not defined; declare it with 'let ${s.name.name} = ...'`,
          s.name,
        );
      return;
    case "ExprStmt":
      return call(s.expr, env, steps);
    default:
      return fail(`'${s.kind.toLowerCase()}' is not allowed in a run block`, s);
  }
}

function call(e: Expr, env: Env, steps: Map<string, StepGraph>) {
  if (e.kind !== "Call" || e.callee.kind !== "Name")
    return fail("a run statement is a call: a step, checkpoint(), evaluate(step) or print(...)", e);
  const name = e.callee.name;
  if (steps.has(name)) {
    if (e.args.length)
      return fail(
        `step ${name} takes no arguments in run (its batch comes from its data source)`,
        e,
      );
    return;
  }
  switch (name) {
    case "checkpoint": {
      // checkpoint() is the resume point; checkpoint("after_task", t) also keeps a snapshot
      // (RUN_DIR/after_task_<t>.safetensors), so the label must be file-name safe.
      if (e.args.length === 0) return;
      const [label, index] = e.args.map((a) => a.value);
      if (
        e.args.length !== 2 ||
        label.kind !== "String" ||
        !/^[A-Za-z_][A-Za-z0-9_-]*$/.test(label.value)
      )
        return fail(
          'checkpoint takes no arguments, or a snapshot name and index: checkpoint("after_task", task)',
          e,
        );
      if (index.kind === "String" || index.kind === "Bool")
        return fail("a snapshot index is an int, e.g. the task loop's variable", index);
      expr(index, env);
      return;
    }
    case "evaluate": {
      const arg = e.args[0]?.value;
      if (e.args.length !== 1 || arg.kind !== "Name" || !steps.has(arg.name)) {
        return fail(
          `evaluate takes a step name${arg?.kind === "Name" ? didYouMean(arg.name, steps.keys()) : ""}`,
          e,
        );
      }
      if (!steps.get(arg.name)!.batch)
        return fail(`evaluate(${arg.name}): the step reads no data source`, arg);
      return;
    }
    case "print":
      for (const a of e.args) expr(a.value, env);
      return;
    case "require": {
      const { cond, message } = requireArgs(e);
      expr(cond, env);
      const v = staticValue(cond, env);
      if (v && v.kind !== "bool")
        return fail(`require's condition must be a comparison, got ${v.kind}`, cond);
      if (v && !v.value) return requireFailed(message, e);
      return;
    }
    case "sample": // sample(denoise, "prompt", ..., n: 4): a grid in RUN_DIR/samples/
      return checkSampleCall(e, steps, (x) => expr(x, env));
    case "select": {
      const d = e.args[0]?.value;
      if (e.args.length !== 2 || d.kind !== "Name")
        return fail("select takes a concept data source and a concept index: select(seq, t)", e);
      const t = e.args[1].value; // an index, or a range a..b: the mixture of those concepts
      if (t.kind === "Range") [t.start, t.end].forEach((x) => expr(x, env));
      else expr(t, env);
      return;
    }
    case "load": {
      if (e.args.length !== 1)
        return fail(
          'load takes a checkpoint path: load("runs/pretrain/checkpoint.safetensors")',
          e,
        );
      expr(e.args[0].value, env);
      return;
    }
    case "merge": {
      const arg = e.args[0]?.value;
      if (e.args.length !== 1 || arg.kind !== "Name" || !adapterNames.includes(arg.name)) {
        return fail(
          `merge takes an adapter${arg?.kind === "Name" ? didYouMean(arg.name, adapterNames) : ""}`,
          e,
        );
      }
      return;
    }
    case "reset": {
      // reset(opt): the optimizer starts over (moments zeroed, step count 0) at a task boundary.
      const arg = e.args[0]?.value;
      if (e.args.length !== 1 || arg.kind !== "Name" || !optimizerNames.includes(arg.name))
        return fail(resetUsage(e, optimizerNames), e.args.length === 1 ? arg : e);
      return;
    }
  }
  return fail(
    `unknown step or command '${name}'${didYouMean(name, [...steps.keys(), ...RUN_COMMANDS])}`,
    e.callee,
  );
}

function expr(e: Expr, env: Env) {
  switch (e.kind) {
    case "Number":
    case "String":
    case "Bool":
      return;
    case "Name":
      if (!env.has(e.name))
        fail(`unknown name '${e.name}' in run${didYouMean(e.name, env.names())}`, e);
      return;
    case "Member":
      dataConstant(e, dataSpecs);
      return;
    case "Binary":
      if (!RUN_OPERATORS.includes(e.op)) fail(`'${e.op}' is not supported in run`, e);
      expr(e.left, env);
      expr(e.right, env);
      return;
    default:
      fail("this expression is not supported in a run block", e);
  }
}
