// require(cond, "message") in run blocks: refused at compile time when the condition depends
// only on settings (so `cldc check --set` and `cldc train` stop before any training), and
// checked by the host when it depends on the run (a loop variable).
import { readFileSync, writeFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { check, compile } from "../../../compiler/compile.ts";
import { CompileError, type Diagnostic } from "../../../compiler/diagnostics.ts";
import { Gpu } from "../../../runtime/gpu.ts";
import { removeRunDirs, runDir, train } from "../../runtime/helpers.ts";

const FIXTURE = "test/fixtures/elab/require.cld";
const NO_GPU = { subgroups: false };

const checked = (file: string, settings: Record<string, string>) =>
  check(file, NO_GPU, new Map(Object.entries(settings)));
const where = (d: Diagnostic) => `${d.range?.start.line}:${d.range?.start.column} ${d.message}`;

/** line:col of the first occurrence of `text` in a file, found independently of the compiler. */
function locate(file: string, text: string): string {
  const lines = readFileSync(file, "utf8").split("\n");
  const line = lines.findIndex((l) => l.includes(text));
  expect(line, `${text} not in ${file}`).toBeGreaterThanOrEqual(0);
  return `${line + 1}:${lines[line].indexOf(text) + 1}`;
}

afterAll(() => removeRunDirs());

describe("require", () => {
  it("passes with the defaults", () => {
    expect(checked(FIXTURE, {})).toEqual([]);
  });

  it("reports a false settings condition at the require call, with its message", () => {
    const ds = checked(FIXTURE, { lambda: "-1" });
    expect(ds.map(where)).toEqual([
      `${locate(FIXTURE, 'require(lambda >= 0.0, "lambda must be >= 0")')} lambda must be >= 0`,
    ]);
    expect(ds[0].severity).toBe("error");
    // compile (what `cldc train` does first) refuses the same way.
    expect(() => compile(FIXTURE, new Map([["lambda", "-1"]]), NO_GPU)).toThrow(CompileError);
  });

  it("reads data-source constants: tasks <= seq.count", () => {
    expect(checked(FIXTURE, { tasks: "3" }).map(where)).toEqual([
      `${locate(FIXTURE, "require(tasks <= seq.count")} tasks must be at most the number of names`,
    ]);
    expect(checked(FIXTURE, { tasks: "3", names: "octopus,snail,koala" })).toEqual([]);
  });

  it("refuses --set lambda=-1 on examples/clora.cld (and its baselines' bad tasks)", () => {
    const file = "examples/clora.cld";
    expect(checked(file, { lambda: "-1" }).map(where)).toEqual([
      `${locate(file, "require(lambda >= 0.0")} lambda must be >= 0`,
    ]);
    expect(checked("examples/ewc.cld", { tasks: "0" }).map((d) => d.message)).toEqual([
      "tasks must be >= 1",
    ]);
    expect(checked("examples/lora_seq.cld", { steps: "0" }).map((d) => d.message)).toEqual([
      "steps must be >= 1",
    ]);
  });

  it("rejects a malformed require", () => {
    const src = (body: string) =>
      `program P(x: int = 1) {\n  data seq = concepts(names: "octopus", size: 8, batch: 2)\n  run {\n    ${body}\n  }\n}\n`;
    const messages = (body: string) => {
      const file = `${runDir()}/p.cld`;
      writeFileSync(file, src(body));
      return checked(file, {}).map(where);
    };
    expect(messages("require(x >= 0)")).toEqual([
      '4:5 require takes a condition and a message: require(lambda >= 0.0, "lambda must be >= 0")',
    ]);
    expect(messages('require(x, "no")')).toEqual([
      "4:13 require's condition must be a comparison, got int",
    ]);
    expect(messages('require(seq.cont >= 1, "no")')).toEqual([
      "4:17 data source seq has no constant 'cont' (did you mean 'count'?)",
    ]);
    expect(messages('require(y >= 1, "no")')).toEqual([
      "4:13 unknown name 'y' in run (did you mean 'x'?)",
    ]);
  });

  it("checks a condition on a loop variable when the run reaches it", async () => {
    expect(checked(FIXTURE, { limit: "1" })).toEqual([]); // not decidable at compile time
    process.env.XDG_RUNTIME_DIR ??= "/tmp/xdg-cld-0";
    const gpu = await Gpu.open();
    try {
      const ok = await train(gpu, FIXTURE, {}, { runDir: runDir() });
      expect(ok.lines).toEqual(["task 0", "task 1"]);
      const run = train(gpu, FIXTURE, { limit: "1" }, { runDir: runDir() });
      const err = await run.then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(CompileError);
      expect((err as CompileError).diagnostics.map(where)).toEqual([
        `${locate(FIXTURE, "require(t < limit")} t must stay below limit`,
      ]);
    } finally {
      gpu.destroy();
    }
  });
});
