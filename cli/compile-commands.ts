// `cldc check` and `cldc compile`.
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { check, compile, load } from "../compiler/compile.ts";
import { CompileError, formatDiagnostics } from "../compiler/diagnostics.ts";
import { irText } from "../compiler/ir-text.ts";
import type { Plan } from "../compiler/plan.ts";
import { C_HEADERS, renderStep } from "../compiler/c/render-step.ts";
import { HEADER_DIR } from "../runtime/native/build.ts";
import { inputFile, parse, settings, UsageError } from "./args.ts";

/** Whether the WGSL should use subgroup operations: asked of the adapter when there is one. */
export async function detectTarget(): Promise<{ subgroups: boolean }> {
  const { Gpu } = await import("../runtime/gpu.ts");
  try {
    const gpu = await Gpu.open();
    const t = { subgroups: gpu.hasSubgroups };
    gpu.destroy();
    return t;
  } catch {
    return { subgroups: false };
  }
}

export async function cmdCheck(argv: string[], sources: Map<string, string>): Promise<number> {
  const usage = "usage: cldc check FILE.cld [--set name=value ...]";
  const { values, positionals } = parse(argv, { set: { type: "string", multiple: true } }, usage);
  if (positionals.length !== 1) throw new UsageError(usage);
  inputFile(positionals[0]);
  const diags = check(positionals[0], { subgroups: false }, settings(values.set));
  if (diags.length === 0) {
    console.log(`${positionals[0]}: ok`);
    return 0;
  }
  try {
    load(positionals[0]);
  } catch (e) {
    if (e instanceof CompileError && e.sources) for (const [k, v] of e.sources) sources.set(k, v);
  }
  const loaded = safeSources(positionals[0]);
  for (const [k, v] of loaded) sources.set(k, v);
  console.error(formatDiagnostics(diags, sources));
  const n = diags.filter((d) => d.severity === "error").length;
  console.error(`${n} error${n === 1 ? "" : "s"}`);
  return n ? 1 : 0;
}

function safeSources(file: string): Map<string, string> {
  try {
    return load(file).sources;
  } catch (e) {
    return (e as CompileError).sources ?? new Map();
  }
}

export async function cmdCompile(argv: string[], _sources: Map<string, string>): Promise<number> {
  const usage =
    "usage: cldc compile FILE.cld -o DIR [--emit wgsl,ir,plan,c] [--set name=value ...] [--program NAME] [--target subgroups|plain]";
  const { values, positionals } = parse(
    argv,
    {
      out: { type: "string", short: "o" },
      emit: { type: "string", default: "wgsl,ir,plan" },
      set: { type: "string", multiple: true },
      program: { type: "string" },
      target: { type: "string" },
    },
    usage,
  );
  if (positionals.length !== 1 || !values.out) throw new UsageError(usage);
  inputFile(positionals[0]);
  const emit = new Set(values.emit!.split(",").map((s) => s.trim()));
  for (const e of emit)
    if (!["wgsl", "ir", "plan", "c"].includes(e))
      throw new UsageError(`--emit takes wgsl, ir, plan and/or c, got '${e}'`);
  if (values.target !== undefined && !["subgroups", "plain"].includes(values.target))
    throw new UsageError(`--target takes subgroups or plain, got '${values.target}'`);
  const target = values.target
    ? { subgroups: values.target === "subgroups" }
    : await detectTarget();
  const c = compile(positionals[0], settings(values.set), target, values.program);
  const out = values.out;
  const written: string[] = [];
  for (const [name, step] of c.steps) {
    const dir = join(out, name);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    if (emit.has("wgsl")) {
      for (const k of step.plan.kernels) {
        writeFileSync(join(dir, `${k.name}.wgsl`), kernelHeader(k, c.loaded.sources) + k.source);
        written.push(join(dir, `${k.name}.wgsl`));
      }
    }
    if (emit.has("ir")) {
      writeFileSync(join(dir, "step.ir"), irText(step.graph, `step ${name}`));
      written.push(join(dir, "step.ir"));
    }
    if (emit.has("plan")) {
      writeFileSync(join(dir, "plan.json"), planJson(step.plan));
      written.push(join(dir, "plan.json"));
    }
  }
  if (emit.has("c"))
    written.push(...emitC(positionals[0], settings(values.set), values.program, out));
  const kernels = [...c.steps.values()].reduce((s, x) => s + x.plan.kernels.length, 0);
  console.log(
    `compiled ${c.program.name}: ${c.steps.size} step${c.steps.size === 1 ? "" : "s"}, ${kernels} kernels, ${written.length} files in ${out}`,
  );
  return 0;
}

/**
 * The native target's C++: one translation unit per step (STEP/step.cpp, each kernel with
 * the same header as its WGSL file) and the kernel library it includes (include/).
 */
function emitC(
  file: string,
  set: Map<string, string>,
  program: string | undefined,
  out: string,
): string[] {
  const c = compile(file, set, { subgroups: false, language: "c" }, program);
  const written: string[] = [];
  const inc = join(out, "include");
  mkdirSync(inc, { recursive: true });
  for (const h of C_HEADERS) {
    copyFileSync(join(HEADER_DIR, h), join(inc, h));
    written.push(join(inc, h));
  }
  for (const [name, step] of c.steps) {
    const dir = join(out, name);
    mkdirSync(dir, { recursive: true });
    const plan = {
      ...step.plan,
      kernels: step.plan.kernels.map((k) => ({
        ...k,
        source: kernelHeader(k, c.loaded.sources) + k.source,
      })),
    };
    writeFileSync(join(dir, "step.cpp"), renderStep(plan, name).source);
    written.push(join(dir, "step.cpp"));
  }
  return written;
}

export function kernelHeader(k: Plan["kernels"][number], sources: Map<string, string>): string {
  const lines = [
    `// ${k.name}: ${k.ops.join(", ")}`,
    `// dispatch: ${k.workgroups.join(" x ")} workgroups`,
  ];
  for (const loc of k.locs) {
    const text = sources.get(loc.file)?.split(/\r?\n/)[loc.start.line - 1]?.trim() ?? "";
    lines.push(`// from ${loc.file}:${loc.start.line}: ${text}`);
  }
  return lines.join("\n") + "\n";
}

/** The plan as JSON, WGSL replaced by file names (they are written beside it). */
export function planJson(plan: Plan): string {
  const kernels = plan.kernels.map((k) => ({
    name: k.name,
    file: `${k.name}.wgsl`,
    ops: k.ops,
    workgroups: k.workgroups,
    bindings: k.bindings,
    flops: k.flops,
    bytes: k.bytes,
    source: k.locs.map((l) => `${l.file}:${l.start.line}:${l.start.column}`),
  }));
  return (
    JSON.stringify(
      {
        buffers: plan.buffers,
        kernels,
        copies: plan.copies,
        outputs: plan.outputs,
        lifetimes: plan.lifetimes,
      },
      null,
      1,
    ) + "\n"
  );
}
