// End-to-end training through compile + Session on the device, and exact resumption from a
// checkpoint: a run killed after its checkpoint and resumed ends with the very same bits.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { useGpu } from "../gpu-fixture.ts";
import { removeRunDirs, runDir, session, train } from "./helpers.ts";

const MLP = "test/fixtures/runtime/tiny-mlp.cld";

const gpu = useGpu(removeRunDirs);

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe("training", () => {
  it("a two-layer MLP on MNIST lowers its loss", async () => {
    const { logs, session: s } = await train(
      gpu(),
      MLP,
      { steps: "30", half: "0" },
      { runDir: runDir() },
    );
    expect(logs).toHaveLength(30);
    const loss = logs.map((l) => l.get("loss")!);
    for (const x of loss) expect(Number.isFinite(x)).toBe(true);
    // Ten classes at random initialization: about ln 10.
    expect(loss[0]).toBeGreaterThan(1.9);
    expect(loss[0]).toBeLessThan(2.7);
    expect(mean(loss.slice(-5))).toBeLessThan(0.75 * loss[0]);
    // The optimizer's gradient norm is logged too (clip_norm is set).
    expect(logs[0].get("opt.grad_norm")).toBeGreaterThan(0);
    const params = await s.store.readAll();
    expect([...params.keys()]).toEqual([
      "net.h.b",
      "net.h.w",
      "net.linear.b",
      "net.linear.w",
      "opt.m.net.h.b",
      "opt.m.net.h.w",
      "opt.m.net.linear.b",
      "opt.m.net.linear.w",
      "opt.v.net.h.b",
      "opt.v.net.h.w",
      "opt.v.net.linear.b",
      "opt.v.net.linear.w",
    ]);
    expect(params.get("net.h.w")!.length).toBe(784 * 32);
  });
});

describe("resume", () => {
  const settings = { steps: "12", half: "6" };
  let reference: { params: Map<string, Float32Array | Int32Array>; loss: number[] };

  beforeAll(async () => {
    const a = await train(gpu(), MLP, settings, { runDir: runDir() });
    reference = {
      params: await a.session.store.readAll(),
      loss: a.logs.map((l) => l.get("loss")!),
    };
    expect(reference.loss).toHaveLength(12);
  });

  it("a run killed after its mid-way checkpoint and resumed ends bit-identical", async () => {
    const dir = runDir();
    // Killed two steps after the checkpoint at step 6: those two steps are lost work.
    const killed = session(gpu(), MLP, settings, {
      runDir: dir,
      onStep: () => {
        if (killed.logs.length === 8) throw new Error("killed");
      },
    });
    expect(await killed.session.start()).toBe("fresh");
    await expect(killed.session.run()).rejects.toThrow("killed");
    expect(killed.lines).toEqual([`checkpoint written: ${join(dir, "checkpoint.safetensors")}`]);
    expect(killed.logs.map((l) => l.get("loss"))).toEqual(reference.loss.slice(0, 8));

    const resumed = session(gpu(), MLP, settings, { runDir: dir, resume: true });
    expect(await resumed.session.start()).toBe("resumed");
    await resumed.session.run();
    // Only the steps after the checkpoint run again, with the same batches, noise and step counts.
    expect(resumed.logs.map((l) => l.get("loss"))).toEqual(reference.loss.slice(6));
    const params = await resumed.session.store.readAll();
    expect([...params.keys()]).toEqual([...reference.params.keys()]);
    for (const [name, want] of reference.params) {
      const got = params.get(name)!;
      expect(
        Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(
          Buffer.from(want.buffer, want.byteOffset, want.byteLength),
        ),
        `${name} differs`,
      ).toBe(true);
    }
  });

  it("resumes exactly from the automatic checkpoints a long loop writes", async () => {
    const dir = runDir();
    const auto = { steps: "12", half: "0" }; // no explicit checkpoint() call
    const a = await train(gpu(), MLP, auto, { runDir: runDir() });
    const want = await a.session.store.readAll();
    const killed = session(gpu(), MLP, auto, {
      runDir: dir,
      checkpointSeconds: 0.001, // after (almost) every iteration
      onStep: () => {
        if (killed.logs.length === 9) throw new Error("killed");
      },
    });
    await killed.session.start();
    await expect(killed.session.run()).rejects.toThrow("killed");
    const resumed = session(gpu(), MLP, auto, { runDir: dir, resume: true });
    expect(await resumed.session.start()).toBe("resumed");
    await resumed.session.run();
    const redone = resumed.logs.length;
    expect(redone).toBeGreaterThanOrEqual(4); // at least steps 9..12
    expect(redone).toBeLessThan(12);
    expect(resumed.logs.map((l) => l.get("loss"))).toEqual(
      a.logs.slice(12 - redone).map((l) => l.get("loss")),
    );
    const got = await resumed.session.store.readAll();
    for (const [name, w] of want)
      expect(
        Buffer.from(got.get(name)!.buffer).equals(Buffer.from(w.buffer)),
        `${name} differs`,
      ).toBe(true);
  });

  it("refuses to resume with different settings, naming what changed", async () => {
    const dir = runDir();
    await train(gpu(), MLP, { steps: "2", half: "1" }, { runDir: dir });
    expect(existsSync(join(dir, "checkpoint.safetensors"))).toBe(true);
    const other = session(
      gpu(),
      MLP,
      { steps: "2", half: "1", lr: "0.02" },
      { runDir: dir, resume: true },
    );
    await expect(other.session.start()).rejects.toThrow(
      `${join(dir, "checkpoint.safetensors")} was written with different settings (lr was 0.01, now 0.02); resume with the same --set values, or start over with --fresh or a new --run-dir`,
    );
    // Without resume the same directory starts over.
    const fresh = session(
      gpu(),
      MLP,
      { steps: "2", half: "1", lr: "0.02" },
      { runDir: dir, resume: false },
    );
    expect(await fresh.session.start()).toBe("fresh");
  });
});
