// Elaborates a whole program: settings (with --set overrides), models, data sources,
// optimizers, and one static IR graph per step. The `run` block stays syntax: the host
// interprets it (runtime/host.ts).
import type {
  AdapterMember,
  BlockDecl,
  CallExpr,
  DataMember,
  FileAst,
  Ident,
  Node,
  ProgramDecl,
  Stmt,
  StepMember,
} from "../../grammar/ast.ts";
import { grad } from "../autodiff.ts";
import { CompileError, type Diagnostic, didYouMean, error } from "../diagnostics.ts";
import { ShapeError, type Graph } from "../ir.ts";
import type { AdapterSpec } from "./adapters.ts";
import { dataSchemas } from "./datasources.ts";
import { Elaborator, Env, type Frame } from "./elaborator.ts";
import { emitOptimizer, type OptimizerSpec } from "./optimizer.ts";
import { ParamRegistry } from "./params.ts";
import { checkRun } from "./run-check.ts";
import {
  asBool,
  asInt,
  asNumber,
  asString,
  describe,
  fail,
  float,
  int,
  type Value,
} from "./values.ts";

export interface DataSpec {
  name: string;
  source: string;
  args: Record<string, number | string | boolean>;
  fields: Record<string, { dtype: "f32" | "i32"; shape: number[] }>;
  member: DataMember;
}

export interface StepGraph {
  name: string;
  graph: Graph;
  /** The data source whose batch the step reads (its inputs are named `<param>.<field>`). */
  batch: { param: string; data: string } | null;
  optimizer: OptimizerSpec | null;
  member: StepMember;
}

export interface CompiledProgram {
  name: string;
  decl: ProgramDecl;
  settings: Map<string, Value>;
  registry: ParamRegistry;
  data: Map<string, DataSpec>;
  optimizers: Map<string, OptimizerSpec>;
  steps: Map<string, StepGraph>;
  adapters: AdapterSpec[];
  run: Stmt[];
}

/** Collects every block of the loaded files, reporting duplicates. */
export function collectBlocks(files: Iterable<FileAst>): {
  blocks: Map<string, BlockDecl>;
  diagnostics: Diagnostic[];
} {
  const blocks = new Map<string, BlockDecl>();
  const diagnostics: Diagnostic[] = [];
  for (const f of files) {
    for (const d of f.decls) {
      if (d.kind !== "Block") continue;
      const prev = blocks.get(d.name.name);
      if (prev) {
        const diag = error(`block '${d.name.name}' is defined twice`, d.name.range);
        diag.notes = [{ message: "first defined here", range: prev.name.range }];
        diagnostics.push(diag);
      } else blocks.set(d.name.name, d);
    }
  }
  return { blocks, diagnostics };
}

/** Parses a `--set name=value` string according to the setting's declared type. */
export function parseSetting(decl: ProgramDecl, name: string, text: string): Value {
  const p = decl.params.find((q) => q.name.name === name);
  if (!p) {
    const d = error(
      `program ${decl.name.name} has no setting '${name}'${didYouMean(
        name,
        decl.params.map((q) => q.name.name),
      )}; settings: ${decl.params.map((q) => q.name.name).join(", ") || "none"}`,
      null,
    );
    d.notes = [{ message: `program ${decl.name.name} is declared here`, range: decl.name.range }];
    throw new CompileError([d]);
  }
  const t = p.type?.kind === "ScalarType" ? p.type.name : null;
  const bad = (want: string) => {
    const d = error(`--set ${name}=${text}: expected ${want}`, null);
    d.notes = [{ message: `setting '${name}' is declared here`, range: p.range }];
    return new CompileError([d]);
  };
  if (t === "int") {
    if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(Number(text))) throw bad("an int");
    return int(Number(text));
  }
  if (t === "float") {
    if (!Number.isFinite(Number(text)) || text.trim() === "") throw bad("a number");
    return float(Number(text));
  }
  if (t === "bool") {
    if (text !== "true" && text !== "false") throw bad("true or false");
    return { kind: "bool", value: text === "true" };
  }
  if (t === "string" || t === null) {
    if (t === null && /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(text))
      return text.includes(".") || /e/i.test(text) ? float(Number(text)) : int(Number(text));
    return { kind: "string", value: text };
  }
  throw bad("a scalar");
}

