// Executes a compiled step Plan: buffers, pipelines and bind groups are created once;
// each step is one upload per input, one command encoder with one compute pass, the
// update copies, and a single readback of the logged scalars.
import type { Plan } from "../compiler/plan.ts";
import type { Gpu } from "./gpu.ts";
import { GpuError } from "./gpu.ts";
import type { ParamStore } from "./params.ts";

export type HostTensor = Float32Array | Int32Array;

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
      if (b.kind === "param") return store.buffer(b.name);
      const buf = gpu.createBuffer(
        b.bytes,
        b.kind === "input" ? b.name : `${label}:${b.kind}${b.index}`,
      );
      if (b.kind === "input")
        this.inputs.set(b.name, { buffer: buf, bytes: b.bytes, dtype: b.dtype, shape: b.shape });
      return buf;
    });
    for (const k of plan.kernels) {
      const pipeline = gpu.pipeline(k.wgsl, `${label}/${k.name}`);
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
    if (e) throw new GpuError(`step ${this.label}`, e.message);
    return out;
  }

  /** Reads a plan buffer (tests and debugging). */
  async readBuffer(index: number): Promise<ArrayBuffer> {
    return this.gpu.read(this.buffers[index], this.plan.buffers[index].bytes);
  }
}
