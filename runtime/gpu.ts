// Headless WebGPU runtime on dawn.node (npm `webgpu`): device setup, pipeline cache,
// buffers, and batched submission (many dispatches in one encoder and one compute pass).
import { mkdirSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { create, globals } from "webgpu";

export const INSTALL_HINT = [
  "No WebGPU adapter found. cld runs on Dawn over Vulkan; without a GPU it needs Mesa's",
  "lavapipe (software Vulkan) from Mesa >= 25 (Debian 12's own Mesa 22.3 is rejected by Dawn).",
  "On Debian 12 (bookworm), as root:",
  "  echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/backports.list",
  "  apt-get update && apt-get install -t bookworm-backports mesa-vulkan-drivers",
  "Then set XDG_RUNTIME_DIR, e.g.: export XDG_RUNTIME_DIR=/tmp/xdg-$USER && mkdir -p $XDG_RUNTIME_DIR",
  "(`npm run setup` performs these steps.)",
  "With an NVIDIA GPU, the driver's Vulkan part (libGLX_nvidia) also needs the GL dispatch",
  "libraries: apt-get install libvulkan1 libglvnd0 libglx0 (VK_LOADER_DEBUG=error shows why).",
].join("\n");

/** No adapter: the message says what to install. */
export class GpuUnavailableError extends Error {
  constructor(detail?: string) {
    super(detail ? `${INSTALL_HINT}\n(${detail})` : INSTALL_HINT);
    this.name = "GpuUnavailableError";
  }
}

/** A validation / out-of-memory / device-lost error, naming the kernel it came from. */
export class GpuError extends Error {
  constructor(
    public label: string,
    message: string,
  ) {
    super(`GPU error in '${label}': ${message}`);
    this.name = "GpuError";
  }
}

export interface GpuOptions {
  powerPreference?: GPUPowerPreference;
  /** Extra dawn.node flags for create(), e.g. "backend=vulkan". */
  dawnFlags?: string[];
}

export interface Dispatch {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: [number, number, number];
  label?: string;
}

/** A buffer-to-buffer copy, recorded after the compute pass. */
export interface Copy {
  src: GPUBuffer;
  dst: GPUBuffer;
  size: number;
  srcOffset?: number;
  dstOffset?: number;
}

export interface SubmitOptions {
  copies?: Copy[];
  /** Per-dispatch GPU time via timestamp queries (one pass per dispatch; needs the feature). */
  profile?: boolean;
}

export interface SubmitResult {
  /** Wall time from submit to onSubmittedWorkDone, ms. */
  ms: number;
  /** With `profile` and timestamp-query: GPU time per dispatch, ms. */
  dispatches?: { label: string; ms: number }[];
}

export type Binding = GPUBuffer | GPUBufferBinding;

const FEATURES_WANTED: GPUFeatureName[] = ["subgroups" as GPUFeatureName, "timestamp-query"];
const LIMITS_WANTED = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxStorageBuffersPerShaderStage",
  "maxComputeWorkgroupStorageSize",
] as const;

