// Scheduling and memory planning: decides which values get their own buffer
// (materialized), emits one kernel per materialized value (fusing every other producer
// into it), and assigns physical buffers by liveness so temporaries share memory.
// The Plan is plain data: the runtime executes it, `cldc compile` writes it out.
import type { SourceRange } from "../grammar/ast.ts";
import { type Graph, type IrNode, numel, sameShape } from "./ir.ts";
import { getOp } from "./ops/index.ts";
import { dispatch1d, fusedEpilogue, fusedKernel } from "./codegen/fused.ts";
import { heavyKernel, type Target } from "./codegen/heavy.ts";
import { fusedEpilogueC, fusedFunctionC } from "./c/fused-c.ts";
import { heavyFunctionC } from "./c/heavy-c.ts";

export type BufferKind = "param" | "input" | "temp" | "output";

export interface PlanBuffer {
  index: number;
  bytes: number;
  kind: BufferKind;
  /** For params and inputs: the host name; for temps: the values stored in it over time. */
  name: string;
  dtype: "f32" | "i32";
  shape: number[];
}

export type PlanBinding = { buffer: number } | { uniform: number[] };

export interface PlanKernel {
  name: string;
  /** WGSL (entry point `main`) or, for the C target, a C++ function named `name`. */
  source: string;
  bindings: PlanBinding[];
  workgroups: [number, number, number];
  /** The IR ops computed by this kernel and where they were written. */
  ops: string[];
  locs: SourceRange[];
  flops: number;
  bytes: number;
}

export interface Plan {
  /** What the kernels are written in: WGSL for Dawn, C++ for the native CPU target. */
  language: "wgsl" | "c";
  buffers: PlanBuffer[];
  kernels: PlanKernel[];
  /** After all kernels: copy `from` into `to` (parameter and optimizer-state updates). */
  copies: { from: number; to: number; bytes: number }[];
  /** Scalars read back after the step. */
  outputs: { name: string; buffer: number; dtype: "f32" | "i32" }[];
  /** Live ranges of temporaries, [first kernel, last kernel], for `cldc explain`. */
  lifetimes: { buffer: number; first: number; last: number }[];
}

const HEAVY = new Set([
  "matmul",
  "conv2d",
  "conv2d_grad_input",
  "conv2d_grad_weight",
  "gather",
  "attention",
  "attention_stats",
  "attention_grad_q",
  "attention_grad_kv",
]);
const REDUCE = new Set(["sum", "max", "argmax"]);

function consumers(g: Graph): number[][] {
  const c: number[][] = g.nodes.map(() => []);
  for (const n of g.nodes) for (const i of n.inputs) c[i].push(n.id);
  return c;
}

/**
 * Elementwise chains that ride along a matmul/conv as its epilogue: heavy value -> the
 * last value of the chain (which gets the buffer instead of the heavy op).
 */
export function epilogueChains(g: Graph, mat: Set<number>): Map<number, number> {
  const cons = consumers(g);
  const sinks = new Set<number>([...g.outputs.values(), ...g.updates.values()]);
  const chains = new Map<number, number>();
  for (const n of g.nodes) {
    if (!EPILOGUE_HOSTS.has(n.op) || sinks.has(n.id)) continue;
    let cur = n.id;
    for (;;) {
      const c = cons[cur];
      if (c.length !== 1) break;
      const next = g.node(c[0]);
      if (
        getOp(next.op).kind !== "elementwise" ||
        next.type.dtype !== "f32" ||
        !sameShape(next.type.shape, n.type.shape)
      )
        break;
      if (next.inputs.filter((i) => i === cur).length !== 1) break;
      // Every other operand must be ready before the host kernel runs.
      if (next.inputs.some((i) => i !== cur && !readyBefore(g, mat, i, n.id))) break;
      cur = next.id;
      if (mat.has(cur)) break;
    }
    if (cur !== n.id) chains.set(n.id, cur);
  }
  return chains;
}

const EPILOGUE_HOSTS = new Set(["matmul", "conv2d", "conv2d_grad_input", "conv2d_grad_weight"]);

