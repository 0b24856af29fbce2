// Shared runtime-test helpers: compile a fixture for the open device and run it in a session,
// collecting every step's logged scalars.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../compiler/compile.ts";
import type { Gpu } from "../../runtime/gpu.ts";
import { Session, type SessionOptions } from "../../runtime/session.ts";

export interface Trained {
  session: Session;
  /** The logged scalars of every step call, in order. */
  logs: Map<string, number>[];
  lines: string[];
}

/** A session on `file` with `settings`; nothing runs until start()/run(). */
export function session(
  gpu: Gpu,
  file: string,
  settings: Record<string, string>,
  opts: Partial<SessionOptions> & { runDir: string },
): Trained {
  const c = compile(file, new Map(Object.entries(settings)), { subgroups: gpu.hasSubgroups });
  const logs: Map<string, number>[] = [];
  const lines: string[] = [];
  const s = new Session(gpu, c, {
    seed: 0,
    checkpointSeconds: 0,
    resume: false,
    log: (l) => lines.push(l),
    progressStream: { write: () => true },
    ...opts,
    onStep: (name, l, at) => {
      logs.push(new Map(l));
      opts.onStep?.(name, l, at);
    },
  });
  return { session: s, logs, lines };
}

/** Starts and runs a session to the end. */
export async function train(
  gpu: Gpu,
  file: string,
  settings: Record<string, string>,
  opts: Partial<SessionOptions> & { runDir: string },
): Promise<Trained> {
  const t = session(gpu, file, settings, opts);
  await t.session.start();
  await t.session.run();
  return t;
}

const dirs: string[] = [];
export function runDir(): string {
  const d = mkdtempSync(join(tmpdir(), "cld-run-"));
  dirs.push(d);
  return d;
}
export function removeRunDirs() {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}
