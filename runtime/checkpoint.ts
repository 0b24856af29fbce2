// Checkpoints: every parameter and optimizer-state tensor plus the host state needed to
// resume bit-exactly (events done, data iterator positions, optimizer step counts), in one
// safetensors file written atomically (temp file + rename), so a kill never leaves a
// half-written checkpoint where a whole one is expected.
import { existsSync } from "node:fs";
import { readSafetensors, writeSafetensors, type TensorIn } from "./io/safetensors.ts";

export interface HostState {
  program: string;
  settings: Record<string, unknown>;
  /** Side-effecting run-block events completed (step calls, prints, checkpoints...). */
  events: number;
  data: Record<string, { epoch: number; cursor: number }>;
  /** Steps per optimizer since its start or its last `reset(opt)` (bias correction). */
  optimizerSteps: Record<string, number>;
  /** Steps each optimizer took before its last `reset(opt)` (absent when none was reset). */
  optimizerStepsBeforeReset?: Record<string, number>;
  /** Means from evaluate() calls so far (the run block may use them after a resume). */
  results?: Record<string, number>;
  /** Hash of the parameter names and shapes: refuses a checkpoint of another model. */
  modelHash: string;
  /** The program file (relative to where cldc ran), to rebuild the model for sampling. */
  entry?: string;
}

export function saveCheckpoint(
  path: string,
  tensors: Map<string, Float32Array | Int32Array>,
  shapes: Map<string, number[]>,
  state: HostState,
) {
  const out = new Map<string, TensorIn>();
  for (const [name, data] of tensors) {
    // A weight can go non-finite in an update whose logged values were still finite;
    // saving it would replace the last good checkpoint with a useless one.
    if (data instanceof Float32Array) {
      const i = data.findIndex((v) => !Number.isFinite(v));
      if (i >= 0)
        throw new Error(
          `not writing ${path}: tensor ${name} is ${data[i]} at element ${i} after event ${state.events}; the last good checkpoint is kept`,
        );
    }
    out.set(name, { data, shape: shapes.get(name)! });
  }
  writeSafetensors(path, out, { "cld.state": JSON.stringify(state), "cld.format": "1" });
}

export function loadCheckpoint(
  path: string,
): { tensors: Map<string, Float32Array | Int32Array>; state: HostState } | null {
  // Only `path` itself is ever read: a temp file of an interrupted save (`path.tmp-*`)
  // is never a candidate, so a torn write can not be resumed from.
  if (!existsSync(path)) return null;
  const { tensors, metadata } = readSafetensors(path);
  const raw = metadata["cld.state"];
  if (!raw) throw new Error(`${path} is not a cld training checkpoint (no cld.state metadata)`);
  let state: HostState;
  try {
    state = JSON.parse(raw) as HostState;
  } catch (e) {
    throw new Error(`${path}: corrupt cld.state metadata (${(e as Error).message})`);
  }
  if (typeof state !== "object" || state === null || !Number.isSafeInteger(state.events))
    throw new Error(`${path}: corrupt cld.state metadata (no event count)`);
  const out = new Map<string, Float32Array | Int32Array>();
  for (const [name, t] of tensors) out.set(name, t.data);
  return { tensors: out, state };
}

/**
 * Resuming needs every tensor of the model, with its exact size, and nothing else: a
 * missing one would silently stay at zero. The first difference in one line, or null.
 */
export function checkCheckpointTensors(
  path: string,
  tensors: Map<string, Float32Array | Int32Array>,
  shapes: Map<string, number[]>,
): string | null {
  for (const [name, shape] of [...shapes].sort(([a], [b]) => a.localeCompare(b))) {
    const t = tensors.get(name);
    const want = shape.reduce((a, b) => a * b, 1);
    if (!t) return `${path}: the model's tensor ${name} [${shape.join(", ")}] is missing`;
    if (t.length !== want)
      return `${path}: tensor ${name} has ${t.length} values, the model's [${shape.join(", ")}] has ${want}`;
  }
  for (const name of [...tensors.keys()].sort())
    if (!shapes.has(name)) return `${path}: tensor ${name} is not in the model`;
  return null;
}

export function modelHash(shapes: Map<string, number[]>): string {
  let h = 2166136261;
  const text = [...shapes]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([n, s]) => `${n}:${s.join("x")}`)
    .join(";");
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0;
  return h.toString(16).padStart(8, "0");
}
