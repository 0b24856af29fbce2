// Faults during training and on the device: a non-finite loss stops the run with the step
// named and the last good checkpoint kept (--debug-nans names the kernel and .cld line),
// Dawn validation errors and a lost device name the step and kernel, tensors beyond the
// device's buffer limits are compile-time errors, and a checkpoint missing a tensor of the
// model is refused.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.ts";
import { CompileError } from "../../compiler/diagnostics.ts";
import { WEBGPU_DEFAULT_LIMITS } from "../../compiler/limits.ts";
import type { Plan } from "../../compiler/plan.ts";
import { loadCheckpoint } from "../../runtime/checkpoint.ts";
import { StepExecutor } from "../../runtime/executor.ts";
import { Gpu, GpuError } from "../../runtime/gpu.ts";
import { useGpu } from "../gpu-fixture.ts";
import { writeSafetensors } from "../../runtime/io/safetensors.ts";
import type { ParamStore } from "../../runtime/params.ts";
import { NonFiniteError, ResumeError } from "../../runtime/session.ts";
import { removeRunDirs, runDir, session, train } from "./helpers.ts";

const NAN = "test/fixtures/faults/nan-at-step.cld";
const HUGE = "test/fixtures/faults/huge-tensor.cld";
const OVERFLOW = "test/fixtures/faults/overflow.cld";
const QUAD = "test/fixtures/runtime/quadratic-sgd.cld";

const gpu = useGpu(removeRunDirs);

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a failure");
}

/** w after n SGD steps on sum((w + 1)^2) + 1e-4 sum(log w), from 1, lr 0.1 (by hand). */
function wAfter(n: number): number {
  let w = 1;
  for (let i = 0; i < n; i++) w -= 0.1 * (2 * (w + 1) + 1e-4 / w);
  return w;
}

describe("non-finite values", () => {
  it("stop at the step that made them; the checkpoint before stays", async () => {
    const dir = runDir();
    const t = session(gpu(), NAN, {}, { runDir: dir });
    await t.session.start();
    const e = await failure(t.session.run());
    expect(e).toBeInstanceOf(NonFiniteError);
    // Events: step, step, checkpoint, step, step, step (the 5th step, w < 0 by then).
    expect(e.message).toBe(
      `step descend: 'loss' is NaN at event 6 (optimizer step 5); the last good checkpoint is ${join(dir, "checkpoint.safetensors")} (rerun with --debug-nans to find the kernel and source line)`,
    );
    expect(t.logs.map((l) => l.get("loss")).every(Number.isFinite)).toBe(true);
    expect(t.logs).toHaveLength(4);
    const ck = loadCheckpoint(join(dir, "checkpoint.safetensors"))!;
    expect(ck.state.events).toBe(3);
    for (const v of ck.tensors.get("f.w")!) expect(v).toBeCloseTo(wAfter(2), 5);
  });

  it("--debug-nans names the first kernel and its .cld line, and restores the step's start", async () => {
    const t = session(gpu(), NAN, {}, { runDir: runDir(), debugNans: true });
    await t.session.start();
    const e = await failure(t.session.run());
    expect(e).toBeInstanceOf(NonFiniteError);
    const line = readFileSync(NAN, "utf8")
      .split("\n")
      .indexOf("  let barrier = 0.0001 * sum(log(w))");
    expect(line).toBeGreaterThan(0);
    expect(e.message).toMatch(
      new RegExp(
        `; --debug-nans: first non-finite output: kernel k\\d+_\\w+ \\(ops [^)]*\\blog\\b[^)]*\\) from [^;]*${NAN}:${line + 1}:\\d+ \\(let barrier = 0\\.0001 \\* sum\\(log\\(w\\)\\)\\)[^;]*; first non-finite op: log \\[4\\] at ${NAN}:${line + 1}:30 `,
      ),
    );
    expect(e.message.includes("\n")).toBe(false);
    // The parameters are back where the failing step started: after 4 good steps.
    expect(wAfter(4)).toBeLessThan(0);
    for (const v of await t.session.store.read("f.w")) expect(v).toBeCloseTo(wAfter(4), 5);
  });

  it("--debug-nans names the op inside a fused kernel that overflowed float32", async () => {
    const t = session(gpu(), OVERFLOW, {}, { runDir: runDir(), debugNans: true });
    await t.session.start();
    const e = await failure(t.session.run());
    expect(e.message).toMatch(/^step probe: 'big' is Infinity at event 1 /);
    // The kernel fuses mul, exp and sum; the interpreter pins the exp (column 14).
    expect(e.message).toMatch(/kernel k\d+_\w*exp\w* \(ops [^)]*exp/);
    expect(e.message).toMatch(
      new RegExp(`; first non-finite op: exp \\[3\\] at ${OVERFLOW}:5:14 \\(return sum`),
    );
  });

  it("without a checkpoint yet, says so", async () => {
    const t = session(gpu(), NAN, { save_at: "100" }, { runDir: runDir() });
    await t.session.start();
    const e = await failure(t.session.run());
    expect(e.message).toMatch(
      /^step descend: 'loss' is NaN at event 5 \(optimizer step 5\); no checkpoint was written before it/,
    );
  });
});

