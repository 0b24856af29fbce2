// The host interpreter of `run` blocks: variable scopes, and the state a resumed run needs
// beyond tensors (evaluate() results).
import { describe, expect, it } from "vitest";
import { useGpu } from "../gpu-fixture.ts";
import { removeRunDirs, runDir, session, train } from "./helpers.ts";

const gpu = useGpu(removeRunDirs);

describe("run blocks", () => {
  it("an assignment in a loop body updates the variable outside the loop", async () => {
    const t = await train(gpu(), "test/fixtures/runtime/counter.cld", {}, { runDir: runDir() });
    expect(t.lines).toEqual(["total 3"]);
    const t5 = await train(
      gpu(),
      "test/fixtures/runtime/counter.cld",
      { n: "5" },
      { runDir: runDir() },
    );
    expect(t5.lines).toEqual(["total 10"]);
  });

  it("a resumed run still knows what evaluate() measured before its checkpoint", async () => {
    const file = "test/fixtures/runtime/evaluate-resume.cld";
    const dir = runDir();
    const first = session(
      gpu(),
      file,
      {},
      {
        runDir: dir,
        onStep: () => {
          if (first.logs.length === 2) throw new Error("killed");
        },
      },
    );
    await first.session.start();
    await expect(first.session.run()).rejects.toThrow("killed");
    const accuracy = first.session.results.get("accuracy")!;
    expect(accuracy).toBeGreaterThanOrEqual(0);
    expect(accuracy).toBeLessThanOrEqual(1);
    expect(first.lines[0]).toBe(`evaluate test_step: accuracy = ${accuracy.toFixed(4)}`);

    const resumed = session(gpu(), file, {}, { runDir: dir, resume: true });
    expect(await resumed.session.start()).toBe("resumed");
    await resumed.session.run();
    expect(resumed.logs).toHaveLength(1); // only the step after the checkpoint
    expect(resumed.lines).toEqual([`accuracy ${accuracy}`]);
  });
});
