// Opens a training checkpoint for inference: rebuilds the program it was trained with,
// loads its tensors and opens a session for one host-fed step (the judge's `classify`,
// the model's `denoise`).
import { dirname } from "node:path";
import {
  emaSources,
  firstMismatch,
  locateProgramFile,
  settingText,
} from "../../runtime/checkpoint-model.ts";
import { compile, findProgram, load, type Compiled } from "../../compiler/compile.ts";
import type { ProgramDecl } from "../../grammar/ast.ts";
import { loadCheckpoint, type HostState } from "../../runtime/checkpoint.ts";
import type { Gpu } from "../../runtime/gpu.ts";
import { readSafetensorsHeader } from "../../runtime/io/safetensors.ts";
import { Session } from "../../runtime/session.ts";

export interface OpenedCheckpoint {
  compiled: Compiled;
  session: Session;
  state: HostState;
  entry: string;
  /** How the weights were chosen (EMA or raw). */
  weights: string;
}

/**
 * Rebuilds the program a checkpoint was trained with (its recorded file and settings, with
 * `overrides`), loads the checkpoint's tensors (EMA copies in place of the parameters
 * unless `ema` is false) and opens a session that can `invoke` one host-fed step.
 */
export async function openCheckpoint(
  gpu: Gpu,
  ckPath: string,
  step: string,
  opts: { overrides?: Record<string, string>; ema?: boolean; seed?: number } = {},
): Promise<OpenedCheckpoint> {
  const header = readSafetensorsHeader(ckPath);
  const raw = header.metadata["cld.state"];
  if (!raw) throw new Error(`${ckPath} is not a cld training checkpoint (no cld.state metadata)`);
  const state = JSON.parse(raw) as HostState;
  const entry = programFile(ckPath, state.entry);
  const decl = findProgram(load(entry), state.program);
  const settings = new Map<string, string>();
  for (const [k, v] of Object.entries(state.settings ?? {})) {
    if (v === null || v === undefined) continue;
    const p = decl.params.find((q) => q.name.name === k);
    if (!p)
      throw new Error(
        `${ckPath} was trained with setting '${k}', which ${decl.name.name} no longer has`,
      );
    settings.set(k, settingText(p, v));
  }
  for (const [k, v] of Object.entries(opts.overrides ?? {})) {
    if (!decl.params.some((q) => q.name.name === k))
      throw new Error(`program ${decl.name.name} (${entry}) has no setting '${k}'`);
    settings.set(k, v);
  }
  const c = compile(entry, settings, { subgroups: gpu.hasSubgroups }, decl.name.name);
  if (!hasStep(decl, step) || !c.steps.has(step))
    throw new Error(`program ${decl.name.name} (${entry}) has no step '${step}'`);
  const reg = c.program.registry.params;
  const mismatch = firstMismatch(header.entries, reg);
  if (mismatch)
    throw new Error(`${ckPath} does not match program ${c.program.name} (${entry}): ${mismatch}`);
  const only: Compiled = { ...c, steps: new Map([[step, c.steps.get(step)!]]) };
  const session = new Session(gpu, only, {
    runDir: dirname(ckPath),
    seed: opts.seed ?? 0,
    checkpointSeconds: 0,
    log: () => {},
    resume: false,
  });
  await gpu.checkErrors();
  const ck = loadCheckpoint(ckPath)!;
  for (const [name, data] of ck.tensors) session.store.set(name, data);
  const ema = opts.ema === false ? new Map<string, string>() : emaSources(ck.tensors.keys(), reg);
  for (const [param, src] of ema) session.store.set(param, ck.tensors.get(src)!);
  const weights = ema.size ? `EMA weights (${ema.size} parameters)` : "raw weights";
  return { compiled: c, session, state, entry, weights };
}

function hasStep(decl: ProgramDecl, step: string): boolean {
  return decl.members.some((m) => m.kind === "Step" && m.name.name === step);
}

/** The program file of a checkpoint: as recorded, else relative to a directory above it. */
function programFile(ckPath: string, entry: string | undefined): string {
  if (!entry) throw new Error(`${ckPath} does not record its program file`);
  const found = locateProgramFile(ckPath, entry);
  if (found) return found;
  throw new Error(`${ckPath} was trained from ${entry}, which is not found from ${process.cwd()}`);
}

/** The input buffer `name` of a step, which the caller fills on the host. */
export function inputBuffer(c: Compiled, step: string, name: string) {
  const b = c.steps.get(step)!.plan.buffers.find((x) => x.kind === "input" && x.name === name);
  if (!b) throw new Error(`step ${step} of ${c.program.name} has no input '${name}'`);
  return b;
}
