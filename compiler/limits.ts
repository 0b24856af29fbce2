// Device buffer limits, checked at compile time: every tensor of a step lives in one
// storage buffer bound whole, so a tensor larger than the adapter's
// maxStorageBufferBindingSize (or maxBufferSize) can never run. Saying so here, with the
// tensor's name and source line, beats a Dawn validation error at the first step.
import { error, type Diagnostic } from "./diagnostics.ts";
import type { ParamInfo } from "./elab/params.ts";
import type { Graph } from "./ir.ts";
import type { Plan } from "./plan.ts";

export interface BufferLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

/** The WebGPU spec's default limits: what every adapter supports (used without a device). */
export const WEBGPU_DEFAULT_LIMITS: BufferLimits = {
  maxStorageBufferBindingSize: 134_217_728, // 128 MiB
  maxBufferSize: 268_435_456, // 256 MiB
};

/** The runtime rounds every storage buffer up to a multiple of 16 bytes. */
const allocated = (bytes: number) => Math.max(16, Math.ceil(bytes / 16) * 16);

export function formatBytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} bytes`;
}

/** One error per buffer of `plan` that exceeds a limit, naming the tensor it holds. */
export function checkBufferLimits(
  step: string,
  graph: Graph,
  plan: Plan,
  params: Map<string, ParamInfo>,
  limits: BufferLimits,
): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const b of plan.buffers) {
    const size = allocated(b.bytes);
    const [limitName, limit] =
      size > limits.maxStorageBufferBindingSize
        ? ["maxStorageBufferBindingSize", limits.maxStorageBufferBindingSize]
        : size > limits.maxBufferSize
          ? ["maxBufferSize", limits.maxBufferSize]
          : ["", 0];
    if (!limitName) continue;
    let what: string;
    let range = null;
    if (b.kind === "param" || b.kind === "input") {
      what = `${b.kind === "param" ? "parameter" : "input"} '${b.name}' [${b.shape.join(", ")}]`;
      range = params.get(b.name)?.loc ?? null;
    } else {
      // A temporary holds several values over time; name the largest one.
      const nodes = [...b.name.matchAll(/%(\d+)/g)]
        .map((m) => graph.nodes[Number(m[1])])
        .filter((n) => n);
      const big = nodes.sort(
        (x, y) => y.type.shape.reduce((a, c) => a * c, 1) - x.type.shape.reduce((a, c) => a * c, 1),
      )[0];
      what = big
        ? `the intermediate tensor %${big.id} (${big.op}) [${big.type.shape.join(", ")}]`
        : `temporary buffer ${b.index}`;
      range = big?.loc ?? null;
    }
    out.push(
      error(
        `step ${step}: ${what} needs ${size.toLocaleString("en-US")} bytes (${formatBytes(size)}), more than the device's ${limitName} of ${limit.toLocaleString("en-US")} bytes (${formatBytes(limit)}); make it smaller (batch, width, resolution) or split it`,
        range,
      ),
    );
  }
  return out;
}
