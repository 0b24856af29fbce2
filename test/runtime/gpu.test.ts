import { describe, expect, it } from "vitest";
import { GpuError, GpuUnavailableError } from "../../runtime/gpu.ts";
import { useGpu } from "../gpu-fixture.ts";

const gpu = useGpu();

const DOUBLE = `@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x < arrayLength(&x)) { x[g.x] = 2.0 * x[g.x]; }
}`;

describe("Gpu", () => {
  it("describes the adapter and its limits", () => {
    expect(gpu().adapterDescription.length).toBeGreaterThan(0);
    expect(gpu().limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 << 20);
    expect(typeof gpu().hasSubgroups).toBe("boolean");
  });

  it("round-trips data through write and read, with odd sizes", async () => {
    const data = Float32Array.from({ length: 37 }, (_, i) => i * 0.5 - 3);
    const b = gpu().createBuffer(data.byteLength);
    expect(b.size % 16).toBe(0);
    gpu().write(b, data);
    expect(new Float32Array(await gpu().read(b, data.byteLength))).toEqual(data);
    const bytes = new Uint8Array([1, 2, 3, 4, 5, 6, 7]);
    gpu().write(b, bytes, 16);
    expect(new Uint8Array(await gpu().read(b, 7, 16))).toEqual(bytes);
    b.destroy();
  });

  it("caches pipelines by WGSL text", () => {
    const a = gpu().pipeline(DOUBLE, "double");
    expect(gpu().pipeline(DOUBLE, "double-again")).toBe(a);
    expect(gpu().pipeline(DOUBLE + "\n", "double-nl")).not.toBe(a);
  });

  it("runs many dispatches in one submit, optionally profiled", async () => {
    const p = gpu().pipeline(DOUBLE, "double");
    const b = gpu().createBuffer(256 * 4);
    gpu().write(b, new Float32Array(256).fill(1));
    const bindGroup = gpu().makeBindGroup(p, [b]);
    const d = {
      pipeline: p,
      bindGroup,
      workgroups: [4, 1, 1] as [number, number, number],
      label: "double",
    };
    const r = await gpu().submit([d, d, d]);
    expect(r.ms).toBeGreaterThan(0);
    const prof = await gpu().submit([d, d], { profile: true });
    if (gpu().hasTimestamps) {
      expect(prof.dispatches?.map((x) => x.label)).toEqual(["double", "double"]);
      for (const x of prof.dispatches!) expect(x.ms).toBeGreaterThanOrEqual(0);
    }
    const out = new Float32Array(await gpu().read(b, 256 * 4));
    expect(out[0]).toBe(32);
    expect(out[255]).toBe(32);
    b.destroy();
  });

  it("turns a WGSL compile error into a GpuError naming the kernel", async () => {
    const bad = "@compute @workgroup_size(1) fn main() { let x: f32 = undefined_thing; }";
    const err = await gpu()
      .pipelineChecked(bad, "my-broken-kernel")
      .catch((e) => e);
    expect(err).toBeInstanceOf(GpuError);
    expect(err.message).toContain("my-broken-kernel");
    expect(err.message).toContain("undefined_thing");
    // The pipeline is not cached, and a later good pipeline still works.
    await gpu().pipelineChecked(DOUBLE, "double");
  });

  it("reports an error surfacing at submit with the pipeline's label", async () => {
    gpu().pipeline("fn main() {}", "no-entry-point");
    await expect(gpu().submit([])).rejects.toThrow(/no-entry-point/);
  });

  it("explains how to install a Vulkan driver when no adapter exists", () => {
    const e = new GpuUnavailableError();
    expect(e.message).toContain("bookworm-backports");
    expect(e.message).toContain("mesa-vulkan-drivers");
    expect(e.message).toContain("XDG_RUNTIME_DIR");
    expect(e.message).toContain("npm run setup");
  });
});
