// --debug-nans: after a step logged a non-finite value, say where it came from. The step
// is re-run on the device kernel by kernel (StepExecutor.findNonFinite) to find the first
// kernel whose output is non-finite; then, when the step is small enough, the float64
// reference interpreter evaluates the step's IR op by op from the same inputs to name the
// first op inside that fused kernel (a value beyond float32's range counts as infinite).
import type { SourceRange } from "../grammar/ast.ts";
import { interpret, type Feeds } from "../compiler/interpret.ts";
import type { Graph } from "../compiler/ir.ts";
import type { Plan } from "../compiler/plan.ts";
import type { HostTensor, NonFiniteSite } from "./executor.ts";
import type { Executor } from "./device.ts";
import type { ParamStore } from "./params.ts";

/** Above this many FLOPs per step the CPU interpreter would take too long to wait for. */
const MAX_INTERPRETED_FLOPS = 2e9;
const F32_MAX = 3.4028234663852886e38;

export interface NonFiniteOp {
  op: string;
  id: number;
  shape: number[];
  loc: SourceRange | null;
}

function where(l: SourceRange, sources: Map<string, string>): string {
  const text = sources.get(l.file)?.split("\n")[l.start.line - 1]?.trim();
  return `${l.file}:${l.start.line}:${l.start.column}${text ? ` (${text})` : ""}`;
}

/**
 * The first IR node (in evaluation order) whose float64 value is NaN or beyond float32's
 * range, evaluated from `inputs` (host feeds and parameter values by name); null when
 * none is, or the step is too large to interpret.
 */
export function firstNonFiniteOp(
  graph: Graph,
  plan: Plan,
  inputs: Map<string, HostTensor>,
): NonFiniteOp | null {
  if (plan.kernels.reduce((s, k) => s + k.flops, 0) > MAX_INTERPRETED_FLOPS) return null;
  const feeds: Feeds = new Map();
  for (const n of graph.nodes) {
    if ((n.op !== "input" && n.op !== "param") || !n.name) continue;
    const v = inputs.get(n.name);
    if (!v) return null;
    feeds.set(n.name, { dtype: n.type.dtype, shape: n.type.shape, data: Float64Array.from(v) });
  }
  let vals;
  try {
    vals = interpret(graph, feeds);
  } catch {
    return null; // an op without a reference implementation: stay with the kernel
  }
  for (const n of graph.nodes) {
    const d = vals[n.id].data;
    for (let i = 0; i < d.length; i++) {
      if (!(Math.abs(d[i]) <= F32_MAX)) {
        return { op: n.op, id: n.id, shape: n.type.shape, loc: n.loc };
      }
    }
  }
  return null;
}

/** One line: which kernel (its ops, its .cld source lines) or input went non-finite first. */
export function describeNonFinite(
  site: NonFiniteSite | null,
  op: NonFiniteOp | null,
  sources: Map<string, string>,
): string {
  if (!site) return "re-running the step kernel by kernel found no non-finite value";
  if (site.kind === "input")
    return `'${site.name}' was already ${site.value} (element ${site.index}) before the step`;
  const k = site.kernel;
  const from = k.locs.map((l) => where(l, sources)).join(" and ") || "an unknown source line";
  const n = site.count;
  const kernel = `first non-finite output: kernel ${k.name} (ops ${k.ops.join(", ")}; ${n} value${n === 1 ? "" : "s"}, e.g. ${site.value}) from ${from}`;
  if (!op) return kernel;
  const at = op.loc ? ` at ${where(op.loc, sources)}` : "";
  return `${kernel}; first non-finite op: ${op.op} [${op.shape.join(", ")}]${at}`;
}

/**
 * Everything --debug-nans says about a step that just went non-finite: puts back the
 * parameters the step started from, re-runs it kernel by kernel, then op by op.
 */
export async function explainNonFinite(
  ex: Executor,
  graph: Graph,
  feeds: Map<string, HostTensor>,
  store: ParamStore,
  sources: Map<string, string>,
): Promise<string> {
  await ex.restoreSnapshots();
  const site = await ex.findNonFinite(feeds);
  let op: NonFiniteOp | null = null;
  if (site?.kind === "kernel") {
    const inputs = new Map<string, HostTensor>([...feeds, ...(await store.readAll())]);
    op = firstNonFiniteOp(graph, ex.plan, inputs);
  }
  return describeNonFinite(site, op, sources);
}
