// A quick run of the front-end fuzzer (the long one is `npm run fuzz`): random token streams
// and mutations of the repository's .cld files must end in diagnostics or success through
// `cldc check`'s path, never in an exception, a stack overflow or a hang.
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { makeScratch, runCase, seedFiles, type FuzzCase } from "../../tools/fuzz/check-text.ts";
import { mutatedFile, tokenStream } from "../../tools/fuzz/generators.ts";
import { parseFile } from "../../grammar/index.ts";
import { check } from "../../compiler/compile.ts";
import { MAX_AST_DEPTH, MAX_BRACKET_DEPTH, MAX_CHAIN } from "../../grammar/nesting.ts";

const root = process.cwd();
const scratch = makeScratch(root);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// The big programs (pre-training, C-LoRA) take about a second each to plan; the quick run
// mutates the models and the small examples, `npm run fuzz` all of them.
const all = seedFiles(root);
const quick = Object.fromEntries(
  Object.entries(all).filter(([p]) => p.startsWith("models/") || p === "examples/mnist.cld"),
);

const survives = (c: FuzzCase) => {
  const o = runCase(c, scratch, 10_000);
  if (!o.ok) throw new Error(`${c.label}\n${o.failure}`);
};

describe("front-end fuzzing", () => {
  it("random token streams end in diagnostics, not crashes", () => {
    fc.assert(fc.property(tokenStream, survives), { numRuns: 250, seed: 7 });
  });

  it("mutated model and example files end in diagnostics, not crashes", () => {
    fc.assert(fc.property(mutatedFile(quick), survives), { numRuns: 150, seed: 11 });
  });
});

describe("nesting limits (found by the fuzzer: stack overflows)", () => {
  const body = (e: string) => `block F(x: [B]) -> [B] {\n  return ${e}\n}\n`;
  const messages = (src: string) => parseFile(src, "t.cld").diagnostics.map((d) => d.message);

  it("reports brackets nested too deeply instead of overflowing the stack", () => {
    const deep = "(".repeat(5000) + "x" + ")".repeat(5000);
    expect(messages(body(deep))).toEqual([
      `brackets nested more than ${MAX_BRACKET_DEPTH} levels deep`,
    ]);
    const ok = "(".repeat(MAX_BRACKET_DEPTH - 2) + "x" + ")".repeat(MAX_BRACKET_DEPTH - 2);
    expect(messages(body(ok))).toEqual([]);
  });

  it("reports long prefix and '**' chains", () => {
    expect(messages(body("-".repeat(3000) + "x"))).toEqual([
      `more than ${MAX_CHAIN} prefix operators in a row`,
    ]);
    expect(messages(body("x" + " ** 1".repeat(3000)))).toEqual([
      `more than ${MAX_CHAIN} '**' operators in one expression`,
    ]);
    expect(messages(body("-".repeat(MAX_CHAIN) + "x" + " ** 1".repeat(MAX_CHAIN)))).toEqual([]);
  });

  it("reports syntax trees deeper than the elaborator can walk", () => {
    const d = parseFile(body("x" + " + 1".repeat(20_000)), "t.cld").diagnostics;
    expect(d.map((x) => x.message)).toEqual([
      `expression nested too deeply (more than ${MAX_AST_DEPTH} levels); split it with 'let'`,
    ]);
    expect(d[0].range?.start.line).toBe(2);
  });

  it("caps compile-time loop unrolling, nested loops included", () => {
    const nested = "for i in 0..10 {\n".repeat(6) + "let z = i\n" + "}\n".repeat(6);
    const o = runCase(
      {
        label: "nested loops",
        dir: "models",
        bytes: Buffer.from(body(`x`).replace("return", nested + "return")),
      },
      scratch,
      10_000,
    );
    expect(o).toMatchObject({ ok: true, diagnostics: 1 });
    const huge = runCase(
      {
        label: "huge range",
        dir: "models",
        bytes: Buffer.from(body("x").replace("return", "for i in 0..99999999999999 {\n}\nreturn")),
      },
      scratch,
      10_000,
    );
    expect(huge).toMatchObject({ ok: true, diagnostics: 1 });
  });
});

describe("number limits (found by the fuzzer: a setting of 1e308 crashed autodiff)", () => {
  it("rejects an int setting beyond 2^53 with a diagnostic at the setting", () => {
    const file = join(scratch, "models", "big-int.cld");
    writeFileSync(file, "program P(batch: int = 1.7976931348623157e308) {\n  run {}\n}\n");
    const d = check(file, { subgroups: false });
    expect(d.map((x) => x.message)).toEqual([
      "setting 'batch' is too large for an int: 1.7976931348623157e+308 (the limit is 2^53 - 1)",
    ]);
    expect(d[0].range?.start).toMatchObject({ line: 1, column: 11 });
  });
});
