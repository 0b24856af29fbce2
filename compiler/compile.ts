// The compiler driver: source files -> AST -> elaborated program -> simplified step graphs
// -> plans with WGSL kernels. Every user error surfaces as a CompileError.
import { loadProgram } from "../grammar/index.ts";
import type { FileAst, ProgramDecl } from "../grammar/ast.ts";
import { CompileError, type Diagnostic, error, type SourceMap } from "./diagnostics.ts";
import {
  collectBlocks,
  elaborateProgram,
  parseSetting,
  type CompiledProgram,
} from "./elab/program.ts";
import { Elaborator, Env } from "./elab/elaborator.ts";
import { ParamRegistry } from "./elab/params.ts";
import type { Value } from "./elab/values.ts";
import type { Graph } from "./ir.ts";
import "./ops/index.ts";
import { buildPlan, type Plan } from "./plan.ts";
import { simplify } from "./simplify.ts";
import type { Target } from "./codegen/heavy.ts";
import { checkBufferLimits, WEBGPU_DEFAULT_LIMITS, type BufferLimits } from "./limits.ts";

/** What code is generated for, and (from the adapter, else WebGPU's defaults) its limits. */
export type CompileTarget = Target & { limits?: BufferLimits };

export interface Loaded {
  entry: string;
  files: Map<string, FileAst>;
  sources: SourceMap;
}

/** Parses a file and its imports; throws CompileError with every syntax error found. */
export function load(entry: string): Loaded {
  const r = loadProgram(entry);
  if (r.diagnostics.some((d) => d.severity === "error")) {
    const e = new CompileError(r.diagnostics);
    e.sources = r.sources;
    throw e;
  }
  return { entry: r.entry, files: r.files, sources: r.sources };
}

export function findProgram(l: Loaded, name?: string): ProgramDecl {
  const entryAst =
    [...l.files.entries()].find(([k]) => k === l.entry)?.[1] ?? [...l.files.values()][0];
  const programs = entryAst.decls.filter((d): d is ProgramDecl => d.kind === "Program");
  if (name) {
    const p = programs.find((q) => q.name.name === name);
    if (!p) throw new CompileError([error(`no program named '${name}' in ${l.entry}`, null)]);
    return p;
  }
  if (programs.length === 0)
    throw new CompileError([
      error(
        `${l.entry} defines no program (only blocks); 'cldc check' checks blocks, 'cldc train' needs a program`,
        null,
      ),
    ]);
  if (programs.length > 1)
    throw new CompileError([
      error(`${l.entry} defines ${programs.length} programs; pick one with --program NAME`, null),
    ]);
  return programs[0];
}

export interface CompiledStep {
  name: string;
  graph: Graph; // simplified
  plan: Plan;
}

export interface Compiled {
  loaded: Loaded;
  program: CompiledProgram;
  steps: Map<string, CompiledStep>;
}

export function compile(
  entry: string,
  settings: Map<string, string>,
  target: CompileTarget,
  programName?: string,
): Compiled {
  const loaded = load(entry);
  try {
    return compileLoaded(loaded, settings, target, programName);
  } catch (e) {
    if (e instanceof CompileError) e.sources ??= loaded.sources;
    throw e;
  }
}

function compileLoaded(
  loaded: Loaded,
  settings: Map<string, string>,
  target: CompileTarget,
  programName?: string,
): Compiled {
  const decl = findProgram(loaded, programName);
  const { blocks, diagnostics } = collectBlocks(loaded.files.values());
  if (diagnostics.length) throw new CompileError(diagnostics);
  const overrides = new Map<string, Value>();
  for (const [k, v] of settings) overrides.set(k, parseSetting(decl, k, v));
  const program = elaborateProgram(decl, blocks, overrides);
  const steps = new Map<string, CompiledStep>();
  const tooBig: Diagnostic[] = [];
  for (const [name, s] of program.steps) {
    const graph = simplify(s.graph);
    const plan = buildPlan(graph, target);
    const limits = target.limits ?? WEBGPU_DEFAULT_LIMITS;
    tooBig.push(...checkBufferLimits(name, graph, plan, program.registry.params, limits));
    steps.set(name, { name, graph, plan });
  }
  if (tooBig.length) throw new CompileError(tooBig);
  return { loaded, program, steps };
}

