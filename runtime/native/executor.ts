// Executes a compiled step Plan on the native CPU target: the step's shared library is
// built (or found in the cache) once, its buffers are host allocations, and a step is one
// FFI call that runs every kernel and the parameter-update copies. The call runs on a
// worker thread (koffi's async calls), so the event loop stays free during a step.
import koffi from "koffi";
import type { Plan } from "../../compiler/plan.ts";
import { outputSlot } from "../../compiler/c/render-step.ts";
import type { HostTensor, NonFiniteSite } from "../executor.ts";
import type { ParamStore } from "../params.ts";
import { buildStep } from "./build.ts";
import type { NativeBuffer, NativeDevice } from "./device.ts";

type NativeFunction = ReturnType<ReturnType<typeof koffi.load>["func"]>;
interface StepLibrary {
  step: NativeFunction;
  kernel: NativeFunction;
}

function nonFinite(buf: ArrayBuffer): { index: number; value: number; count: number } | null {
  const v = new Float32Array(buf);
  let first = -1;
  let count = 0;
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i])) {
      if (first < 0) first = i;
      count++;
    }
  }
  return first < 0 ? null : { index: first, value: v[first], count };
}

export class NativeStepExecutor {
  private buffers: NativeBuffer[];
  private table: NativeBuffer;
  private lib: Promise<StepLibrary>;
  private snapshots: { live: NativeBuffer; saved: NativeBuffer }[] | null = null;
  /** Whether the last build compiled (false: it came from the cache), and how long it took. */
  build: { compiled: boolean; ms: number } | null = null;
  readonly inputs = new Map<
    string,
    { buffer: NativeBuffer; bytes: number; dtype: "f32" | "i32"; shape: number[] }
  >();

  constructor(
    private device: NativeDevice,
    readonly plan: Plan,
    store: ParamStore,
    readonly label: string,
  ) {
    this.buffers = plan.buffers.map((b) => {
      if (b.kind === "param") return store.buffer(b.name) as unknown as NativeBuffer;
      const buf = device.createBuffer(b.bytes, b.kind === "input" ? b.name : `${label}:${b.index}`);
      if (b.kind === "input")
        this.inputs.set(b.name, { buffer: buf, bytes: b.bytes, dtype: b.dtype, shape: b.shape });
      return buf;
    });
    this.table = device.pointerTable(this.buffers);
    this.lib = buildStep(plan, label).then((built) => {
      this.build = { compiled: built.compiled, ms: built.ms };
      const lib = koffi.load(built.library);
      return {
        step: lib.func("void cld_step(void *)"),
        kernel: lib.func("void cld_kernel(int32_t, void *)"),
      };
    });
    // A failed build is reported by check()/run(); don't let it go unhandled meanwhile.
    this.lib.catch(() => {});
  }

  /** Builds the step's library (the C target's equivalent of WGSL pipeline creation). */
  async check(): Promise<void> {
    await this.lib;
  }

  async run(feeds: Map<string, HostTensor>): Promise<Map<string, HostTensor>> {
    const lib = await this.lib;
    this.writeInputs(feeds);
    for (const s of this.snapshots ?? []) this.device.write(s.saved, new Uint8Array(s.live.view));
    await new Promise<void>((resolve, reject) =>
      lib.step.async(this.table.pointer, (err: unknown) => (err ? reject(err) : resolve())),
    );
    const out = new Map<string, HostTensor>();
    for (const o of this.plan.outputs) {
      const b = this.buffers[o.buffer];
      const raw = b.view.slice(0, this.plan.buffers[o.buffer].bytes);
      out.set(o.name, o.dtype === "i32" ? new Int32Array(raw) : new Float32Array(raw));
    }
    return out;
  }

  private writeInputs(feeds: Map<string, HostTensor>): void {
    for (const [name, inp] of this.inputs) {
      const v = feeds.get(name);
      if (!v) throw new Error(`step ${this.label}: no value for input '${name}'`);
      if (v.byteLength !== inp.bytes)
        throw new Error(
          `step ${this.label}: input '${name}' has ${v.byteLength} bytes, expected ${inp.bytes}`,
        );
      this.device.write(inp.buffer, v);
    }
  }

  enableSnapshots(): void {
    if (this.snapshots) return;
    this.snapshots = this.plan.buffers
      .filter((b) => b.kind === "param")
      .map((b) => ({
        live: this.buffers[b.index],
        saved: this.device.createBuffer(b.bytes, `${b.name}:snapshot`),
      }));
  }

  async restoreSnapshots(): Promise<void> {
    if (!this.snapshots) throw new Error(`step ${this.label}: no snapshots to restore`);
    for (const s of this.snapshots) this.device.write(s.live, new Uint8Array(s.saved.view));
  }

  /** Re-runs the step kernel by kernel (no updates): where a non-finite value first appears. */
  async findNonFinite(feeds: Map<string, HostTensor>): Promise<NonFiniteSite | null> {
    const lib = await this.lib;
    this.writeInputs(feeds);
    for (const b of this.plan.buffers) {
      if ((b.kind === "param" || b.kind === "input") && b.dtype === "f32") {
        const bad = nonFinite(await this.readBuffer(b.index));
        if (bad) return { kind: "input", name: b.name, index: bad.index, value: bad.value };
      }
    }
    for (const b of this.plan.buffers)
      if (b.kind === "temp" || b.kind === "output")
        new Uint8Array(this.buffers[b.index].view).fill(0);
    for (let i = 0; i < this.plan.kernels.length; i++) {
      const k = this.plan.kernels[i];
      lib.kernel(i, this.table.pointer);
      const binding = k.bindings[outputSlot(k)];
      if (!binding || !("buffer" in binding)) continue;
      if (this.plan.buffers[binding.buffer].dtype !== "f32") continue;
      const bad = nonFinite(await this.readBuffer(binding.buffer));
      if (bad) return { kind: "kernel", kernel: k, index: i, value: bad.value, count: bad.count };
    }
    return null;
  }

  /** Runs kernel `k` alone `times` times; milliseconds per run (explain --profile). */
  async timeKernel(k: number, times: number): Promise<number> {
    const lib = await this.lib;
    const t0 = performance.now();
    for (let r = 0; r < times; r++) lib.kernel(k, this.table.pointer);
    return (performance.now() - t0) / times;
  }

  async readBuffer(index: number): Promise<ArrayBuffer> {
    return this.buffers[index].view.slice(0, this.plan.buffers[index].bytes);
  }
}
