// The parameter store: one GPU buffer per parameter or optimizer-state tensor, shared by
// every compiled step of a program. Initialization is deterministic for (seed, name).
import type { ParamInfo } from "../compiler/elab/params.ts";
import { fans } from "../compiler/elab/params.ts";
import { numel } from "../compiler/ir.ts";
import { hashU32, randnAt } from "../compiler/ops/source.ts";
import {
  createDeviceBuffer,
  type Device,
  type DeviceBuffer,
  readDeviceBuffer,
  writeDeviceBuffer,
} from "./device.ts";

export function nameHash(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619) >>> 0;
  return h;
}

/** The initial value of a parameter, a pure function of (seed, name, init, shape). */
export function initialValue(info: ParamInfo, seed: number): Float32Array | Int32Array {
  const n = numel(info.type.shape);
  if (info.type.dtype === "i32") return new Int32Array(n);
  const out = new Float32Array(n);
  const key = hashU32((seed ^ nameHash(info.name)) >>> 0);
  const [fanIn, fanOut] = fans(info.type.shape);
  const uniform = (i: number) => hashU32((key ^ hashU32(i)) >>> 0) / 4294967296;
  const init = info.init;
  switch (init.kind) {
    case "zeros":
      break;
    case "ones":
      out.fill(1);
      break;
    case "constant":
      out.fill(init.value);
      break;
    case "normal":
      for (let i = 0; i < n; i++) out[i] = init.std * randnAt(key, 1, i);
      break;
    case "uniform":
      for (let i = 0; i < n; i++) out[i] = init.limit * (2 * uniform(i) - 1);
      break;
    case "glorot": {
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      for (let i = 0; i < n; i++) out[i] = limit * (2 * uniform(i) - 1);
      break;
    }
    case "copy":
      return initialValue({ ...info, name: init.of, init: initFor(init.of, info) }, seed);
    case "he": {
      const std = Math.sqrt(2 / fanIn);
      for (let i = 0; i < n; i++) out[i] = std * randnAt(key, 2, i);
      break;
    }
  }
  return out;
}

let lookup: Map<string, ParamInfo> | null = null;
function initFor(name: string, fallback: ParamInfo) {
  return lookup?.get(name)?.init ?? fallback.init;
}

export class ParamStore {
  readonly buffers = new Map<string, DeviceBuffer>();

  constructor(
    private gpu: Device,
    readonly infos: Map<string, ParamInfo>,
  ) {
    for (const info of infos.values()) {
      this.buffers.set(info.name, createDeviceBuffer(gpu, numel(info.type.shape) * 4, info.name));
    }
  }

  initialize(seed: number) {
    lookup = this.infos;
    for (const info of this.infos.values())
      writeDeviceBuffer(this.gpu, this.buffers.get(info.name)!, initialValue(info, seed));
  }

  buffer(name: string): DeviceBuffer {
    const b = this.buffers.get(name);
    if (!b) throw new Error(`internal: no buffer for parameter '${name}'`);
    return b;
  }

  set(name: string, data: Float32Array | Int32Array) {
    const info = this.infos.get(name);
    if (!info) throw new Error(`unknown parameter '${name}'`);
    if (data.length !== numel(info.type.shape))
      throw new Error(
        `parameter '${name}': expected ${numel(info.type.shape)} values, got ${data.length}`,
      );
    writeDeviceBuffer(this.gpu, this.buffer(name), data);
  }

  async read(name: string): Promise<Float32Array> {
    const info = this.infos.get(name);
    if (!info) throw new Error(`unknown parameter '${name}'`);
    return new Float32Array(
      await readDeviceBuffer(this.gpu, this.buffer(name), numel(info.type.shape) * 4),
    );
  }

  /** Reads every tensor back (for checkpoints), in name order. */
  async readAll(): Promise<Map<string, Float32Array | Int32Array>> {
    const out = new Map<string, Float32Array | Int32Array>();
    for (const name of [...this.infos.keys()].sort()) {
      const info = this.infos.get(name)!;
      const bytes = numel(info.type.shape) * 4;
      const raw = await readDeviceBuffer(this.gpu, this.buffer(name), bytes);
      out.set(name, info.type.dtype === "i32" ? new Int32Array(raw) : new Float32Array(raw));
    }
    return out;
  }
}