export function elaborateProgram(
  decl: ProgramDecl,
  blocks: Map<string, BlockDecl>,
  overrides: Map<string, Value> = new Map(),
): CompiledProgram {
  const registry = new ParamRegistry();
  const adapters: AdapterSpec[] = [];
  const ctx = { blocks, registry, adapters };
  const base = new Elaborator(ctx);
  const env = new Env();
  const frame: Frame = base.newFrame(env, { path: "", used: new Map(), allowParams: false });
  for (const name of overrides.keys()) parseKnown(decl, name);

  // Settings, in order (a default may use earlier settings).
  const settings = new Map<string, Value>();
  for (const p of decl.params) {
    let v = overrides.get(p.name.name);
    if (v === undefined) {
      if (!p.default)
        fail(`setting '${p.name.name}' has no default; pass --set ${p.name.name}=...`, p);
      v = base.evalExpr(p.default!, frame);
    }
    if (p.type) v = base.checkType(v, p.type, env, `setting '${p.name.name}'`, p);
    env.define(p.name.name, v);
    settings.set(p.name.name, v);
  }

  const data = new Map<string, DataSpec>();
  const optimizers = new Map<string, OptimizerSpec>();
  const steps = new Map<string, StepGraph>();
  const members = new Map<string, Node>();
  let run: Stmt[] | null = null;
  const claim = (name: string, at: Node) => {
    const prev = members.get(name);
    if (prev || env.has(name)) {
      const d = error(`'${name}' is already defined in program ${decl.name.name}`, at.range);
      if (prev) d.notes = [{ message: "first defined here", range: prev.range }];
      throw new CompileError([d]);
    }
    members.set(name, at);
  };

  for (const m of decl.members) {
    switch (m.kind) {
      case "Model": {
        claim(m.name.name, m.name);
        const v = modelValue(base, m.init, frame, m.name.name);
        env.define(m.name.name, v);
        break;
      }
      case "Data": {
        claim(m.name.name, m.name);
        const spec = dataSpec(base, m, frame);
        data.set(m.name.name, spec);
        env.define(m.name.name, {
          kind: "data",
          name: m.name.name,
          constants: dataSchemas[spec.source].constants?.(spec.args) ?? {},
        });
        break;
      }
      case "Adapter": {
        claim(m.name.name, m.name);
        adapters.push(adapterSpec(base, m, frame));
        env.define(m.name.name, { kind: "adapter", name: m.name.name });
        break;
      }
      case "Optimizer": {
        claim(m.name.name, m.name);
        optimizers.set(m.name.name, optimizerSpec(base, m.name.name, m.init, frame));
        break;
      }
      case "Step":
        claim(m.name.name, m.name);
        break;
      case "Run":
        if (run) fail("a program has one 'run' block", m);
        run = m.body;
        break;
    }
  }
  // Steps after all models/data/optimizers are known, in source order.
  for (const m of decl.members) {
    if (m.kind !== "Step") continue;
    steps.set(m.name.name, elaborateStep(ctx, m, env, data, optimizers));
  }
  // Steps are callable by name in `run`; the host interprets it, after these static checks.
  checkRun(
    run ?? [],
    settings,
    steps,
    adapters.map((a) => a.name),
    data,
    [...optimizers.keys()],
  );
  return {
    name: decl.name.name,
    decl,
    settings,
    registry,
    data,
    optimizers,
    steps,
    adapters,
    run: run ?? [],
  };
}

function parseKnown(decl: ProgramDecl, name: string) {
  if (!decl.params.some((p) => p.name.name === name)) parseSetting(decl, name, "");
}

function modelValue(el: Elaborator, init: CallExpr | Node, f: Frame, name: string): Value {
  const e = init as CallExpr;
  const calleeExpr = e.kind === "Call" ? e.callee : (init as never);
  const callee = el.evalExpr(calleeExpr, f);
  if (callee.kind !== "block")
    return fail(`a model must be a block, got ${describe(callee)}`, init);
  const bound = new Map<string, Value>();
  if (e.kind === "Call") {
    for (const a of e.args) {
      if (!a.name)
        return fail(
          "model arguments must be named (the tensor inputs are given when the model is called)",
          a,
        );
      if (!callee.decl.params.some((p) => p.name.name === a.name!.name)) {
        return fail(
          `block ${callee.decl.name.name} has no parameter '${a.name.name}'${didYouMean(
            a.name.name,
            callee.decl.params.map((p) => p.name.name),
          )}`,
          a.name,
        );
      }
      bound.set(a.name.name, el.evalExpr(a.value, f));
    }
  }
  return { kind: "block", decl: callee.decl, bound, scope: name };
}

