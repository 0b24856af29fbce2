// The device a program runs on: Dawn (a GPU, or lavapipe on the CPU) running WGSL, or the
// native CPU target running C++. Both hold buffers and execute Plans; everything above
// this file (sessions, parameter stores, sampling, eval) is written against `Device`.
import type { Target } from "../compiler/codegen/heavy.ts";
import type { Plan } from "../compiler/plan.ts";
import { StepExecutor } from "./executor.ts";
import { Gpu, GpuUnavailableError } from "./gpu.ts";
import { type NativeBuffer, NativeDevice } from "./native/device.ts";
import { NativeStepExecutor } from "./native/executor.ts";
import { NativeUnavailableError } from "./native/toolchain.ts";
import type { ParamStore } from "./params.ts";

export type Device = Gpu | NativeDevice;
export type Executor = StepExecutor | NativeStepExecutor;
export type DeviceBuffer = GPUBuffer | NativeBuffer;

/** What `--device` accepts. */
export const DEVICE_CHOICES = ["auto", "gpu", "cpu", "lavapipe"] as const;
export type DeviceChoice = (typeof DEVICE_CHOICES)[number];

export function isDeviceChoice(s: string): s is DeviceChoice {
  return (DEVICE_CHOICES as readonly string[]).includes(s);
}

/** The choice in $CLD_DEVICE, else `auto`. */
export function defaultDeviceChoice(): DeviceChoice {
  const env = process.env.CLD_DEVICE;
  return env && isDeviceChoice(env) ? env : "auto";
}

/** Whether Dawn's adapter is a software rasterizer (lavapipe, SwiftShader). */
export function isSoftwareAdapter(gpu: Gpu): boolean {
  const i = (gpu.adapter.info ?? {}) as GPUAdapterInfo & { adapterType?: string };
  const text = `${i.vendor} ${i.architecture} ${i.device} ${i.description}`.toLowerCase();
  return i.adapterType === "cpu" || /llvmpipe|lavapipe|swiftshader/.test(text);
}

/**
 * Opens the device for `choice`:
 * - `gpu`: Dawn's adapter, and it must be a real GPU;
 * - `lavapipe`: Dawn's adapter even when it is software (checks the WGSL path on a CPU);
 * - `cpu`: the native C++ target;
 * - `auto`: a real GPU when Dawn reports one, else the native target, else lavapipe (with
 *   a notice on stderr).
 */
export async function openDevice(
  choice: DeviceChoice = defaultDeviceChoice(),
  log: (line: string) => void = (l) => console.error(l),
): Promise<Device> {
  if (choice === "cpu") return NativeDevice.open();
  if (choice === "lavapipe") return Gpu.open();
  if (choice === "gpu") {
    const gpu = await Gpu.open();
    if (isSoftwareAdapter(gpu)) {
      const desc = gpu.adapterDescription;
      gpu.destroy();
      throw new GpuUnavailableError(
        `--device gpu: Dawn found only a software adapter (${desc}); use --device cpu or lavapipe`,
      );
    }
    return gpu;
  }
  let gpu: Gpu | null = null;
  try {
    gpu = await Gpu.open();
  } catch (e) {
    if (!(e instanceof GpuUnavailableError)) throw e;
  }
  if (gpu && !isSoftwareAdapter(gpu)) return gpu;
  if (NativeDevice.available()) {
    gpu?.destroy();
    return NativeDevice.open();
  }
  if (gpu) {
    log(
      `cld: notice: no C++ compiler for the native CPU target, so running on lavapipe (slower); ${new NativeUnavailableError("").message.split("; ").pop()}`,
    );
    return gpu;
  }
  throw new NativeUnavailableError("no GPU adapter and no C++ compiler");
}

/** The executor for `plan` on `device`. */
export function createExecutor(
  device: Device,
  plan: Plan,
  store: ParamStore,
  label: string,
): Executor {
  if (device instanceof NativeDevice) {
    if (plan.language !== "c")
      throw new Error(`internal: step ${label} was compiled for WGSL but the device is native`);
    return new NativeStepExecutor(device, plan, store, label);
  }
  if (plan.language !== "wgsl")
    throw new Error(`internal: step ${label} was compiled for C but the device is Dawn`);
  return new StepExecutor(device, plan, store, label);
}

export type { Target };

// Buffer operations on either device (the two take their own buffer types).
export function createDeviceBuffer(device: Device, bytes: number, label: string): DeviceBuffer {
  return device.createBuffer(bytes, label);
}
export function writeDeviceBuffer(
  device: Device,
  buf: DeviceBuffer,
  data: ArrayBuffer | ArrayBufferView,
): void {
  if (device instanceof NativeDevice) device.write(buf as NativeBuffer, data);
  else device.write(buf as GPUBuffer, data);
}
export function readDeviceBuffer(
  device: Device,
  buf: DeviceBuffer,
  bytes: number,
): Promise<ArrayBuffer> {
  return device instanceof NativeDevice
    ? device.read(buf as NativeBuffer, bytes)
    : device.read(buf as GPUBuffer, bytes);
}