/** Whether value `id` can be computed from buffers that exist before node `host` runs. */
function readyBefore(g: Graph, mat: Set<number>, id: number, host: number): boolean {
  const n = g.node(id);
  if (n.op === "const" || n.op === "input" || n.op === "param") return true;
  if (mat.has(id)) return id < host;
  return n.inputs.every((i) => readyBefore(g, mat, i, host));
}

/** Which values get a buffer. Everything else is inlined into its consumers. */
export function materialize(g: Graph): Set<number> {
  const out = materializeBase(g);
  // Fold elementwise consumers into matmul/conv epilogues: the chain's end takes the buffer.
  for (const [heavy, root] of epilogueChains(g, new Set(out))) {
    out.delete(heavy);
    out.add(root);
  }
  return out;
}

/** Buffers one fused kernel may read (WebGPU guarantees 8 storage buffers per stage; we keep below). */
const MAX_READS = 7;

function materializeBase(g: Graph): Set<number> {
  const cons = consumers(g);
  const out = new Set<number>();
  const sinks = new Set<number>([...g.outputs.values(), ...g.updates.values()]);
  for (const n of g.nodes) {
    const kind = getOp(n.op).kind;
    if (n.op === "const" && !sinks.has(n.id)) continue;
    if (
      n.op === "input" ||
      n.op === "param" ||
      HEAVY.has(n.op) ||
      REDUCE.has(n.op) ||
      sinks.has(n.id)
    ) {
      out.add(n.id);
      continue;
    }
    // Shared elementwise work is computed once, unless recomputing it reads no more than
    // storing it would; views and cheap sources are re-derived.
    if (kind === "elementwise" && n.op !== "iota" && cons[n.id].length > 1) {
      if (!cheapToRecompute(g, n.id, out)) out.add(n.id);
    }
  }
  // Heavy ops read their operands as plain row-major buffers.
  for (const n of g.nodes) {
    if (!HEAVY.has(n.op)) continue;
    for (const i of n.inputs) {
      let j = i;
      while (!out.has(j) && g.node(j).op === "reshape") j = g.node(j).inputs[0];
      if (!out.has(j) || g.node(j).op === "const") out.add(i);
      else if (j !== i) out.add(i); // an alias of j (see aliasOf)
    }
  }
  // Bound the buffers a fused kernel reads: a wide sum of many tensors is split.
  const leaves = new Map<number, Set<number>>();
  for (const n of g.nodes) {
    const set = new Set<number>();
    for (const i of n.inputs) {
      if (out.has(i)) set.add(i);
      else for (const l of leaves.get(i) ?? []) set.add(l);
    }
    if (set.size > MAX_READS && !out.has(n.id)) {
      // Materialize the input contributing most leaves, until this node fits.
      for (const i of [...n.inputs].sort(
        (a, b) => (leaves.get(b)?.size ?? 0) - (leaves.get(a)?.size ?? 0),
      )) {
        if (!out.has(i) && (leaves.get(i)?.size ?? 0) > 1) out.add(i);
      }
      set.clear();
      for (const i of n.inputs) {
        if (out.has(i)) set.add(i);
        else for (const l of leaves.get(i) ?? []) set.add(l);
      }
    }
    leaves.set(n.id, out.has(n.id) ? new Set([n.id]) : set);
  }
  return out;
}

/**
 * Whether a shared elementwise value may be recomputed by each consumer instead of stored:
 * its expression reads one buffer of its own size plus at most two smaller ones (a
 * softmax's exp(x - max), a sigmoid inside SiLU). Consumers then read x where they would
 * have read the stored value (the small operands are loaded once per row by row-run
 * kernels), and the store and its kernel disappear; ALU work is cheap on lavapipe.
 */