/**
 * `cldc check`: parse + elaborate. A program is elaborated with its defaults; in a file of
 * blocks only, each block whose parameters all have defaults or tensor types is checked
 * by calling it on placeholder inputs (shape symbols become 2, 3, 5, ...).
 */
export function check(
  entry: string,
  target: CompileTarget,
  settings = new Map<string, string>(),
): Diagnostic[] {
  let loaded: Loaded;
  try {
    loaded = load(entry);
  } catch (e) {
    if (e instanceof CompileError) return e.diagnostics;
    throw e;
  }
  const { blocks, diagnostics } = collectBlocks(loaded.files.values());
  if (diagnostics.length) return diagnostics;
  const entryAst = loaded.files.get(loaded.entry) ?? [...loaded.files.values()][0];
  const out: Diagnostic[] = [];
  for (const d of entryAst.decls) {
    try {
      if (d.kind === "Program") {
        // --set values are checked like `cldc train` would use them (require, data names).
        const overrides = new Map<string, Value>();
        for (const [k, v] of settings) overrides.set(k, parseSetting(d, k, v));
        const p = elaborateProgram(d, blocks, overrides);
        for (const [name, s] of p.steps) {
          const graph = simplify(s.graph);
          const plan = buildPlan(graph, target);
          const limits = target.limits ?? WEBGPU_DEFAULT_LIMITS;
          out.push(...checkBufferLimits(name, graph, plan, p.registry.params, limits));
        }
      } else {
        checkBlock(d.name.name, blocks);
      }
    } catch (e) {
      if (e instanceof CompileError) out.push(...e.diagnostics);
      else throw e;
    }
  }
  return out;
}

// Symbols get sizes that divide evenly through pooling and grouping (batch-like first dim 2).
const PLACEHOLDER_DIMS = [2, 32, 32, 32, 32, 32, 32, 32];

function checkBlock(name: string, blocks: Map<string, import("../grammar/ast.ts").BlockDecl>) {
  const decl = blocks.get(name)!;
  const el = new Elaborator({ blocks, registry: new ParamRegistry() });
  const env = new Env();
  const args: { arg: import("../grammar/ast.ts").Arg; value: Value }[] = [];
  let k = 0;
  const symbols = new Map<string, number>();
  for (const p of decl.params) {
    if (p.default) continue; // defaults are used
    if (p.type?.kind !== "TensorType") return; // needs a scalar we cannot invent
    const frame = el.newFrame(env, { path: "", used: new Map(), allowParams: false });
    const shape: number[] = [];
    for (const dim of p.type.dims) {
      if (dim.kind === "Ellipsis") {
        shape.push(2);
        continue;
      }
      if (dim.kind === "Name" && !env.has(dim.name)) {
        if (!symbols.has(dim.name))
          symbols.set(dim.name, PLACEHOLDER_DIMS[Math.min(k++, PLACEHOLDER_DIMS.length - 1)]);
        shape.push(symbols.get(dim.name)!);
        continue;
      }
      try {
        const v = el.evalExpr(dim, frame);
        if (v.kind !== "int") return;
        shape.push(v.value);
      } catch {
        return; // depends on other parameters: checked where the block is used
      }
    }
    el.g.loc = p.range; // shape notes point at the parameter's declaration
    const id = el.g.input(p.name.name, { dtype: p.type.dtype, shape });
    el.g.loc = null;
    args.push({
      arg: {
        name: { kind: "Ident", name: p.name.name, range: p.range },
        value: { kind: "Name", name: p.name.name, range: p.range },
        range: p.range,
      },
      value: { kind: "tensor", id },
    });
  }
  el.callBlock(
    { kind: "block", decl, bound: new Map(), scope: "check" },
    args,
    decl.name,
    { path: "", used: new Map(), allowParams: true },
    null,
  );
}