function namedArgs(
  el: Elaborator,
  call: CallExpr,
  f: Frame,
  allowed: string[],
  what: string,
): Map<string, { v: Value; at: Node }> {
  const out = new Map<string, { v: Value; at: Node }>();
  for (const a of call.args) {
    if (!a.name) return fail(`${what} takes named arguments (name: value)`, a);
    if (!allowed.includes(a.name.name))
      return fail(
        `${what} has no parameter '${a.name.name}'${didYouMean(a.name.name, allowed)}; parameters: ${allowed.join(", ")}`,
        a.name,
      );
    out.set(a.name.name, { v: el.evalExpr(a.value, f), at: a.value });
  }
  return out;
}

function dataSpec(el: Elaborator, m: DataMember, f: Frame): DataSpec {
  const sourceName = m.init.callee.kind === "Name" ? m.init.callee.name : "";
  const schema = dataSchemas[sourceName];
  if (!schema)
    return fail(
      `unknown data source '${sourceName}'${didYouMean(sourceName, Object.keys(dataSchemas))}; available: ${Object.keys(dataSchemas).join(", ")}`,
      m.init.callee,
    );
  const given = namedArgs(
    el,
    m.init,
    f,
    schema.params.map((p) => p.name),
    `data source ${sourceName}`,
  );
  const args: Record<string, number | string | boolean> = {};
  for (const p of schema.params) {
    const g = given.get(p.name);
    if (!g) {
      if (p.default === undefined)
        return fail(`data source ${sourceName} needs '${p.name}'`, m.init);
      args[p.name] = p.default;
      continue;
    }
    const what = `${sourceName}'s '${p.name}'`;
    const v =
      p.kind === "int"
        ? asInt(g.v, what, g.at)
        : p.kind === "float"
          ? asNumber(g.v, what, g.at)
          : p.kind === "bool"
            ? asBool(g.v, what, g.at)
            : asString(g.v, what, g.at);
    if (p.choices && !p.choices.includes(v as string))
      return fail(`${what} must be one of ${p.choices.map((c) => `"${c}"`).join(", ")}`, g.at);
    if (p.name === "batch" && (v as number) <= 0) return fail(`${what} must be positive`, g.at);
    args[p.name] = v;
  }
  const problem = schema.check?.(args); // e.g. an unknown concept name: before any training
  if (problem) return fail(problem.message, given.get(problem.param)?.at ?? m.init);
  return { name: m.name.name, source: sourceName, args, fields: schema.fields(args), member: m };
}

function adapterSpec(el: Elaborator, m: AdapterMember, f: Frame): AdapterSpec {
  const call = m.init;
  const kind = call.callee.kind === "Name" ? call.callee.name : "";
  if (kind !== "lora")
    return fail(
      `unknown adapter '${kind}'${didYouMean(kind, ["lora"])}; use lora(model, rank: r)`,
      call.callee,
    );
  const [first, ...rest] = call.args;
  if (!first || first.name)
    return fail("lora's first argument is the model to adapt: lora(unet, rank: 4)", call);
  const model = el.evalExpr(first.value, f);
  if (model.kind !== "block" || !model.scope)
    return fail(`lora adapts a model, got ${describe(model)}`, first.value);
  const named = namedArgs(el, { ...call, args: rest }, f, ["rank", "std", "keep"], "lora");
  const r = named.get("rank");
  if (!r) return fail("lora needs a rank: lora(model, rank: 4)", call);
  const rank = asInt(r.v, "lora's rank", r.at);
  if (rank <= 0) return fail(`lora's rank must be at least 1, got ${rank}`, r.at);
  const s = named.get("std");
  const std = s ? asNumber(s.v, "lora's std", s.at) : 1 / rank;
  const k = named.get("keep");
  const keep = k ? asInt(k.v, "lora's keep", k.at) : 0;
  if (keep < 0)
    return fail(`lora's keep must be 0 or more (tasks whose factors to keep), got ${keep}`, k!.at);
  return { name: m.name.name, prefix: `${model.scope}.`, rank, std, keep, at: m };
}