/** Env must be set before dawn creates the Vulkan instance (Mesa reads it at init). */
function prepareEnv(): void {
  const env = process.env;
  if (!env.MESA_SHADER_CACHE_DIR) {
    const dir = env.CLD_SHADER_CACHE || join(homedir(), ".cache", "cld", "mesa");
    try {
      mkdirSync(dir, { recursive: true });
      env.MESA_SHADER_CACHE_DIR = dir;
    } catch {
      // Unwritable home: run without the on-disk cache rather than fail.
    }
  }
  if (!env.MESA_SHADER_CACHE_MAX_SIZE) env.MESA_SHADER_CACHE_MAX_SIZE = "1G";
  if (!env.XDG_RUNTIME_DIR) {
    const dir = join(tmpdir(), `xdg-cld-${process.getuid?.() ?? "user"}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    env.XDG_RUNTIME_DIR = dir;
  }
}

export class Gpu {
  readonly kind = "webgpu" as const;
  private pipelines = new Map<string, GPUComputePipeline>();
  /** Error-scope results of pipeline creation not yet awaited. */
  private pending: Promise<GpuError | null>[] = [];
  private lostReason: string | null = null;
  private uncaptured: string[] = [];

  private constructor(
    /** dawn.node's GPU object: must stay referenced while the device lives (else segfault). */
    readonly gpu: GPU,
    readonly adapter: GPUAdapter,
    readonly device: GPUDevice,
    readonly adapterDescription: string,
  ) {
    device.lost.then((info) => {
      this.lostReason = `${info.reason}: ${info.message}`;
      if (info.reason !== "destroyed") console.error(`cld: GPU device lost (${this.lostReason})`);
    });
    device.addEventListener("uncapturederror", (ev) => {
      this.uncaptured.push((ev as GPUUncapturedErrorEvent).error.message);
    });
  }

  static async open(opts: GpuOptions = {}): Promise<Gpu> {
    prepareEnv();
    Object.assign(globalThis, globals);
    const gpu = create(opts.dawnFlags ?? []);
    let adapter: GPUAdapter | null = null;
    try {
      adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference });
    } catch (e) {
      throw new GpuUnavailableError(String(e));
    }
    if (!adapter) throw new GpuUnavailableError();
    const requiredFeatures = FEATURES_WANTED.filter((f) => adapter.features.has(f));
    const requiredLimits: Record<string, number> = {};
    for (const k of LIMITS_WANTED) requiredLimits[k] = adapter.limits[k];
    const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
    const i = adapter.info ?? ({} as GPUAdapterInfo);
    const desc = [i.vendor, i.architecture, i.device, i.description].filter((s) => s).join(" / ");
    return new Gpu(gpu, adapter, device, desc);
  }

  /**
   * Subgroup kernels (matmul, attention) shuffle within groups of 8 consecutive lanes, so
   * they need subgroups of at least 8 (lavapipe: 8; most GPUs 16–64; some mobile GPUs 4).
   */
  get hasSubgroups(): boolean {
    return this.device.features.has("subgroups") && this.subgroupMinSize >= 8;
  }
  /** What the compiler targets on this device. */
  get target(): { subgroups: boolean; language: "wgsl" } {
    return { subgroups: this.hasSubgroups, language: "wgsl" };
  }
  get hasTimestamps(): boolean {
    return this.device.features.has("timestamp-query");
  }
  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }
  /** The limits the compiler checks tensor sizes against (compiler/limits.ts). */
  get bufferLimits(): { maxStorageBufferBindingSize: number; maxBufferSize: number } {
    const l = this.device.limits;
    return {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
    };
  }
  /** Smallest subgroup size the adapter may use (0 if unknown). */
  get subgroupMinSize(): number {
    return (this.adapter.info as unknown as { subgroupMinSize?: number }).subgroupMinSize ?? 0;
  }

  /** Compute pipeline for `wgsl` (entry point `main`), cached by the WGSL text. */
  pipeline(wgsl: string, label: string): GPUComputePipeline {
    const hit = this.pipelines.get(wgsl);
    if (hit) return hit;
    this.checkLost(label);
    const d = this.device;
    d.pushErrorScope("out-of-memory");
    d.pushErrorScope("validation");
    const module = d.createShaderModule({ code: wgsl, label });
    const p = d.createComputePipeline({
      layout: "auto",
      compute: { module, entryPoint: "main" },
      label,
    });
    const v = d.popErrorScope();
    const o = d.popErrorScope();
    const check = Promise.all([v, o]).then(async ([ev, eo]) => {
      const e = ev ?? eo;
      if (!e) return null;
      this.pipelines.delete(wgsl);
      const info = await module.getCompilationInfo();
      const msgs = info.messages
        .filter((m) => m.type === "error")
        .map((m) => `${m.lineNum}:${m.linePos}: ${m.message}`);
      return new GpuError(label, [e.message, ...msgs].join("\n"));
    });
    this.pending.push(check);
    this.pipelines.set(wgsl, p);
    return p;
  }

  /** Like `pipeline`, but waits for validation and throws a GpuError naming `label`. */
  async pipelineChecked(wgsl: string, label: string): Promise<GPUComputePipeline> {
    const p = this.pipeline(wgsl, label);
    await this.checkErrors();
    return p;
  }

  /** Throws the first error from pipeline creation since the last check. */
  async checkErrors(): Promise<void> {
    const pending = this.pending;
    this.pending = [];
    for (const e of await Promise.all(pending)) if (e) throw e;
    if (this.uncaptured.length) {
      const msg = this.uncaptured.join("\n");
      this.uncaptured = [];
      throw new GpuError("uncaptured", msg);
    }
  }

  /** Storage buffer (STORAGE|COPY_SRC|COPY_DST), size rounded up to a multiple of 16. */
  createBuffer(bytes: number, label?: string): GPUBuffer {
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    const u = GPUBufferUsage;
    return this.device.createBuffer({
      size,
      usage: u.STORAGE | u.COPY_SRC | u.COPY_DST,
      label,
    });
  }

  /** Uniform buffer initialised with `data` (padded to 16 bytes). */
  uniformBuffer(data: ArrayBuffer | ArrayBufferView, label?: string): GPUBuffer {
    const bytes = data instanceof ArrayBuffer ? data.byteLength : data.byteLength;
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    const b = this.device.createBuffer({
      size,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      label,
    });
    this.write(b, data);
    return b;
  }

  /** Queue a write; `data`'s byte length is padded to a multiple of 4 if needed. */
  write(buffer: GPUBuffer, data: ArrayBuffer | ArrayBufferView, offset = 0): void {
    let view =
      data instanceof ArrayBuffer
        ? new Uint8Array(data)
        : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (view.byteLength % 4) {
      const padded = new Uint8Array(Math.ceil(view.byteLength / 4) * 4);
      padded.set(view);
      view = padded;
    }
    this.device.queue.writeBuffer(buffer, offset, view as Uint8Array<ArrayBuffer>);
  }

  /** Copy `bytes` from `buffer` (at `offset`) back to the CPU via a MAP_READ staging buffer. */
  async read(buffer: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> {
    this.checkLost("read");
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.device.createBuffer({
      size: Math.max(4, size),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(buffer, offset, staging, 0, size);
    this.device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const out = staging.getMappedRange(0, size).slice(0, bytes);
    staging.unmap();
    staging.destroy();
    return out;
  }

  /** Bind group 0 with buffer i at binding i. */
  makeBindGroup(pipeline: GPUComputePipeline, buffers: Binding[], label?: string): GPUBindGroup {
    return this.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: buffers.map((b, i) => ({
        binding: i,
        resource: "buffer" in b ? b : { buffer: b },
      })),
      label,
    });
  }

  /** Record all dispatches into one encoder and one compute pass, then the copies. */
  encode(dispatches: Dispatch[], copies: Copy[] = []): GPUCommandBuffer {
    const enc = this.device.createCommandEncoder();
    if (dispatches.length) {
      const pass = enc.beginComputePass();
      for (const d of dispatches) {
        pass.setPipeline(d.pipeline);
        pass.setBindGroup(0, d.bindGroup);
        pass.dispatchWorkgroups(...d.workgroups);
      }
      pass.end();
    }
    for (const c of copies) {
      enc.copyBufferToBuffer(c.src, c.srcOffset ?? 0, c.dst, c.dstOffset ?? 0, c.size);
    }
    return enc.finish();
  }

  /** Submit and wait for completion; errors become GpuError naming the dispatch labels. */
  async submit(dispatches: Dispatch[], opts: SubmitOptions = {}): Promise<SubmitResult> {
    await this.checkErrors();
    const label = dispatches.map((d) => d.label ?? "?").join(",") || "submit";
    this.checkLost(label);
    const profile = opts.profile && this.hasTimestamps && dispatches.length > 0;
    const d = this.device;
    d.pushErrorScope("out-of-memory");
    d.pushErrorScope("validation");
    let query: { set: GPUQuerySet; resolve: GPUBuffer; staging: GPUBuffer } | null = null;
    let cmd: GPUCommandBuffer;
    if (profile) {
      query = this.timestampQuery(dispatches.length);
      cmd = this.encodeProfiled(dispatches, opts.copies ?? [], query);
    } else {
      cmd = this.encode(dispatches, opts.copies);
    }
    const t0 = performance.now();
    d.queue.submit([cmd]);
    await d.queue.onSubmittedWorkDone();
    const ms = performance.now() - t0;
    const ev = await d.popErrorScope();
    const eo = await d.popErrorScope();
    const e = ev ?? eo;
    if (e) throw new GpuError(label, e.message);
    this.checkLost(label);
    if (!query) return { ms };
    await query.staging.mapAsync(GPUMapMode.READ);
    const ts = new BigInt64Array(query.staging.getMappedRange().slice(0));
    query.staging.unmap();
    query.set.destroy();
    query.resolve.destroy();
    query.staging.destroy();
    return {
      ms,
      dispatches: dispatches.map((x, i) => ({
        label: x.label ?? `#${i}`,
        ms: Number(ts[2 * i + 1] - ts[2 * i]) / 1e6,
      })),
    };
  }

  private timestampQuery(n: number) {
    const set = this.device.createQuerySet({ type: "timestamp", count: 2 * n });
    const u = GPUBufferUsage;
    const resolve = this.device.createBuffer({ size: 16 * n, usage: u.QUERY_RESOLVE | u.COPY_SRC });
    const staging = this.device.createBuffer({ size: 16 * n, usage: u.MAP_READ | u.COPY_DST });
    return { set, resolve, staging };
  }

  /** One pass per dispatch: timestamps are taken at pass boundaries. */
  private encodeProfiled(
    dispatches: Dispatch[],
    copies: Copy[],
    q: { set: GPUQuerySet; resolve: GPUBuffer; staging: GPUBuffer },
  ): GPUCommandBuffer {
    const enc = this.device.createCommandEncoder();
    dispatches.forEach((d, i) => {
      const pass = enc.beginComputePass({
        timestampWrites: {
          querySet: q.set,
          beginningOfPassWriteIndex: 2 * i,
          endOfPassWriteIndex: 2 * i + 1,
        },
      });
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, d.bindGroup);
      pass.dispatchWorkgroups(...d.workgroups);
      pass.end();
    });
    for (const c of copies) {
      enc.copyBufferToBuffer(c.src, c.srcOffset ?? 0, c.dst, c.dstOffset ?? 0, c.size);
    }
    enc.resolveQuerySet(q.set, 0, 2 * dispatches.length, q.resolve, 0);
    enc.copyBufferToBuffer(q.resolve, 0, q.staging, 0, 16 * dispatches.length);
    return enc.finish();
  }

  /** Why the device was lost ("reason: message"), or null while it lives. */
  get lost(): string | null {
    return this.lostReason;
  }

  /** Throws a GpuError naming `label` once the device is lost. */
  checkLost(label: string): void {
    if (this.lostReason) throw new GpuError(label, `device lost (${this.lostReason})`);
  }

  destroy(): void {
    this.pipelines.clear();
    this.device.destroy();
  }
}
