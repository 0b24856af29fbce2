// Executes a compiled step Plan: buffers, pipelines and bind groups are created once;
// each step is one upload per input, one command encoder with one compute pass, the
// update copies, and a single readback of the logged scalars.
import type { Plan, PlanKernel } from "../compiler/plan.ts";
import type { Gpu } from "./gpu.ts";
import { GpuError } from "./gpu.ts";
import type { ParamStore } from "./params.ts";

export type HostTensor = Float32Array | Int32Array;

/** Where a non-finite value first appeared when a step was re-run kernel by kernel. */
export type NonFiniteSite =
  | { kind: "input"; name: string; index: number; value: number }
  | { kind: "kernel"; kernel: PlanKernel; index: number; value: number; count: number };

/** Binding slots a kernel writes (`var<storage, read_write>` in its WGSL). */
function writtenBindings(wgsl: string): number[] {
  const out: number[] = [];
  for (const m of wgsl.matchAll(/@binding\((\d+)\)\s*var<storage,\s*read_write>/g))
    out.push(Number(m[1]));
  return out;
}

/** "k003_log_sum (model.cld:7)": a kernel and the .cld line it was compiled from. */
export function kernelWhere(k: PlanKernel): string {
  const l = k.locs[0];
  return l ? `${k.name} (${l.file}:${l.start.line})` : k.name;
}

