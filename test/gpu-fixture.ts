// One device per test file (or per target in a file), opened before the tests and
// destroyed after them.
import { afterAll, beforeAll } from "vitest";
import type { Device } from "../runtime/device.ts";
import { Gpu } from "../runtime/gpu.ts";
import { NativeDevice } from "../runtime/native/device.ts";

/** The kernel languages the op tests run on: WGSL through Dawn, C++ on the native target. */
export const TARGETS = ["wgsl", "c"] as const;
export type TestTarget = (typeof TARGETS)[number];

/**
 * Registers the hooks that open the device (first, so a later `beforeAll` can use it) and
 * destroy it, then run `cleanup`, after the tests. Returns an accessor: the device exists
 * only once the hooks have run, not while the file's top level executes.
 */
export function useDevice(target: TestTarget, cleanup?: () => void): () => Device {
  let dev: Device | undefined;
  beforeAll(async () => {
    dev = target === "c" ? NativeDevice.open() : await Gpu.open();
  });
  afterAll(() => {
    dev?.destroy();
    cleanup?.();
  });
  return () => {
    if (!dev) throw new Error("useDevice: the device is open only inside hooks and tests");
    return dev;
  };
}

/** Dawn's device (WGSL): what most runtime tests use. */
export function useGpu(cleanup?: () => void): () => Gpu {
  const get = useDevice("wgsl", cleanup);
  return () => get() as Gpu;
}
