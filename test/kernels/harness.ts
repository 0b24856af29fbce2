// Shared helpers for kernel tests: run one generated kernel on small inputs, compare with
// a float64 reference.
import { expect } from "vitest";
import type { Gpu } from "../../runtime/gpu.ts";

/** Deterministic uniform(-1, 1) values (mulberry32), so failures reproduce. */
export function randomArray(n: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  }
  return out.map((v) => v * 2);
}

/**
 * Bind storage inputs in order, then the output (zero-filled, `outLen` floats), the params
 * uniform, then `extra` (epilogue storage / uniform buffers); dispatch once; read back.
 * `outIndex` is where the output sits among the storage bindings.
 */
export async function runKernel(
  gpu: Gpu,
  k: { wgsl: string },
  label: string,
  inputs: Float32Array[],
  outLen: number,
  params: Uint32Array,
  workgroups: [number, number, number],
  extra: (Float32Array | Uint32Array | { uniform: Uint32Array })[] = [],
): Promise<Float32Array> {
  const pipeline = await gpu.pipelineChecked(k.wgsl, label);
  const bufs = inputs.map((x) => {
    const b = gpu.createBuffer(x.byteLength);
    gpu.write(b, x);
    return b;
  });
  const out = gpu.createBuffer(outLen * 4);
  gpu.write(out, new Float32Array(Math.max(4, Math.ceil(outLen / 4) * 4)).fill(NaN));
  const u = gpu.uniformBuffer(params);
  const ex = extra.map((e) => {
    if ("uniform" in e) return gpu.uniformBuffer(e.uniform);
    const b = gpu.createBuffer(e.byteLength);
    gpu.write(b, e);
    return b;
  });
  const bindGroup = gpu.makeBindGroup(pipeline, [...bufs, out, u, ...ex]);
  await gpu.submit([{ pipeline, bindGroup, workgroups, label }]);
  const res = new Float32Array(await gpu.read(out, outLen * 4));
  for (const b of [...bufs, out, u, ...ex]) b.destroy();
  return res;
}

/** |got - want| <= tol * max(1, max|want|) everywhere. */
export function expectClose(got: Float32Array, want: Float64Array, tol = 1e-4, what = ""): void {
  expect(got.length).toBe(want.length);
  let scale = 1;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i] - want[i]);
    if (Number.isNaN(e)) {
      worst = Infinity;
      at = i;
      break;
    }
    if (e > worst) {
      worst = e;
      at = i;
    }
  }
  if (!(worst <= tol * scale)) {
    expect.fail(
      `${what}: max error ${worst} at ${at} (got ${got[at]}, want ${want[at]}, scale ${scale})`,
    );
  }
}
