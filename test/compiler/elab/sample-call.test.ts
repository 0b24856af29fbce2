// Static checks of the run-block command sample(...): a wrong step, option or prompt is
// reported at its source position before training starts, not after 1000 steps.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { compile } from "../../../compiler/compile.ts";
import { CompileError, formatDiagnostics } from "../../../compiler/diagnostics.ts";

const FIXTURE = "test/fixtures/sample/tiny-pretrain.cld";
const SOURCE = readFileSync(FIXTURE, "utf8");
const CALL = 'sample(denoise, "grinning face", "red apple", "cat", n: 4, steps: 4, seed: 5)';
const dir = mkdtempSync(join(tmpdir(), "cld-sample-call-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The first diagnostic (FILE:LINE:COL: error: ...) of the fixture with its call replaced. */
function diagnostic(call: string): string {
  expect(SOURCE).toContain(CALL);
  const file = join(dir, "p.cld");
  writeFileSync(file, SOURCE.replace(CALL, call));
  try {
    compile(file, new Map(), { subgroups: false });
  } catch (e) {
    if (!(e instanceof CompileError)) throw e;
    return formatDiagnostics(e.diagnostics, e.sources ?? new Map()).split("\n")[0];
  }
  return "ok";
}

const line = SOURCE.split("\n").findIndex((l) => l.includes(CALL)) + 1;
const col = (call: string, part: string) =>
  SOURCE.split("\n")[line - 1].indexOf(CALL) + call.indexOf(part) + 1;

describe("sample(...) checks", () => {
  it("accepts the fixture's call and the prompts: form", () => {
    expect(diagnostic(CALL)).toBe("ok");
    expect(diagnostic('sample(denoise, prompts: "cat|red apple", guidance: 1.5)')).toBe("ok");
  });

  it.each([
    ['sample(denoise, "cat", nn: 4)', "nn: 4", "sample has no option 'nn' (did you mean 'n'?)"],
    [
      'sample(denoise, "cat zorbleflux")',
      '"cat zorbleflux"',
      'sample prompt "cat zorbleflux": unknown word "zorbleflux"',
    ],
    ['sample(train, "cat")', "train", "sample(train): the step reads a data source or trains"],
    [
      'sample(denoize, "cat")',
      "denoize",
      "sample: unknown step 'denoize' (did you mean 'denoise'?)",
    ],
    ['sample(denoise, 3, "cat")', "3", "a sample prompt is a string"],
    ['sample(denoise, "cat", steps: "ten")', '"ten"', "sample's steps is a number"],
    ["sample(denoise, n: 2)", "sample(", "sample needs at least one prompt"],
  ])("%s", (call, at, message) => {
    const d = diagnostic(call);
    expect(d).toContain(`:${line}:${col(call, at)}: error: ${message}`);
  });
});