describe("device errors", () => {
  const loc = (line: number) => ({
    file: "probe.cld",
    start: { offset: 0, line, column: 1 },
    end: { offset: 1, line, column: 2 },
  });
  const plan = (wgsl: string, workgroups: [number, number, number]): Plan => ({
    language: "wgsl",
    buffers: [{ index: 0, bytes: 64, kind: "temp", name: "%0", dtype: "f32", shape: [16] }],
    kernels: [
      {
        name: "k000_probe",
        source: wgsl,
        bindings: [{ buffer: 0 }],
        workgroups,
        ops: ["probe"],
        locs: [loc(7)],
        flops: 0,
        bytes: 0,
      },
    ],
    copies: [],
    outputs: [],
    lifetimes: [],
  });
  const WGSL = `@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(1) fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  if (id.x < 16u) { out[id.x] = 1.0; }
}`;
  const noStore = {} as ParamStore;

  it("a validation error names the step, the kernel and its .cld line", async () => {
    // More workgroups than maxComputeWorkgroupsPerDimension (65535 by default).
    const ex = new StepExecutor(gpu(), plan(WGSL, [70000, 1, 1]), noStore, "probe");
    await ex.check();
    const e = await failure(ex.run(new Map()));
    expect(e).toBeInstanceOf(GpuError);
    expect(e.message).toMatch(/^GPU error in 'step probe, kernel k000_probe \(probe\.cld:7\)': /);
    // The device survives a validation error: the same kernel within limits runs.
    await new StepExecutor(gpu(), plan(WGSL, [16, 1, 1]), noStore, "ok").run(new Map());
  });

  it("a WGSL error names the kernel and its .cld line", async () => {
    // On a device of its own: the invalid pipeline also makes its bind group invalid.
    const other = await Gpu.open();
    new StepExecutor(other, plan(WGSL.replace("1.0", "oops"), [1, 1, 1]), noStore, "bad");
    const e = await failure(other.checkErrors());
    other.destroy();
    expect(e).toBeInstanceOf(GpuError);
    expect(e.message).toMatch(/^GPU error in 'bad\/k000_probe \(probe\.cld:7\)': /);
    expect(e.message).toMatch(/oops/);
  });

  it("a lost device is reported for the step that needed it", async () => {
    const other = await Gpu.open();
    const ex = new StepExecutor(other, plan(WGSL, [16, 1, 1]), noStore, "lost");
    await ex.run(new Map());
    other.device.destroy();
    await other.device.lost;
    await new Promise((r) => setTimeout(r, 0));
    const e = await failure(ex.run(new Map()));
    expect(e).toBeInstanceOf(GpuError);
    expect(e.message).toMatch(/^GPU error in 'step lost': device lost \(destroyed/);
  });
});

describe("buffer limits", () => {
  it("a tensor over maxStorageBufferBindingSize is a compile error naming it", () => {
    const e = (() => {
      try {
        compile(HUGE, new Map(), { subgroups: false });
      } catch (e) {
        return e as CompileError;
      }
      throw new Error("expected a CompileError");
    })();
    expect(e).toBeInstanceOf(CompileError);
    expect(e.diagnostics).toHaveLength(1);
    const d = e.diagnostics[0];
    expect(d.message).toBe(
      "step forward: parameter 'net.w' [40000, 1000] needs 160,000,000 bytes (152.6 MiB), more than the device's maxStorageBufferBindingSize of 134,217,728 bytes (128.0 MiB); make it smaller (batch, width, resolution) or split it",
    );
    expect(d.range?.file).toBe(HUGE);
    expect(d.range?.start.line).toBe(4);
  });

  it("uses the adapter's limits when given, and names intermediates too", () => {
    expect(gpu().bufferLimits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(
      WEBGPU_DEFAULT_LIMITS.maxStorageBufferBindingSize,
    );
    const limits = { maxStorageBufferBindingSize: 1 << 30, maxBufferSize: 1 << 30 };
    expect(() => compile(HUGE, new Map(), { subgroups: false, limits })).not.toThrow();
    // batch 1000: the [1000, 40000] noise input is 160 MB as well.
    const e = (() => {
      try {
        compile(HUGE, new Map([["batch", "1000"]]), { subgroups: false });
      } catch (e) {
        return e as CompileError;
      }
      throw new Error("expected a CompileError");
    })();
    const msgs = e.diagnostics.map((d) => d.message);
    expect(msgs.some((m) => /the intermediate tensor %\d+ \(randn\) \[1000, 40000\]/.test(m))).toBe(
      true,
    );
  });
});

describe("resuming a damaged checkpoint", () => {
  it("refuses a corrupt file with what to do instead", async () => {
    const dir = runDir();
    writeFileSync(join(dir, "checkpoint.safetensors"), "garbage");
    const t = session(gpu(), QUAD, {}, { runDir: dir, resume: true });
    const e = await failure(t.session.start());
    expect(e).toBeInstanceOf(ResumeError);
    expect(e.message).toBe(
      `${join(dir, "checkpoint.safetensors")}: file is 7 bytes, too short for the 8-byte header length (start over with --fresh, or use another --run-dir)`,
    );
  });

  it("refuses one that lacks a tensor of the model, naming it", async () => {
    const dir = runDir();
    const a = await train(gpu(), QUAD, {}, { runDir: dir });
    await a.session.checkpoint();
    const path = join(dir, "checkpoint.safetensors");
    const ck = loadCheckpoint(path)!;
    const raw = readFileSync(path);
    const meta = JSON.parse(raw.subarray(8, 8 + Number(raw.readBigUInt64LE(0))).toString())
      .__metadata__ as Record<string, string>;
    const kept = new Map(
      [...ck.tensors]
        .filter(([n]) => n !== "q.w")
        .map(([n, d]) => [n, { data: d, shape: [d.length] }]),
    );
    writeSafetensors(path, kept, meta);
    const t = session(gpu(), QUAD, {}, { runDir: dir, resume: true });
    const e = await failure(t.session.start());
    expect(e).toBeInstanceOf(ResumeError);
    expect(e.message).toBe(`${path}: the model's tensor q.w [5] is missing`);
  });
});
