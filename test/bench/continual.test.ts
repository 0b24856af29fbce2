// The forgetting benchmark's method list: every program and setting it would run
// type-checks, so a renamed setting fails here, not hours into a run. (The table and chart
// it writes are runtime/eval/compare.ts, tested in test/runtime/eval-compare.test.ts.)
import { describe, expect, it } from "vitest";
import { check } from "../../compiler/compile.ts";
import { METHODS, runDirOf } from "../../bench/continual.ts";

describe("bench/continual", () => {
  it("gives every method its own run directory", () => {
    const dirs = METHODS.map((m) => runDirOf("runs/b", m));
    expect(new Set(dirs).size).toBe(METHODS.length);
    for (const d of dirs) expect(d).toMatch(/^runs\/b\/[A-Za-z0-9_.-]+$/);
  });

  it.each(METHODS.map((m) => [m.name, m] as const))("%s type-checks with its settings", (_, m) => {
    const settings = new Map([
      ["tasks", "10"],
      ["steps", "200"],
      ...m.sets.map((s) => s.split("=") as [string, string]),
    ]);
    const diagnostics = check(m.file, { subgroups: false }, settings);
    expect(diagnostics.map((d) => d.message)).toEqual([]);
  });
});
