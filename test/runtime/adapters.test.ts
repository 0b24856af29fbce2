// LoRA / C-LoRA adapters end to end: only A and B train, the base weight and the frozen
// past sum stay put, merge() folds A·B into past and restarts A, B and their Adam state,
// and the forget loss (written in the program) is zero until a past exists.
import { describe, expect, it } from "vitest";
import { check } from "../../compiler/compile.ts";
import { useGpu } from "../gpu-fixture.ts";
import { initialValue } from "../../runtime/params.ts";
import { runDir, session } from "./helpers.ts";

const FILE = "test/fixtures/adapters/clora-tiny.cld";
const gpu = useGpu();

describe("adapters", () => {
  it("train only A and B; merge folds A·B into the frozen past", async () => {
    const t = session(gpu(), FILE, { steps: "4" }, { runDir: runDir() });
    const s = t.session;
    await s.start();
    const infos = s.compiled.program.registry.params;
    expect([...infos.keys()].filter((n) => n.startsWith("kv.")).sort()).toEqual([
      "kv.a.net.wk",
      "kv.b.net.wk",
      "kv.past.net.wk",
    ]);
    const w0 = await s.store.read("net.wk");
    const q0 = await s.store.read("net.wq");
    const runTask = async () => {
      for (let i = 0; i < 4; i++) await s.runStep("task", null as never);
    };
    await runTask();
    const [a, b, past] = await Promise.all(
      ["kv.a.net.wk", "kv.b.net.wk", "kv.past.net.wk"].map((n) => s.store.read(n)),
    );
    // Frozen: the base weights and the past sum; trained: B (it starts at zero).
    expect(await s.store.read("net.wk")).toEqual(w0);
    expect(await s.store.read("net.wq")).toEqual(q0);
    expect(past.every((v) => v === 0)).toBe(true);
    expect(b.some((v) => v !== 0)).toBe(true);

    await s.merge("kv");
    const [a2, b2, past2] = await Promise.all(
      ["kv.a.net.wk", "kv.b.net.wk", "kv.past.net.wk"].map((n) => s.store.read(n)),
    );
    const [E, r] = infos.get("kv.a.net.wk")!.type.shape;
    const D = past.length / E;
    for (let i = 0; i < E; i++)
      for (let j = 0; j < D; j++) {
        let ab = 0;
        for (let k = 0; k < r; k++) ab += a[i * r + k] * b[k * D + j];
        expect(past2[i * D + j]).toBeCloseTo(ab, 6);
      }
    expect(b2.every((v) => v === 0)).toBe(true);
    expect(a2).not.toEqual(a);
    expect(a2).not.toEqual(initialValue(infos.get("kv.a.net.wk")!, 0)); // a fresh draw per task
    expect((await s.store.read("opt.m.kv.b.net.wk")).every((v) => v === 0)).toBe(true);
    expect((await s.store.read("opt.v.kv.a.net.wk")).every((v) => v === 0)).toBe(true);

    // Task 2: the forget loss sees the past; the past itself stays frozen.
    const logs = await s.runStep("task", null as never);
    expect(logs.get("forget")).toBe(0); // B = 0 right after the merge
    await runTask();
    const logs2 = await s.runStep("task", null as never);
    expect(logs2.get("forget")!).toBeGreaterThan(0);
    expect(await s.store.read("kv.past.net.wk")).toEqual(past2);
    expect(await s.store.read("net.wk")).toEqual(w0);
  });

  it("reports a rank that does not fit the layer, and a rank below 1", () => {
    const msg = (rank: string) => {
      const ds = check(FILE, { subgroups: false });
      expect(ds).toEqual([]);
      try {
        // compile with the rank override
        return session(gpu(), FILE, { rank }, { runDir: runDir() }) && "";
      } catch (e) {
        return (e as Error).message;
      }
    };
    expect(msg("9")).toContain(
      "adapter kv: rank 9 is larger than the layer 'net.wk' [8, 6] allows (at most 6)",
    );
    expect(msg("0")).toContain("lora's rank must be at least 1, got 0");
  });
});
