// Elaboration diagnostics: exact messages, file:line:col, notes, and the caret under the
// offending source. Every fixture lives in test/fixtures/elab/.
import { describe, expect, it } from "vitest";
import { check, compile } from "../../../compiler/compile.ts";
import { CompileError, type Diagnostic, formatDiagnostics } from "../../../compiler/diagnostics.ts";
import { loadProgram } from "../../../grammar/index.ts";

const DIR = "test/fixtures/elab";
const NO_GPU = { subgroups: false };

/** `cldc check` of a fixture: the diagnostics and their printed form. */
function checked(name: string): { file: string; ds: Diagnostic[]; text: string } {
  const file = `${DIR}/${name}`;
  const ds = check(file, NO_GPU);
  return { file, ds, text: formatDiagnostics(ds, loadProgram(file).sources) };
}

/** The CompileError `compile` throws for a fixture and settings, and its printed form. */
function compileError(
  name: string,
  settings: Record<string, string> = {},
): { file: string; e: CompileError; text: string } {
  const file = `${DIR}/${name}`;
  let caught: unknown = null;
  try {
    compile(file, new Map(Object.entries(settings)), NO_GPU);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(CompileError);
  const e = caught as CompileError;
  return {
    file,
    e,
    text: formatDiagnostics(e.diagnostics, e.sources ?? loadProgram(file).sources),
  };
}

/** `line:col message` of a diagnostic or note. */
const where = (d: { message: string; range: Diagnostic["range"] }) =>
  `${d.range ? `${d.range.start.line}:${d.range.start.column}` : "-"} ${d.message}`;

/** The printed block for one diagnostic: head line, quoted source line, caret line. */
function block(text: string, head: string): string[] {
  const lines = text.split("\n");
  const i = lines.indexOf(head);
  expect(lines, `no line '${head}' in:\n${text}`).toContain(head);
  return lines.slice(i, i + 3);
}

describe("unknown names", () => {
  it("suggests the builtin a misspelt call meant (a swap of two letters is one edit)", () => {
    const { file, ds, text } = checked("unknown-names.cld");
    expect(ds.map(where)).toEqual([
      "3:10 unknown name 'rleu' (did you mean 'relu'?)",
      "7:10 unknown name 'Mpl' (did you mean 'Mlp'?)",
    ]);
    expect(block(text, `${file}:3:10: error: unknown name 'rleu' (did you mean 'relu'?)`)).toEqual([
      `${file}:3:10: error: unknown name 'rleu' (did you mean 'relu'?)`,
      "   3 |   return rleu(x)",
      "     |          ^~~~",
    ]);
    expect(block(text, `${file}:7:10: error: unknown name 'Mpl' (did you mean 'Mlp'?)`)[2]).toBe(
      "     |          ^~~",
    );
  });

  it("suggests a data source and lists the available ones", () => {
    const { ds, text, file } = checked("unknown-data.cld");
    expect(ds).toHaveLength(1);
    expect(where(ds[0])).toMatch(
      /^2:16 unknown data source 'mnsit' \(did you mean 'mnist'\?\); available: .*\bmnist\b.*\bfashion_mnist\b/,
    );
    expect(block(text, `${file}:2:16: error: ${ds[0].message}`)[2]).toBe(
      "     |                ^~~~~",
    );
  });
});

describe("shapes", () => {
  it("names both operands of '@', their shapes and where each was made", () => {
    const { file, ds, text } = checked("shapes.cld");
    const mm = ds.find((d) => d.message.startsWith("matmul"))!;
    expect(where(mm)).toBe("6:10 matmul inner dimensions differ: [2, 4] @ [3, 5] (4 vs 3)");
    expect(mm.notes!.map(where)).toEqual([
      "4:15 the left side 'x' is [2, 4], from here",
      "5:3 the right side 'w' is [3, 5], from here",
    ]);
    expect(text).toContain(
      [
        `${file}:6:10: error: matmul inner dimensions differ: [2, 4] @ [3, 5] (4 vs 3)`,
        "   6 |   return x @ w",
        "     |          ^~~~~",
        `${file}:4:15: note: the left side 'x' is [2, 4], from here`,
        "   4 | block Project(x: [B, 4]) {",
        "     |               ^~~~~~~~~",
        `${file}:5:3: note: the right side 'w' is [3, 5], from here`,
        "   5 |   param w: [3, 5] = glorot",
        "     |   ^~~~~~~~~~~~~~~~~~~~~~~~",
      ].join("\n"),
    );
  });

  it("reports a block argument against its declared type, pointing at the argument", () => {
    const { file, ds, text } = checked("shapes.cld");
    const arg = ds.find((d) => d.message.startsWith("argument"))!;
    expect(where(arg)).toBe(
      "14:14 argument 'x' of Net: expected [B, 1, 28, 28] but got [2, 3, 28, 28]: dim 1 is 3, expected 1",
    );
    expect(arg.notes!.map(where)).toEqual(["9:14 the expected type is declared here"]);
    expect(block(text, `${file}:14:14: error: ${arg.message}`)).toEqual([
      `${file}:14:14: error: ${arg.message}`,
      "  14 |   return Net(images)",
      "     |              ^~~~~~",
    ]);
    expect(block(text, `${file}:9:14: note: the expected type is declared here`)[2]).toBe(
      "     |              ^~~~~~~~~~~~~~",
    );
  });

  it("reports a parameter created twice with different shapes at both calls", () => {
    const { file, ds, text } = checked("param-twice.cld");
    expect(ds.map(where)).toEqual([
      "3:3 parameter 'net.w' is [28, 8] here but [784, 8] where it was first created",
    ]);
    expect(ds[0].notes!.map(where)).toEqual([
      "16:18 created as [28, 8] by this call",
      "12:18 first created as [784, 8] by this call",
    ]);
    expect(block(text, `${file}:12:18: note: first created as [784, 8] by this call`)[2]).toBe(
      "     |                  ^~~~~~~~~~~~~~~~~~~~~~~~~~~",
    );
  });
});

describe("calls", () => {
  it("checks arity, names and missing arguments of blocks and builtins, one error per caller", () => {
    const { file, ds, text } = checked("calls.cld");
    expect(ds.map(where)).toEqual([
      "7:10 block Scale takes 2 arguments (x, by) but 3 positional arguments were given",
      "11:10 maximum takes at most 2 arguments (x, y), got 3",
      "15:19 block Scale has no parameter 'byy' (did you mean 'by'?)",
      "19:10 missing argument 'by' in call of block Scale",
      "23:10 slice is missing its argument 'end' (signature: slice(x, axis, start, end))",
      "27:10 '*' of an i32 tensor and float 0.5 would truncate 0.5 to an int",
    ]);
    expect(block(text, `${file}:15:19: error: ${ds[2].message}`)).toEqual([
      `${file}:15:19: error: ${ds[2].message}`,
      "  15 |   return Scale(x, byy: 2.0)",
      "     |                   ^~~",
    ]);
    expect(block(text, `${file}:7:10: error: ${ds[0].message}`)[2]).toBe(
      "     |          ^~~~~~~~~~~~~~~~~~",
    );
  });
});

describe("statements", () => {
  it("refuses 'minimize' outside a step", () => {
    const { file, ds, text } = checked("step-statements.cld");
    expect(ds.map(where)).toEqual(["3:3 'minimize' is only allowed in a step"]);
    expect(block(text, `${file}:3:3: error: 'minimize' is only allowed in a step`)[2]).toBe(
      "     |   " + "^" + "~".repeat(33),
    );
  });

  it("refuses to log a tensor that is not a scalar", () => {
    const { file, ds, text } = checked("log-tensor.cld");
    expect(ds.map(where)).toEqual([
      "12:5 'log' needs a scalar; 'logits' is [8, 10] (reduce it with mean or sum)",
    ]);
    expect(block(text, `${file}:12:5: error: ${ds[0].message}`)).toEqual([
      `${file}:12:5: error: ${ds[0].message}`,
      "  12 |     log logits",
      "     |     ^~~~~~~~~~",
    ]);
  });

  it("reports a block defined twice with a note at the first definition", () => {
    const { file, ds, text } = checked("duplicate-block.cld");
    expect(ds.map(where)).toEqual(["5:7 block 'Twice' is defined twice"]);
    expect(ds[0].notes!.map(where)).toEqual(["1:7 first defined here"]);
    expect(block(text, `${file}:1:7: note: first defined here`)[2]).toBe("     |       ^~~~~");
  });
});

describe("run blocks", () => {
  it("are checked before training: commands, names, scopes, assignments and evaluate", () => {
    const { file, ds, text } = checked("run-block.cld");
    expect(ds.map(where)).toEqual([
      "17:5 unknown step or command 'evalute' (did you mean 'evaluate'?)",
      "27:17 unknown name 'stpes' in run (did you mean 'steps'?)",
      "46:11 unknown name 'last' in run", // a loop body's let ends with the body
      "56:5 'totl' is not defined; declare it with 'let totl = ...'",
      "66:14 evaluate(nodata): the step reads no data source",
    ]);
    expect(block(text, `${file}:17:5: error: ${ds[0].message}`)).toEqual([
      `${file}:17:5: error: ${ds[0].message}`,
      "  17 |     evalute(look)",
      "     |     ^~~~~~~",
    ]);
  });
});

describe("--set", () => {
  it("names an unknown setting, suggests the close one and points at the program", () => {
    const { file, e, text } = compileError("settings.cld", { stpes: "5" });
    expect(e.diagnostics.map(where)).toEqual([
      "- program Settings has no setting 'stpes' (did you mean 'steps'?); settings: steps, batch, lr, shuffle",
    ]);
    expect(text.split("\n")[0]).toBe(
      "error: program Settings has no setting 'stpes' (did you mean 'steps'?); settings: steps, batch, lr, shuffle",
    );
    expect(text).toContain(`${file}:6:9: note: program Settings is declared here`);
  });

  it("refuses a value of the wrong type, pointing at the setting's declaration", () => {
    const { file, e, text } = compileError("settings.cld", { steps: "abc" });
    expect(e.diagnostics.map(where)).toEqual(["- --set steps=abc: expected an int"]);
    expect(text.split("\n")).toEqual([
      "error: --set steps=abc: expected an int",
      `${file}:6:18: note: setting 'steps' is declared here`,
      "   6 | program Settings(steps: int = 3, batch: int = 8, lr: float = 0.01, shuffle: bool = true) {",
      "     |                  ^~~~~~~~~~~~~~",
    ]);
    expect(compileError("settings.cld", { lr: "fast" }).e.message).toBe(
      "--set lr=fast: expected a number",
    );
    expect(compileError("settings.cld", { shuffle: "yes" }).e.message).toBe(
      "--set shuffle=yes: expected true or false",
    );
    expect(compileError("settings.cld", { steps: "1e99" }).e.message).toBe(
      "--set steps=1e99: expected an int",
    );
    expect(compileError("settings.cld", { steps: "99999999999999999999" }).e.message).toBe(
      "--set steps=99999999999999999999: expected an int",
    );
  });

  it("applies a good value and checks it where it is used", () => {
    const c = compile(`${DIR}/settings.cld`, new Map([["batch", "4"]]), NO_GPU);
    expect(c.program.data.get("train")!.fields.x.shape).toEqual([4, 1, 28, 28]);
    const { file, e } = compileError("settings.cld", { batch: "0" });
    expect(e.diagnostics.map(where)).toEqual(["8:29 mnist's 'batch' must be positive"]);
    expect(e.diagnostics[0].range!.file).toBe(file);
  });
});

describe("imports", () => {
  it("reports a missing import at the import string", () => {
    const { file, ds, text } = checked("missing-import.cld");
    expect(ds.map(where)).toEqual([
      "1:8 cannot find file 'layers-that-do-not-exist.cld' (imported here)",
    ]);
    expect(text.split("\n").slice(0, 3)).toEqual([
      `${file}:1:8: error: cannot find file 'layers-that-do-not-exist.cld' (imported here)`,
      '   1 | import "layers-that-do-not-exist.cld"',
      "     |        ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~",
    ]);
  });
});