function cheapToRecompute(g: Graph, id: number, mat: Set<number>): boolean {
  const size = numel(g.shape(id));
  const leaves = new Set<number>();
  const seen = new Set<number>();
  let ops = 0;
  const walk = (v: number): boolean => {
    if (seen.has(v)) return true;
    seen.add(v);
    const n = g.node(v);
    if (v !== id && (mat.has(v) || n.op === "input" || n.op === "param")) {
      leaves.add(v);
      return true;
    }
    if (n.op === "const" || n.op === "iota") return true;
    const kind = getOp(n.op).kind;
    if (kind !== "elementwise" && kind !== "view") return false;
    if (++ops > 16) return false;
    return n.inputs.every(walk);
  };
  if (!walk(id) || leaves.size > 3) return false;
  const big = [...leaves].filter((l) => numel(g.shape(l)) >= size).length;
  return big <= 1;
}

/** A reshape of a buffer shares that buffer. */
function aliasOf(g: Graph, mat: Set<number>, id: number): number {
  let j = id;
  while (g.node(j).op === "reshape" && mat.has(g.node(j).inputs[0])) j = g.node(j).inputs[0];
  return j;
}

export function buildPlan(g: Graph, target: Target): Plan {
  const mat = materialize(g);
  const chains = epilogueChains(g, new Set(materializeBase(g)));
  const epilogueOf = new Map<number, number>(); // chain root -> heavy value
  for (const [h, r] of chains) if (mat.has(r) && !mat.has(h)) epilogueOf.set(r, h);
  const buffers: PlanBuffer[] = [];
  const valueBuf = new Map<number, number>(); // root value id -> logical slot
  const kernels: (PlanKernel & { reads: number[]; out: number })[] = [];

  // Persistent buffers first: params, then inputs, in graph order (deterministic).
  for (const n of g.nodes) {
    if (n.op !== "param" && n.op !== "input") continue;
    valueBuf.set(n.id, newBuffer(buffers, n, n.op, n.name!));
  }

  const updateTargets = new Map<number, number>(); // new value -> param
  for (const [p, v] of g.updates) updateTargets.set(v, p);
  const outputValues = new Set(g.outputs.values());

  let counter = 0;
  for (const n of g.nodes) {
    if (!mat.has(n.id) || n.op === "param" || n.op === "input") continue;
    const root = aliasOf(g, mat, n.id);
    if (root !== n.id) continue; // an alias; resolved at binding time
    const kernelIndex = counter++;
    const hostId = HEAVY.has(n.op) ? n.id : epilogueOf.get(n.id);
    if (target.language === "c") {
      kernels.push(
        lowerC(
          g,
          n,
          hostId,
          (id) => mat.has(id),
          kernelIndex,
          (id) => aliasOf(g, mat, id),
        ),
      );
    } else if (hostId !== undefined) {
      const host = g.node(hostId);
      const ep = hostId !== n.id ? fusedEpilogue(g, hostId, n.id, (id) => mat.has(id)) : null;
      const h = heavyKernel(
        g,
        host,
        target,
        ep ? { decls: ep.decls, fn: ep.fn, bindings: ep.reads.length } : undefined,
      );
      const epReads = (ep?.reads ?? []).map((r) => aliasOf(g, mat, r));
      const reads = [
        ...h.bindings.flatMap((b) => (b.kind === "value" ? [aliasOf(g, mat, b.id)] : [])),
        ...epReads,
      ];
      const chainNodes = ep
        ? ep.inlined.map((i) => g.node(i)).filter((x) => getOp(x.op).kind !== "view")
        : [];
      kernels.push({
        name: `k${String(kernelIndex).padStart(3, "0")}_${[host.op, ...uniqueOps(chainNodes).filter((o) => o !== host.op)].slice(0, 4).join("_")}`,
        source: h.wgsl,
        bindings: [
          ...h.bindings.map((b) =>
            b.kind === "value"
              ? { buffer: aliasOf(g, mat, b.id) }
              : b.kind === "out"
                ? { buffer: n.id }
                : { uniform: [...b.data] },
          ),
          ...epReads.map((r) => ({ buffer: r })),
        ],
        workgroups: h.workgroups,
        ops: [host.op, ...uniqueOps(chainNodes).filter((o) => o !== host.op)],
        locs: uniqueLocs([host, ...chainNodes]),
        flops: h.flops,
        bytes: 0,
        reads,
        out: n.id,
      });
    } else {
      const f = fusedKernel(g, n.id, (id) => mat.has(id));
      const reads = f.reads.map((r) => aliasOf(g, mat, r));
      const opsIn = [...f.inlined.map((i) => g.node(i))].filter(
        (x) => getOp(x.op).kind !== "view" || x.id === n.id,
      );
      kernels.push({
        name: kernelName(kernelIndex, uniqueOps([...opsIn, n])),
        source: f.wgsl,
        bindings: [...reads.map((r) => ({ buffer: r })), { buffer: n.id }, { uniform: f.uniform }],
        workgroups: dispatch1d(f.threads),
        ops: uniqueOps([...opsIn, n]),
        locs: uniqueLocs([...f.inlined.map((i) => g.node(i)), n]),
        flops: f.elements * Math.max(1, opsIn.length),
        bytes: 0,
        reads,
        out: n.id,
      });
    }
  }

  // Liveness: last kernel reading each value.
  const lastUse = new Map<number, number>();
  kernels.forEach((k, i) => k.reads.forEach((r) => lastUse.set(r, i)));
  const pinned = new Set<number>(
    [...updateTargets.keys(), ...outputValues].map((v) => aliasOf(g, mat, v)),
  );

  // Assign physical buffers: a temporary takes the smallest free buffer that fits, else
  // grows the largest free one, else a new one (buffers are created after planning).
  const free: number[] = []; // physical buffer indices
  const take = (bytes: number): number | undefined => {
    if (free.length === 0) return undefined;
    let best = -1;
    for (let k = 0; k < free.length; k++) {
      const b = buffers[free[k]].bytes;
      if (b >= bytes && (best < 0 || b < buffers[free[best]].bytes)) best = k;
    }
    if (best < 0) {
      best = 0;
      for (let k = 1; k < free.length; k++)
        if (buffers[free[k]].bytes > buffers[free[best]].bytes) best = k;
      buffers[free[best]].bytes = bytes;
    }
    return free.splice(best, 1)[0];
  };
  const lifetimes: Plan["lifetimes"] = [];
  const physical = new Map<number, number>(valueBuf); // value id -> buffer index
  kernels.forEach((k, i) => {
    const n = g.node(k.out);
    const bytes = bufferBytes(n);
    const kind: BufferKind = pinned.has(k.out) ? "output" : "temp";
    let idx: number | undefined;
    if (kind === "temp") idx = take(bytes);
    if (idx === undefined) idx = newBuffer(buffers, n, kind, "");
    const b = buffers[idx];
    b.name = b.name ? `${b.name}, %${k.out}` : `%${k.out}`;
    physical.set(k.out, idx);
    lifetimes.push({ buffer: idx, first: i, last: Math.max(i, lastUse.get(k.out) ?? i) });
    // Free inputs whose last use is this kernel (after the output was allocated, so a
    // kernel never writes a buffer it reads).
    for (const r of new Set(k.reads)) {
      if (lastUse.get(r) !== i || pinned.has(r)) continue;
      const pb = physical.get(r)!;
      if (buffers[pb].kind !== "temp") continue;
      free.push(pb);
    }
    if (kind === "temp" && !lastUse.has(k.out)) free.push(idx);
  });

  const resolve = (id: number) => {
    const p = physical.get(aliasOf(g, mat, id));
    if (p === undefined) throw new Error(`internal: value %${id} has no buffer`);
    return p;
  };
  const planKernels: PlanKernel[] = kernels.map(({ reads, out, ...k }) => ({
    ...k,
    bindings: k.bindings.map((b) => ("buffer" in b ? { buffer: resolve(b.buffer) } : b)),
    bytes: [...reads, out].reduce((s, r) => s + bufferBytes(g.node(r)), 0),
  }));
  const copies = [...g.updates].map(([p, v]) => ({
    from: resolve(v),
    to: resolve(p),
    bytes: bufferBytes(g.node(p)),
  }));
  const outputs = [...g.outputs].map(([name, v]) => ({
    name,
    buffer: resolve(v),
    dtype: g.type(v).dtype,
  }));
  return {
    language: target.language ?? "wgsl",
    buffers,
    kernels: planKernels,
    copies,
    outputs,
    lifetimes,
  };
}

