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
  optimizerSteps: Record<string, number>;
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
  for (const [name, data] of tensors) out.set(name, { data, shape: shapes.get(name)! });
  writeSafetensors(path, out, { "cld.state": JSON.stringify(state), "cld.format": "1" });
}

export function loadCheckpoint(
  path: string,
): { tensors: Map<string, Float32Array | Int32Array>; state: HostState } | null {
  if (!existsSync(path)) return null;
  const { tensors, metadata } = readSafetensors(path);
  const raw = metadata["cld.state"];
  if (!raw) throw new Error(`${path} is not a cld training checkpoint (no cld.state metadata)`);
  const state = JSON.parse(raw) as HostState;
  const out = new Map<string, Float32Array | Int32Array>();
  for (const [name, t] of tensors) out.set(name, t.data);
  return { tensors: out, state };
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
