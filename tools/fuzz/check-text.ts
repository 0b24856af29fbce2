// One fuzz case: write the bytes next to the file they came from (so relative imports still
// resolve), run them through `cldc check`'s path (parse + elaborate + plan) and render the
// diagnostics. A case fails when anything throws, when a diagnostic betrays a swallowed
// crash ("internal ... error"), or when it takes longer than the time budget.
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { check } from "../../compiler/compile.ts";
import { formatDiagnostics } from "../../compiler/diagnostics.ts";
import { loadProgram } from "../../grammar/index.ts";

export interface FuzzCase {
  /** How the case was made, e.g. `mutate models/unet.cld: delete 3 tokens at 120`. */
  label: string;
  /** Repository-relative directory the case is written to (its imports resolve from there). */
  dir: string;
  bytes: Uint8Array;
}

export interface Outcome {
  ok: boolean;
  /** Why it failed: the exception with its stack, or the offending diagnostic. */
  failure?: string;
  diagnostics: number;
  ms: number;
}

/** Runs one case from the working directory `root` (the repository), in a scratch folder. */
export function runCase(c: FuzzCase, scratch: string, budgetMs: number): Outcome {
  const dir = path.join(scratch, c.dir);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "__fuzz__.cld");
  writeFileSync(file, c.bytes);
  const t0 = performance.now();
  try {
    const diags = check(file, { subgroups: false });
    const rendered = formatDiagnostics(diags, loadProgram(file).sources);
    const ms = performance.now() - t0;
    const internal = diags.find((d) => /internal|maximum call stack/i.test(d.message));
    if (internal) return { ok: false, failure: rendered, diagnostics: diags.length, ms };
    if (/\n\s+at .*:\d+:\d+\)?$/m.test(rendered))
      return {
        ok: false,
        failure: `stack trace in diagnostics:\n${rendered}`,
        diagnostics: diags.length,
        ms,
      };
    // Linear-time work on a huge input is fine: the budget grows by 1 s per 10 KB.
    const allowed = budgetMs + c.bytes.length / 10;
    if (ms > allowed)
      return {
        ok: false,
        failure: `took ${ms.toFixed(0)} ms (budget ${allowed.toFixed(0)} ms)`,
        diagnostics: diags.length,
        ms,
      };
    return { ok: true, diagnostics: diags.length, ms };
  } catch (e) {
    const ms = performance.now() - t0;
    const failure = e instanceof Error ? (e.stack ?? e.message) : String(e);
    return { ok: false, failure: `uncaught exception: ${failure}`, diagnostics: 0, ms };
  }
}

/** Writes a reproducer: the exact bytes, to be checked with `cldc check FILE`. */
export function saveReproducer(c: FuzzCase, outDir: string, index: number): string {
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `case-${index}.cld`);
  writeFileSync(file, c.bytes);
  writeFileSync(file + ".txt", `${c.label}\nwritten from directory: ${c.dir}\n`);
  return file;
}

/** The .cld files that mutations start from: every file in models/ and examples/. */
export function seedFiles(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const dir of ["models", "examples"]) {
    for (const f of readdirSync(path.join(root, dir)).sort()) {
      if (f.endsWith(".cld")) out[`${dir}/${f}`] = readFileSync(path.join(root, dir, f), "utf8");
    }
  }
  return out;
}

/** A scratch copy of models/ and examples/, so that cases resolve imports without touching the repo. */
export function makeScratch(root: string): string {
  const scratch = mkdtempSync(path.join(tmpdir(), "cld-fuzz-"));
  for (const dir of ["models", "examples"])
    cpSync(path.join(root, dir), path.join(scratch, dir), { recursive: true });
  return scratch;
}
