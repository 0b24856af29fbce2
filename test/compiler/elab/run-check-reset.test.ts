// `reset(opt)` is checked with the rest of the run block: it takes one of the program's
// optimizers, and a mistake is one line at file:line:col before any training starts.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { check } from "../../../compiler/compile.ts";

const FILE = "test/fixtures/elab/reset.cld";

describe("reset in run blocks", () => {
  it("takes exactly one optimizer of the program, with a did-you-mean", () => {
    const ds = check(FILE, { subgroups: false }).map(
      (d) => `${d.range?.start.line}:${d.range?.start.column} ${d.message}`,
    );
    expect(ds).toEqual([
      "14:11 reset takes an optimizer: reset(opt)",
      "28:5 reset takes an optimizer: reset(opt)",
      "40:11 reset takes an optimizer (did you mean 'adam'?)",
      "51:5 reset takes an optimizer: reset(opt)",
      "62:11 reset takes an optimizer, and this program declares none",
    ]);
  });

  it("cldc check reports them at file:line:col, without a stack trace", () => {
    const r = spawnSync(process.execPath, ["bin/cldc.js", "check", FILE], { encoding: "utf8" });
    expect(r.status).toBe(1);
    const errors = r.stderr.split("\n").filter((l) => l.includes(": error: "));
    expect(errors).toEqual([
      `${FILE}:14:11: error: reset takes an optimizer: reset(opt)`,
      `${FILE}:28:5: error: reset takes an optimizer: reset(opt)`,
      `${FILE}:40:11: error: reset takes an optimizer (did you mean 'adam'?)`,
      `${FILE}:51:5: error: reset takes an optimizer: reset(opt)`,
      `${FILE}:62:11: error: reset takes an optimizer, and this program declares none`,
    ]);
    expect(r.stderr).not.toMatch(/\n\s+at .*\.ts:\d+/);
  });
});