function optimizerSpec(el: Elaborator, name: string, call: CallExpr, f: Frame): OptimizerSpec {
  const kind = call.callee.kind === "Name" ? call.callee.name : "";
  if (kind !== "adamw" && kind !== "adam" && kind !== "sgd")
    return fail(
      `unknown optimizer '${kind}'${didYouMean(kind, ["adamw", "adam", "sgd"])}; use adamw, adam or sgd`,
      call.callee,
    );
  const keys = [
    "lr",
    "beta1",
    "beta2",
    "eps",
    "weight_decay",
    "momentum",
    "clip_norm",
    "schedule",
    "warmup",
    "ema",
  ];
  const a = namedArgs(el, call, f, keys, `optimizer ${kind}`);
  const num = (k: string, d: number) => {
    const g = a.get(k);
    if (!g) return d;
    const v = asNumber(g.v, `${kind}'s ${k}`, g.at);
    if (v < 0 || !Number.isFinite(v))
      return fail(`${kind}'s ${k} must be a finite number >= 0, got ${v}`, g.at);
    return v;
  };
  if (!a.has("lr")) fail(`optimizer ${kind} needs a learning rate: ${kind}(lr: ...)`, call);
  const sched = a.get("schedule");
  const schedule = sched ? asString(sched.v, "schedule", sched.at) : "constant";
  if (!["constant", "cosine", "linear"].includes(schedule))
    fail(`schedule must be "constant", "cosine" or "linear"`, sched!.at);
  return {
    name,
    kind: kind === "sgd" ? "sgd" : "adamw",
    lr: num("lr", 0),
    beta1: num("beta1", 0.9),
    beta2: num("beta2", 0.999),
    eps: num("eps", 1e-8),
    weightDecay: num("weight_decay", 0),
    momentum: num("momentum", 0),
    clipNorm: num("clip_norm", 0),
    schedule: schedule as OptimizerSpec["schedule"],
    warmup: Math.round(num("warmup", 0)),
    ema: num("ema", 0),
  };
}

class StepElaborator extends Elaborator {
  minimize: { loss: number; over: Value[]; optimizer: Ident; at: Node } | null = null;

  override execStepStmt(s: Stmt, f: Frame): void {
    if (s.kind === "Log") {
      const v = s.value ? this.evalExpr(s.value, f) : f.env.get(s.name.name);
      if (!v) return fail(`unknown name '${s.name.name}'`, s.name);
      const id = this.tensor(v, `logged value '${s.name.name}'`, s);
      if (this.g.shape(id).length !== 0)
        return fail(
          `'log' needs a scalar; '${s.name.name}' is [${this.g.shape(id).join(", ")}] (reduce it with mean or sum)`,
          s,
        );
      if (this.g.outputs.has(s.name.name)) return fail(`'${s.name.name}' is logged twice`, s.name);
      this.g.outputs.set(
        s.name.name,
        this.g.type(id).dtype === "f32" ? id : this.g.op("cast", [id], { dtype: "f32" }),
      );
      if (!s.value) return;
      f.env.define(s.name.name, v);
      return;
    }
    if (s.kind === "Minimize") {
      if (this.minimize) return fail("a step has at most one 'minimize'", s);
      const loss = this.tensor(this.evalExpr(s.loss, f), "the loss", s.loss);
      if (this.g.shape(loss).length !== 0)
        return fail(`the loss must be a scalar, got [${this.g.shape(loss).join(", ")}]`, s.loss);
      this.minimize = {
        loss,
        over: s.over.map((o) => this.evalExpr(o, f)),
        optimizer: s.optimizer,
        at: s,
      };
      return;
    }
    super.execStepStmt(s, f);
  }
}

