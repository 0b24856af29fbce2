// Per-task snapshots: what a continual run has learned after task t, written by the run
// command `checkpoint("after_task", t)` as RUN_DIR/after_task_<t>.safetensors, read back
// by `cldc eval`. A snapshot holds only what differs from the base model — the tensors a
// step trains (adapter factors, the token table) and adapter state (the past sums, and each
// task's own factors when the adapter keeps them) — plus,
// in its metadata, the base checkpoint (path and SHA-256), the program and settings that
// rebuild the model, and the vocabulary. Frozen base weights are not stored again, so the
// file's size is the real storage cost of the customizations.
import { createHash } from "node:crypto";
import { closeSync, openSync, readdirSync, readSync } from "node:fs";
import { join, resolve } from "node:path";
import { mergedName } from "../../compiler/elab/adapters.ts";
import type { CompiledProgram } from "../../compiler/elab/program.ts";
import { emojiTokenizer } from "../../data/emoji-text.ts";
import type { TokenizerJSON } from "../../data/tokenizer.ts";
import { readSafetensors, writeSafetensors, type TensorIn } from "../io/safetensors.ts";

export const SNAPSHOT_FORMAT = "cld.snapshot";

export interface SnapshotMeta {
  program: string;
  /** The program file, relative to where training ran (as in HostState.entry). */
  entry: string;
  settings: Record<string, unknown>;
  /** Hash of the whole model's parameter names and shapes (checkpoint.ts modelHash). */
  modelHash: string;
  /** The snapshot's name and index: `checkpoint("after_task", 3)` → after_task, 3. */
  label: string;
  index: number;
  /** The checkpoint `load(...)` read the frozen weights from, or null if nothing was loaded. */
  base: { path: string; absolute: string; sha256: string } | null;
  /** Wall-clock seconds of training since the previous snapshot (or the session's start). */
  seconds: number;
  /** True when this session resumed from a checkpoint after the previous snapshot. */
  resumed: boolean;
  /** Values trained by the steps (non-state tensors stored here). */
  trainedValues: number;
  vocab: TokenizerJSON;
}

/** The file of snapshot `label` number `index` in a run directory. */
export function snapshotPath(runDir: string, label: string, index: number): string {
  return join(runDir, `${label}_${index}.safetensors`);
}

/** Snapshot labels are file-name safe identifiers. */
export function validLabel(label: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_-]*$/.test(label);
}

/**
 * The tensors a snapshot keeps: every non-state parameter some step updates (what training
 * changes), and every adapter's state (`<adapter>.past.*`, changed by merge). Optimizer
 * state and the untouched base weights are left out.
 */
export function snapshotTensorNames(program: CompiledProgram): string[] {
  const infos = program.registry.params;
  const out = new Set<string>();
  for (const step of program.steps.values()) {
    for (const id of step.graph.updates.keys()) {
      const name = step.graph.node(id).name;
      if (name && infos.has(name) && !infos.get(name)!.state) out.add(name);
    }
  }
  // Adapter state: the past sum, and with keep: N every task's own factors and their count.
  for (const ad of program.adapters)
    for (const name of infos.keys())
      if (
        [".past.", ".kept_a.", ".kept_b."].some((k) => name.startsWith(ad.name + k)) ||
        name === mergedName(ad.name)
      )
        out.add(name);
  return [...out].sort();
}

/** SHA-256 of a file, read in chunks. */
export function fileSha256(path: string): string {
  const h = createHash("sha256");
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(1 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest("hex");
}

export function baseRecord(path: string): SnapshotMeta["base"] {
  return { path, absolute: resolve(path), sha256: fileSha256(path) };
}

export function writeSnapshot(
  path: string,
  tensors: Map<string, Float32Array | Int32Array>,
  shapes: Map<string, number[]>,
  meta: Omit<SnapshotMeta, "vocab">,
): void {
  const out = new Map<string, TensorIn>();
  for (const [name, data] of tensors) out.set(name, { data, shape: shapes.get(name)! });
  const full: SnapshotMeta = { ...meta, vocab: emojiTokenizer().toJSON() };
  writeSafetensors(path, out, { [SNAPSHOT_FORMAT]: JSON.stringify(full), "cld.format": "1" });
}

export interface Snapshot {
  path: string;
  meta: SnapshotMeta;
  tensors: Map<string, Float32Array | Int32Array>;
  /** Values stored (all tensors of the file). */
  storedValues: number;
}

export function readSnapshot(path: string): Snapshot {
  const { tensors, metadata } = readSafetensors(path);
  const raw = metadata[SNAPSHOT_FORMAT];
  if (!raw) throw new Error(`${path} is not a cld snapshot (no ${SNAPSHOT_FORMAT} metadata)`);
  const meta = JSON.parse(raw) as SnapshotMeta;
  const out = new Map<string, Float32Array | Int32Array>();
  let storedValues = 0;
  for (const [name, t] of tensors) {
    out.set(name, t.data);
    storedValues += t.data.length;
  }
  return { path, meta, tensors: out, storedValues };
}

/** The snapshots `<label>_<n>.safetensors` of a run directory, by index. */
export function listSnapshots(
  runDir: string,
  label = "after_task",
): { index: number; path: string }[] {
  const re = new RegExp(`^${label}_(\\d+)\\.safetensors$`);
  return readdirSync(runDir)
    .flatMap((f) => {
      const m = re.exec(f);
      return m ? [{ index: Number(m[1]), path: join(runDir, f) }] : [];
    })
    .sort((a, b) => a.index - b.index);
}
