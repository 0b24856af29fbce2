// The vitest stand-in that runs the GPU tests on the lent GPU machine must fail what vitest
// fails and pass what it passes, or a broken kernel there would read as a pass.
import { describe as vDescribe, expect as vExpect, it as vIt } from "vitest";
import * as shim from "../../scripts/device-test/vitest-shim.ts";

vDescribe("device test shim", () => {
  vIt("reports each failing matcher, passes the rest, runs hooks around a file", async () => {
    const events: string[] = [];
    shim.beginFile("shim");
    shim.beforeAll(() => void events.push("before"));
    shim.afterAll(() => void events.push("after"));
    shim.describe("bad", () => {
      shim.it("toBe", () => shim.expect(1).toBe(2));
      shim.it("toEqual", () => shim.expect(new Float32Array([1, 2])).toEqual([1, 3]));
      shim.it("rejects", () => shim.expect(Promise.resolve(1)).rejects.toThrow("x"));
      shim.it("not", () => shim.expect(3).not.toBeLessThan(4));
      shim.it("fail", () => shim.expect.fail("planted"));
    });
    shim.describe("good", () => {
      shim.it("toEqual", () => shim.expect(new Float32Array([1, 2])).toEqual([1, 2]));
      shim.it("rejects", () =>
        shim.expect(Promise.reject(new Error("boom x"))).rejects.toThrow(/boom/),
      );
      shim.it("order", () => shim.expect(events).toEqual(["before"]));
      shim.it("length", () => shim.expect([1, 2, 3]).toHaveLength(3));
    });
    const lines: string[] = [];
    vExpect(await shim.runAll((l) => lines.push(l))).toBe(5);
    vExpect(lines.filter((l) => l.startsWith("FAIL")).map((l) => l.split(":")[0])).toEqual([
      "FAIL  shim › bad › toBe",
      "FAIL  shim › bad › toEqual",
      "FAIL  shim › bad › rejects",
      "FAIL  shim › bad › not",
      "FAIL  shim › bad › fail",
    ]);
    vExpect(lines.at(-1)).toBe("4 passed, 5 failed");
    vExpect(events).toEqual(["before", "after"]);
  });
});
