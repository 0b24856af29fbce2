// Builds a step's C++ into a shared library, cached by the hash of everything that goes
// into it (source, kernel headers, compiler, flags), like Mesa's shader cache: a step
// compiled once loads in milliseconds afterwards. The library is written under a temporary
// name and renamed, so a kill mid-build never leaves a broken cache entry.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, homedir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Plan } from "../../compiler/plan.ts";
import { C_HEADERS, renderStepUnits, type RenderedUnit } from "../../compiler/c/render-step.ts";
import { requireToolchain } from "./toolchain.ts";

/** Where the kernel headers live (they are part of the compiler). */
export const HEADER_DIR = join(dirname(fileURLToPath(import.meta.url)), "../../compiler/c");

export function nativeCacheDir(): string {
  if (process.env.CLD_NATIVE_CACHE) return process.env.CLD_NATIVE_CACHE;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "cld", "native");
}

export class NativeCompileError extends Error {
  constructor(
    message: string,
    readonly sourcePath: string,
  ) {
    super(message);
    this.name = "NativeCompileError";
  }
}

let headerDigest: string | null = null;
function headersHash(): string {
  if (headerDigest) return headerDigest;
  const h = createHash("sha256");
  for (const f of C_HEADERS) h.update(f).update(readFileSync(join(HEADER_DIR, f)));
  return (headerDigest = h.digest("hex"));
}

export interface BuiltStep {
  library: string;
  /** Whether this call compiled it (false: found in the cache). */
  compiled: boolean;
  ms: number;
}

/** The shared library for `plan`, compiled unless the cache has it. */
export async function buildStep(plan: Plan, label: string): Promise<BuiltStep> {
  const t0 = performance.now();
  const tc = requireToolchain();
  // One unit per core: g++ is single-threaded, and a big step takes it half a minute.
  const units = renderStepUnits(plan, label, compileJobs());
  const h = createHash("sha256");
  for (const u of units) h.update(u.source);
  const key = h
    .update(headersHash())
    .update(tc.version)
    .update(tc.flags.join(" "))
    .digest("hex")
    .slice(0, 32);
  const dir = nativeCacheDir();
  const library = join(dir, `${key}.so`);
  if (existsSync(library)) return { library, compiled: false, ms: performance.now() - t0 };
  mkdirSync(dir, { recursive: true });
  const tmp = `${library}.${process.pid}.tmp`;
  const srcs = units.map((_, p) => join(dir, `${key}.${p}.cpp`));
  const objs = srcs.map((s) => `${s}.${process.pid}.o`);
  const cleanup = () => objs.concat(tmp).forEach((f) => rmSync(f, { force: true }));
  units.forEach((u, p) => writeFileSync(srcs[p], u.source));
  const compileFlags = tc.flags.filter((f) => f !== "-shared");
  const results = await Promise.all(
    units.map((_, p) =>
      limited(() =>
        run(tc.cxx, [...compileFlags, `-I${HEADER_DIR}`, "-c", srcs[p], "-o", objs[p]]),
      ),
    ),
  );
  const failed = results.findIndex((r) => r.code !== 0);
  if (failed >= 0) {
    cleanup();
    throw compileError(plan, label, units[failed].spans, srcs[failed], results[failed].stderr);
  }
  const linked = await limited(() => run(tc.cxx, [...tc.flags, ...objs, "-o", tmp]));
  if (linked.code !== 0) {
    cleanup();
    throw compileError(plan, label, [], srcs[0], linked.stderr);
  }
  renameSync(tmp, library);
  cleanup();
  srcs.forEach((s) => rmSync(s, { force: true }));
  return { library, compiled: true, ms: performance.now() - t0 };
}

// A compile error in generated code is a bug in cld: name the kernel and its source.
function compileError(
  plan: Plan,
  label: string,
  spans: RenderedUnit["spans"],
  src: string,
  stderr: string,
): NativeCompileError {
  const file = basename(src).replace(/[.]/g, "\\.");
  const line = Number(stderr.match(new RegExp(`${file}:(\\d+):`))?.[1] ?? 0);
  const span = spans.find((s) => line >= s.first && line <= s.last);
  const k = span ? plan.kernels[span.kernel] : null;
  const where = k
    ? `kernel ${k.name}${k.locs[0] ? ` (${k.locs[0].file}:${k.locs[0].start.line})` : ""}`
    : `step ${label}`;
  const first = stderr.split("\n").find((l) => /error/.test(l)) ?? stderr.slice(0, 300);
  return new NativeCompileError(
    `cld: internal error: the C++ compiler rejected ${where} — please report it with ${src}\n  ${first.trim()}`,
    src,
  );
}

/** Compiler processes at once ($CLD_NATIVE_JOBS, else one per core). */
export function compileJobs(): number {
  const env = Number(process.env.CLD_NATIVE_JOBS);
  return Number.isInteger(env) && env > 0 ? env : Math.max(1, availableParallelism());
}

// Steps are built concurrently (train and sample start together): share the cores.
let running = 0;
const waiting: (() => void)[] = [];
async function limited<T>(f: () => Promise<T>): Promise<T> {
  while (running >= compileJobs()) await new Promise<void>((r) => waiting.push(r));
  running++;
  try {
    return await f();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

function run(cmd: string, args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    p.stderr.on("data", (d) => (stderr += d));
    p.on("error", (e) => resolve({ code: 1, stderr: String(e) }));
    p.on("close", (code) => resolve({ code: code ?? 1, stderr }));
  });
}
