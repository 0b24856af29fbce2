// Elaborates a whole program: settings (with --set overrides), models, data sources,
// optimizers, and one static IR graph per step. The `run` block stays syntax: the host
// interprets it (runtime/host.ts). Member values are built in program-specs.ts, step
// graphs in program-step.ts.
import type {
  BlockDecl,
  DataMember,
  FileAst,
  Node,
  ProgramDecl,
  Stmt,
  StepMember,
} from "../../grammar/ast.ts";
import { CompileError, type Diagnostic, didYouMean, error } from "../diagnostics.ts";
import type { Graph } from "../ir.ts";
import type { AdapterSpec } from "./adapters.ts";
import { dataSchemas } from "./datasources.ts";
import { Elaborator, Env, type Frame } from "./elaborator.ts";
import type { OptimizerSpec } from "./optimizer.ts";
import { ParamRegistry } from "./params.ts";
import { adapterSpec, dataSpec, modelValue, optimizerSpec } from "./program-specs.ts";
import { elaborateStep } from "./program-step.ts";
import { checkRun } from "./run-check.ts";
import { fail, float, int, type Value } from "./values.ts";

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