/** The C target's kernel for materialized value `n`: parameters are its buffers, in order. */
function lowerC(
  g: Graph,
  n: IrNode,
  hostId: number | undefined,
  materialized: (id: number) => boolean,
  index: number,
  alias: (id: number) => number,
): PlanKernel & { reads: number[]; out: number } {
  const pad = String(index).padStart(3, "0");
  if (hostId !== undefined) {
    const host = g.node(hostId);
    const ep = hostId !== n.id ? fusedEpilogueC(g, hostId, n.id, materialized) : null;
    const chainNodes = ep
      ? ep.inlined.map((i) => g.node(i)).filter((x) => getOp(x.op).kind !== "view")
      : [];
    const ops = [host.op, ...uniqueOps(chainNodes).filter((o) => o !== host.op)];
    const name = `k${pad}_${ops.slice(0, 4).join("_")}`;
    const h = heavyFunctionC(g, host, n.type.dtype, ep, name);
    const reads = [...h.reads, ...(ep?.reads ?? [])].map(alias);
    const operands = h.reads.map(alias);
    const epReads = (ep?.reads ?? []).map(alias);
    return {
      name,
      source: h.code,
      bindings: [...operands, n.id, ...epReads].map((buffer) => ({ buffer })),
      workgroups: [1, 1, 1],
      ops,
      locs: uniqueLocs([host, ...chainNodes]),
      flops: h.flops,
      bytes: 0,
      reads,
      out: n.id,
    };
  }
  // The name needs the inlined ops, which only the emitter knows: render, then rename.
  const f = fusedFunctionC(g, n.id, materialized, "KERNEL");
  const opsIn = f.inlined
    .map((i) => g.node(i))
    .filter((x) => getOp(x.op).kind !== "view" || x.id === n.id);
  const ops = uniqueOps([...opsIn, n]);
  const name = kernelName(index, ops);
  const reads = f.reads.map(alias);
  return {
    name,
    source: f.code.replace("static void KERNEL(", `static void ${name}(`),
    bindings: [...reads, n.id].map((buffer) => ({ buffer })),
    workgroups: [1, 1, 1],
    ops,
    locs: uniqueLocs([...f.inlined.map((i) => g.node(i)), n]),
    flops: f.elements * Math.max(1, opsIn.length),
    bytes: 0,
    reads,
    out: n.id,
  };
}