function firstNonFinite(raw: ArrayBuffer): { index: number; value: number; count: number } | null {
  const v = new Float32Array(raw);
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

export class StepExecutor {
  private buffers: GPUBuffer[];
  private dispatches: {
    pipeline: GPUComputePipeline;
    bindGroup: GPUBindGroup;
    workgroups: [number, number, number];
    label: string;
  }[] = [];
  private readback: GPUBuffer | null = null;
  private outputsBuffer: GPUBuffer | null = null;
  private outputOffsets: number[] = [];
  /** --debug-nans: each parameter buffer's copy from before the last step. */
  private snapshots: { live: GPUBuffer; saved: GPUBuffer; bytes: number }[] | null = null;
  readonly inputs = new Map<
    string,
    { buffer: GPUBuffer; bytes: number; dtype: "f32" | "i32"; shape: number[] }
  >();

  constructor(
    private gpu: Gpu,
    readonly plan: Plan,
    store: ParamStore,
    readonly label: string,
  ) {
    this.buffers = plan.buffers.map((b) => {
      if (b.kind === "param") return store.buffer(b.name) as GPUBuffer;
      const buf = gpu.createBuffer(
        b.bytes,
        b.kind === "input" ? b.name : `${label}:${b.kind}${b.index}`,
      );
      if (b.kind === "input")
        this.inputs.set(b.name, { buffer: buf, bytes: b.bytes, dtype: b.dtype, shape: b.shape });
      return buf;
    });
    for (const k of plan.kernels) {
      const pipeline = gpu.pipeline(k.source, `${label}/${kernelWhere(k)}`);
      const bindings = k.bindings.map((b) =>
        "buffer" in b
          ? this.buffers[b.buffer]
          : gpu.uniformBuffer(new Uint32Array(b.uniform), k.name),
      );
      this.dispatches.push({
        pipeline,
        bindGroup: gpu.makeBindGroup(pipeline, bindings, k.name),
        workgroups: k.workgroups,
        label: k.name,
      });
    }
    let offset = 0;
    for (const o of plan.outputs) {
      this.outputOffsets.push(offset);
      offset += Math.ceil(plan.buffers[o.buffer].bytes / 4) * 4;
    }
    if (plan.outputs.length) {
      const bytes = offset;
      this.outputsBuffer = gpu.createBuffer(bytes, `${label}:outputs`);
      this.readback = gpu.device.createBuffer({
        size: Math.max(16, Math.ceil(bytes / 16) * 16),
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
    }
  }

  /** Surfaces WGSL compile errors of this step's kernels with their names. */
  async check(): Promise<void> {
    await this.gpu.checkErrors();
  }

  /** Runs one step. Inputs are named like the plan's input buffers. */
  async run(feeds: Map<string, HostTensor>): Promise<Map<string, HostTensor>> {
    this.gpu.checkLost(`step ${this.label}`);
    try {
      return await this.submitStep(feeds);
    } catch (e) {
      // A lost device rejects the readback; say so, rather than "mapAsync failed".
      if (this.gpu.lost && !(e instanceof GpuError))
        throw new GpuError(
          `step ${this.label}`,
          `device lost (${this.gpu.lost}) while running its ${this.dispatches.length} kernels`,
        );
      throw e;
    }
  }

  private async submitStep(feeds: Map<string, HostTensor>): Promise<Map<string, HostTensor>> {
    for (const [name, inp] of this.inputs) {
      const v = feeds.get(name);
      if (!v) throw new Error(`step ${this.label}: no value for input '${name}'`);
      if (v.byteLength !== inp.bytes)
        throw new Error(
          `step ${this.label}: input '${name}' has ${v.byteLength} bytes, expected ${inp.bytes}`,
        );
      this.gpu.write(inp.buffer, v);
    }
    const d = this.gpu.device;
    d.pushErrorScope("out-of-memory");
    d.pushErrorScope("validation");
    const enc = d.createCommandEncoder();
    for (const s of this.snapshots ?? []) enc.copyBufferToBuffer(s.live, 0, s.saved, 0, s.bytes);
    if (this.dispatches.length) {
      const pass = enc.beginComputePass();
      for (const x of this.dispatches) {
        pass.setPipeline(x.pipeline);
        pass.setBindGroup(0, x.bindGroup);
        pass.dispatchWorkgroups(...x.workgroups);
      }
      pass.end();
    }
    for (const c of this.plan.copies)
      enc.copyBufferToBuffer(
        this.buffers[c.from],
        0,
        this.buffers[c.to],
        0,
        Math.ceil(c.bytes / 4) * 4,
      );
    this.plan.outputs.forEach((o, i) => {
      const bytes = Math.ceil(this.plan.buffers[o.buffer].bytes / 4) * 4;
      enc.copyBufferToBuffer(
        this.buffers[o.buffer],
        0,
        this.outputsBuffer!,
        this.outputOffsets[i],
        bytes,
      );
    });
    if (this.readback)
      enc.copyBufferToBuffer(this.outputsBuffer!, 0, this.readback, 0, this.readback.size);
    d.queue.submit([enc.finish()]);
    const out = new Map<string, HostTensor>();
    if (this.readback) {
      await this.readback.mapAsync(GPUMapMode.READ);
      const raw = this.readback.getMappedRange().slice(0);
      this.readback.unmap();
      this.plan.outputs.forEach((o, i) => {
        const n = this.plan.buffers[o.buffer].bytes / 4;
        const off = this.outputOffsets[i];
        out.set(
          o.name,
          o.dtype === "i32" ? new Int32Array(raw, off, n) : new Float32Array(raw, off, n),
        );
      });
    } else {
      await d.queue.onSubmittedWorkDone();
    }
    const ev = await d.popErrorScope();
    const eo = await d.popErrorScope();
    const e = ev ?? eo;
    if (e) throw new GpuError(`step ${this.label}${await this.locateError()}`, e.message);
    this.gpu.checkLost(`step ${this.label}`);
    return out;
  }

  /**
   * After a failed submit (which WebGPU does not execute): replays the kernels one per
   * error scope to find the first that fails, as ", kernel NAME (file:line)".
   */
  private async locateError(): Promise<string> {
    const d = this.gpu.device;
    for (let i = 0; i < this.dispatches.length; i++) {
      const x = this.dispatches[i];
      d.pushErrorScope("out-of-memory");
      d.pushErrorScope("validation");
      const enc = d.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(x.pipeline);
      pass.setBindGroup(0, x.bindGroup);
      pass.dispatchWorkgroups(...x.workgroups);
      pass.end();
      d.queue.submit([enc.finish()]);
      const [ev, eo] = [await d.popErrorScope(), await d.popErrorScope()];
      if (ev ?? eo) return `, kernel ${kernelWhere(this.plan.kernels[i])}`;
    }
    return "";
  }

  /**
   * Keep a copy of every parameter and optimizer-state buffer from before each step (one
   * GPU copy per buffer per step), so a step that produced a non-finite value can be
   * re-run from the state it started with.
   */
  enableSnapshots(): void {
    if (this.snapshots) return;
    this.snapshots = this.plan.buffers
      .filter((b) => b.kind === "param")
      .map((b) => {
        const bytes = Math.ceil(b.bytes / 16) * 16;
        return {
          live: this.buffers[b.index],
          saved: this.gpu.createBuffer(bytes, `${b.name}:snapshot`),
          bytes,
        };
      });
  }

  /** Puts back the parameters saved before the last step (needs enableSnapshots). */
  async restoreSnapshots(): Promise<void> {
    if (!this.snapshots) throw new Error(`step ${this.label}: no snapshots to restore`);
    const enc = this.gpu.device.createCommandEncoder();
    for (const s of this.snapshots) enc.copyBufferToBuffer(s.saved, 0, s.live, 0, s.bytes);
    this.gpu.device.queue.submit([enc.finish()]);
    await this.gpu.device.queue.onSubmittedWorkDone();
  }

  /**
   * Re-runs the step one kernel at a time (no parameter updates) and returns where the
   * first non-finite value appears: in an input or parameter it started with, or in the
   * output of a kernel whose own inputs were all finite.
   */
  async findNonFinite(feeds: Map<string, HostTensor>): Promise<NonFiniteSite | null> {
    const d = this.gpu.device;
    for (const [name, inp] of this.inputs) this.gpu.write(inp.buffer, feeds.get(name)!);
    for (const b of this.plan.buffers) {
      if ((b.kind === "param" || b.kind === "input") && b.dtype === "f32") {
        const bad = firstNonFinite(await this.readBuffer(b.index));
        if (bad) return { kind: "input", name: b.name, index: bad.index, value: bad.value };
      }
    }
    // Temporaries start at zero, so anything non-finite later was written by this re-run.
    const clear = d.createCommandEncoder();
    for (const b of this.plan.buffers)
      if (b.kind === "temp" || b.kind === "output") clear.clearBuffer(this.buffers[b.index]);
    d.queue.submit([clear.finish()]);
    for (let i = 0; i < this.dispatches.length; i++) {
      const x = this.dispatches[i];
      const k = this.plan.kernels[i];
      const enc = d.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(x.pipeline);
      pass.setBindGroup(0, x.bindGroup);
      pass.dispatchWorkgroups(...x.workgroups);
      pass.end();
      d.queue.submit([enc.finish()]);
      for (const slot of writtenBindings(k.source)) {
        const binding = k.bindings[slot];
        if (!binding || !("buffer" in binding)) continue;
        if (this.plan.buffers[binding.buffer].dtype !== "f32") continue;
        const bad = firstNonFinite(await this.readBuffer(binding.buffer));
        if (bad) return { kind: "kernel", kernel: k, index: i, value: bad.value, count: bad.count };
      }
    }
    return null;
  }

  /** Reads a plan buffer (tests and debugging). */
  async readBuffer(index: number): Promise<ArrayBuffer> {
    return this.gpu.read(this.buffers[index], this.plan.buffers[index].bytes);
  }
}