function elaborateStep(
  ctx: { blocks: Map<string, BlockDecl>; registry: ParamRegistry },
  m: StepMember,
  programEnv: Env,
  data: Map<string, DataSpec>,
  optimizers: Map<string, OptimizerSpec>,
): StepGraph {
  const el = new StepElaborator(ctx);
  const env = programEnv.child();
  let batch: StepGraph["batch"] = null;
  const frame0 = el.newFrame(env, { path: "", used: new Map(), allowParams: false });
  for (const p of m.params) {
    if (p.type?.kind === "TensorType") {
      // A tensor the host feeds each call (e.g. the sampler's x_t): dims are known now.
      const shape = p.type.dims.map((d) => {
        if (d.kind === "Ellipsis") return fail("a step input's shape cannot contain '...'", d);
        return asInt(el.evalExpr(d, frame0), "a step input dimension", d);
      });
      el.g.loc = p.range;
      env.define(p.name.name, {
        kind: "tensor",
        id: el.g.input(p.name.name, { dtype: p.type.dtype, shape }),
      });
      el.g.loc = null;
      continue;
    }
    if (p.type?.kind !== "NamedType")
      return fail(
        `a step parameter is a data source ('${p.name.name}: <data>') or a tensor ('${p.name.name}: [dims]')`,
        p,
      );
    const spec = data.get(p.type.name.name);
    if (!spec)
      return fail(
        `unknown data source '${p.type.name.name}'${didYouMean(p.type.name.name, data.keys())}`,
        p.type,
      );
    if (batch) return fail("a step reads one data source", p);
    batch = { param: p.name.name, data: spec.name };
    const fields = new Map<string, Value>();
    el.g.loc = p.range;
    for (const [k, t] of Object.entries(spec.fields))
      fields.set(k, { kind: "tensor", id: el.g.input(`${p.name.name}.${k}`, t) });
    el.g.loc = null;
    env.define(p.name.name, { kind: "batch", source: spec.member, fields });
  }
  const frame = el.newFrame(env, { path: "", used: new Map(), allowParams: false });
  el.execBlock(m.body, frame);
  if (frame.returned) {
    // `return e` in a step makes e an output the host reads back whole (samplers, evaluation).
    if (el.minimize) fail("a step that minimizes cannot also 'return'", m);
    const id = el.tensor(frame.returned, "a step's result", m);
    el.g.outputs.set(
      "return",
      el.g.type(id).dtype === "f32" ? id : el.g.op("cast", [id], { dtype: "f32" }),
    );
  }
  let optimizer: OptimizerSpec | null = null;
  if (el.minimize) {
    const mz = el.minimize;
    const o = mz.optimizer;
    optimizer =
      optimizers.get(o.name) ??
      fail(`unknown optimizer '${o.name}'${didYouMean(o.name, optimizers.keys())}`, o);
    const g = el.g;
    const prefixes: string[] = [];
    const exact = new Set<number>();
    const masks = new Map<number, number>(); // param -> i32 row ids it may change
    // Lists (`adaptables(unet)`) are flattened into the targets.
    const flat = (vs: Value[]): Value[] =>
      vs.flatMap((v) => (v.kind === "list" ? flat(v.items) : [v]));
    for (const o of flat(mz.over)) {
      if (o.kind === "block" && o.scope) prefixes.push(o.scope + ".");
      else if (o.kind === "adapter") prefixes.push(`${o.name}.a.`, `${o.name}.b.`);
      else if (o.kind === "tensor" && g.node(o.id).op === "param") exact.add(o.id);
      else if (o.kind === "rows") {
        exact.add(o.param);
        masks.set(o.param, o.ids);
      } else
        fail(
          `'minimize ... over' takes models, adapters, parameters, rows(...) or lists of them, got ${describe(o)}`,
          mz.at,
        );
    }
    // Adapter state (the frozen past sum) never trains, even inside a listed model.
    const isState = (name: string) => ctx.registry.params.get(name)?.state ?? false;
    const trainable = g
      .params()
      .filter(
        (p) =>
          !isState(p.name!) && (exact.has(p.id) || prefixes.some((pre) => p.name!.startsWith(pre))),
      );
    if (trainable.length === 0)
      fail("nothing to train: no parameter of the listed models is used by the loss", mz.at);
    g.loc = mz.at.range;
    let grads: ReturnType<typeof grad>;
    try {
      grads = grad(
        g,
        mz.loss,
        trainable.map((p) => p.id),
      );
    } catch (e) {
      // The forward graph passed its shape checks; the gradient's can still fail on sizes
      // past float range (found by fuzzing: a dimension of 1e308).
      if (e instanceof ShapeError) fail(`cannot differentiate the loss: ${e.message}`, mz.at);
      throw e;
    }
    emitOptimizer(
      g,
      optimizer,
      ctx.registry,
      trainable.map((p, i) => ({ param: p.id, grad: grads[i], rows: masks.get(p.id) })),
    );
    g.loc = null;
  }
  if (el.g.outputs.size === 0 && !el.minimize)
    fail(`step ${m.name.name} neither logs nor minimizes anything`, m.name);
  return { name: m.name.name, graph: el.g, batch, optimizer, member: m };
}
