// One GPU device per test file, opened before the file's tests and destroyed after them.
import { afterAll, beforeAll } from "vitest";
import { Gpu } from "../runtime/gpu.ts";

/**
 * Registers the hooks that open the file's GPU (first, so a later `beforeAll` can use it)
 * and destroy it, then run `cleanup`, after the tests. Returns an accessor: the device
 * exists only once the hooks have run, not while the file's top level executes.
 */
export function useGpu(cleanup?: () => void): () => Gpu {
  let gpu: Gpu | undefined;
  beforeAll(async () => {
    gpu = await Gpu.open();
  });
  afterAll(() => {
    gpu?.destroy();
    cleanup?.();
  });
  return () => {
    if (!gpu) throw new Error("useGpu: the GPU is open only inside hooks and tests");
    return gpu;
  };
}
