// The same program trained on the native C++ target and on Dawn (WGSL) agrees within float
// tolerance, and the native target is deterministic: two runs give identical bits.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readSafetensors } from "../../../runtime/io/safetensors.ts";
import { childTimeout } from "../../timeouts.ts";

const ROOT = join(import.meta.dirname, "../../..");
const PROGRAM = "test/fixtures/runtime/tiny-mlp.cld";
const dir = mkdtempSync(join(tmpdir(), "cld-targets-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function train(
  device: string,
  name: string,
  env: NodeJS.ProcessEnv = {},
): Map<string, Float32Array> {
  const runDir = join(dir, name);
  const r = spawnSync(
    process.execPath,
    [
      "bin/cldc.js",
      "train",
      PROGRAM,
      "--device",
      device,
      "--run-dir",
      runDir,
      "--set",
      "steps=12",
      "--set",
      "half=6",
    ],
    { cwd: ROOT, encoding: "utf8", env: { ...process.env, ...env }, ...childTimeout() },
  );
  expect(r.status, r.stderr).toBe(0);
  const { tensors } = readSafetensors(join(runDir, "checkpoint.safetensors"));
  const out = new Map<string, Float32Array>();
  for (const [k, t] of tensors) if (t.data instanceof Float32Array) out.set(k, t.data);
  return out;
}

describe("native C++ target", () => {
  it("trains like the WGSL path, and twice to the same bits (one build split in three units)", () => {
    const c1 = train("cpu", "cpu-1");
    // The second build splits the step over three translation units (parallel g++).
    const c2 = train("cpu", "cpu-2", { CLD_NATIVE_JOBS: "3" });
    const w = train("lavapipe", "wgsl");
    expect([...c1.keys()].sort()).toEqual([...w.keys()].sort());
    let worst = 0;
    for (const [k, a] of c1) {
      expect(Buffer.from(a.buffer).equals(Buffer.from(c2.get(k)!.buffer)), k).toBe(true);
      const b = w.get(k)!;
      for (let i = 0; i < a.length; i++)
        worst = Math.max(worst, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
    }
    // 12 AdamW steps amplify f32 rounding differences a little; a wrong kernel is far off.
    expect(worst).toBeLessThan(2e-3);
    expect(worst).toBeGreaterThanOrEqual(0);
  });
});