function bufferBytes(n: IrNode): number {
  return Math.max(4, numel(n.type.shape) * 4);
}

function newBuffer(buffers: PlanBuffer[], n: IrNode, kind: BufferKind, name: string): number {
  buffers.push({
    index: buffers.length,
    bytes: bufferBytes(n),
    kind,
    name,
    dtype: n.type.dtype,
    shape: n.type.shape,
  });
  return buffers.length - 1;
}

function uniqueOps(nodes: IrNode[]): string[] {
  const seen: string[] = [];
  for (const n of nodes) if (!seen.includes(n.op) && n.op !== "const") seen.push(n.op);
  return seen;
}

function uniqueLocs(nodes: IrNode[]): SourceRange[] {
  const out: SourceRange[] = [];
  const keys = new Set<string>();
  for (const n of nodes) {
    if (!n.loc) continue;
    const k = `${n.loc.file}:${n.loc.start.line}`;
    if (!keys.has(k)) {
      keys.add(k);
      out.push(n.loc);
    }
  }
  return out.sort((a, b) => a.file.localeCompare(b.file) || a.start.line - b.start.line);
}

function kernelName(i: number, ops: string[]): string {
  const main = ops.slice(-1)[0];
  const rest = ops.slice(0, -1).slice(0, 3);
  return `k${String(i).padStart(3, "0")}_${[...rest, main].join("_")}`;
}
