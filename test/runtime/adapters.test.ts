// LoRA / C-LoRA adapters end to end: only A and B train, the base weight and the frozen
// past sum stay put, merge() folds A·B into past and restarts A, B and their Adam state,
// and the forget loss (written in the program) is zero until a past exists.
import { describe, expect, it } from "vitest";
import { check } from "../../compiler/compile.ts";
import { useGpu } from "../gpu-fixture.ts";
import { initialValue } from "../../runtime/params.ts";
import { loadCheckpoint } from "../../runtime/checkpoint.ts";
import { runDir, session, train } from "./helpers.ts";

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

  it("with keep: N, every merge also stores that task's A and B; their products sum to past", async () => {
    const KEEP = "test/fixtures/adapters/clora-keep.cld";
    const dir = runDir();
    const t = session(gpu(), KEEP, {}, { runDir: dir });
    const s = t.session;
    await s.start();
    const infos = s.compiled.program.registry.params;
    expect(infos.get("kv.kept_a.net.wk")!.type.shape).toEqual([2, 8, 2]);
    expect(infos.get("kv.kept_b.net.wk")!.type.shape).toEqual([2, 2, 6]);
    const trained: Float32Array[][] = [];
    for (let task = 0; task < 2; task++) {
      for (let i = 0; i < 3; i++) await s.runStep("task", null as never);
      trained.push(await Promise.all(["kv.a.net.wk", "kv.b.net.wk"].map((n) => s.store.read(n))));
      await s.merge("kv");
      expect(Array.from(await s.store.read("kv.merged"))).toEqual([task + 1]);
    }
    const keptA = await s.store.read("kv.kept_a.net.wk");
    const keptB = await s.store.read("kv.kept_b.net.wk");
    const past = await s.store.read("kv.past.net.wk");
    for (let task = 0; task < 2; task++) {
      expect(keptA.slice(task * 16, task * 16 + 16)).toEqual(trained[task][0]);
      expect(keptB.slice(task * 12, task * 12 + 12)).toEqual(trained[task][1]);
    }
    expect(trained[1][1].some((v) => v !== 0)).toBe(true); // task 2 trained its own B
    // Σ_t A_t B_t, in float64, is the frozen past sum the model uses.
    for (let i = 0; i < 8; i++)
      for (let j = 0; j < 6; j++) {
        let sum = 0;
        for (let task = 0; task < 2; task++)
          for (let k = 0; k < 2; k++)
            sum += keptA[task * 16 + i * 2 + k] * keptB[task * 12 + k * 6 + j];
        expect(past[i * 6 + j]).toBeCloseTo(sum, 5);
      }
    // The resume checkpoint holds them too.
    await s.checkpoint();
    const ck = loadCheckpoint(`${dir}/checkpoint.safetensors`)!;
    expect(ck.tensors.get("kv.kept_b.net.wk")).toEqual(keptB);
  });

  it("refuses a merge beyond keep at the merge's line, and a negative keep", async () => {
    const KEEP = "test/fixtures/adapters/clora-keep.cld";
    await expect(
      train(gpu(), KEEP, { tasks: "3", steps: "1" }, { runDir: runDir() }),
    ).rejects.toThrow(
      "merge(kv): the adapter keeps the factors of 2 tasks (lora(..., keep: 2)) and this is merge 3; give keep at least the number of tasks",
    );
    const ds = check(KEEP, { subgroups: false }, new Map([["keep", "-1"]]));
    expect(ds.map((d) => d.message)).toEqual([
      "lora's keep must be 0 or more (tasks whose factors to keep), got -1",
    ]);
  });
});
