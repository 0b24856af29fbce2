// Syntax errors: human messages, precise positions, several errors per file, no throwing.
import { describe, it, expect } from "vitest";
import { parseFile } from "../../grammar/index.ts";
import { formatDiagnostics } from "../../compiler/diagnostics.ts";

/** `line:col message` for each diagnostic of a snippet. */
function errors(text: string): string[] {
  return parseFile(text, "t.cld").diagnostics.map(
    (d) => `${d.range?.start.line}:${d.range?.start.column} ${d.message}`,
  );
}

describe("brackets", () => {
  it("names the unclosed bracket of a call and points after the last token", () => {
    expect(errors("block A(x: [N, 4]) {\n  let y = relu(x @ w\n  return y\n}\n")).toEqual([
      "2:21 expected ')' to close '(' opened at 2:15",
    ]);
  });

  it("reports a missing '}' at the end of the file", () => {
    expect(errors("block A() {\n  return 1\n")).toEqual([
      "2:11 expected '}' to close '{' opened at 1:11",
    ]);
  });

  it("reports a missing ']' and a missing ')' before '{'", () => {
    expect(errors("block A() {\n  return [1, 2\n}\n")).toEqual([
      "2:15 expected ']' to close '[' opened at 2:10",
    ]);
    expect(errors("block A(x: [N, 4] {\n  return x\n}\n")).toEqual([
      "1:19 expected ')' to close '(' opened at 1:8",
    ]);
  });

  it("suggests a comma between call arguments", () => {
    expect(errors("block A() {\n  let y = f(a b)\n}\n")).toEqual([
      "2:15 expected ',' or ')', found 'b'",
    ]);
  });

  it("reports a stray closer once", () => {
    expect(errors("block A() {\n  return 1\n}\n}\n")).toEqual([
      "4:1 unexpected '}' with no matching '{'",
    ]);
    expect(errors("block A() {\n  let y = f(x))\n  return y\n}\n")).toEqual([
      "2:15 unexpected ')' with no matching '('",
    ]);
  });

  it("attaches a note at the opening bracket", () => {
    const [d] = parseFile("block A() {\n  let y = f(a,\n}\n", "t.cld").diagnostics;
    expect(d.notes?.[0]).toMatchObject({
      message: "'(' opened here",
      range: { start: { line: 2, column: 12 } },
    });
  });
});

describe("several errors", () => {
  it("reports every error in one file", () => {
    const text =
      "block A() {\n  let y = \n  let z = 3 +\n  return [1, 2\n}\nblock B(x: int {\n  return x\n}\n";
    expect(errors(text)).toEqual([
      "2:10 expected an expression after '='",
      "3:14 expected an expression after '+'",
      "4:15 expected ']' to close '[' opened at 4:10",
      "6:16 expected ')' to close '(' opened at 6:8",
    ]);
  });

  it("keeps the well-formed parts of the tree", () => {
    const r = parseFile(
      "block A() {\n  let y = (1 +\n  return 2\n}\nblock B() { return 1 }\n",
      "t.cld",
    );
    expect(r.diagnostics).toHaveLength(1);
    expect(r.ast?.decls.map((d) => d.name.name)).toEqual(["A", "B"]);
  });
});

describe("lexical errors", () => {
  it("reports a bad character once, without follow-on syntax errors", () => {
    expect(errors("block A() {\n  let y = x $ 2\n  return y\n}\n")).toEqual([
      "2:13 unexpected character '$'",
    ]);
  });

  it("hints at '&&' and double quotes", () => {
    expect(errors("block A() {\n  return a & b\n}\n")).toEqual([
      "2:12 unexpected character '&' (did you mean '&&'?)",
    ]);
    expect(errors("block A() {\n  return 'hi'\n}\n")).toEqual([
      `2:10 strings use double quotes: "hi"`,
    ]);
  });

  it("reports an unterminated string and goes on parsing", () => {
    const r = parseFile('block A() {\n  let s = "abc\n  return s\n}\n', "t.cld");
    expect(
      r.diagnostics.map((d) => `${d.range?.start.line}:${d.range?.start.column} ${d.message}`),
    ).toEqual([`2:11 unterminated string: missing closing '"'`]);
    const let_ = r.ast?.decls[0].kind === "Block" ? r.ast.decls[0].body[0] : null;
    expect(let_).toMatchObject({ kind: "Let", value: { kind: "String", value: "abc" } });
  });

  it("reports an unterminated block comment", () => {
    expect(errors("block A() { return 1 }\n/* never closed\nblock B() {")).toEqual([
      "2:1 unterminated comment: '/*' has no matching '*/'",
    ]);
  });
});

describe("other messages", () => {
  it("asks for a separator between statements on one line", () => {
    expect(errors("block A() {\n  let a = 1 2\n}\n")).toEqual([
      "2:13 expected a new line or ';' before '2'",
    ]);
  });

  it("explains keywords used as names", () => {
    expect(errors("block A() {\n  let data = 1\n}\n")).toEqual([
      "2:7 expected a name after 'let', but 'data' is a keyword",
    ]);
  });

  it("explains what a program may contain", () => {
    expect(errors("program P() {\n  let a = 1\n  data d = foo\n}\n")).toEqual([
      "2:3 expected a program member (model, data, optimizer, step or run), found keyword 'let'",
      `3:12 expected a call after '=', like 'mnist(split: "train")'`,
    ]);
  });

  it("rejects junk at top level and misplaced imports", () => {
    expect(errors("let x = 1\n")).toEqual([
      "1:1 expected 'block', 'program' or 'import' at top level, found keyword 'let'",
    ]);
    expect(errors('block A() { }\nimport "x.cld"\n')).toEqual([
      "2:1 imports must come before all blocks and programs",
    ]);
  });

  it("rejects data sources as types outside steps, and `...` after the first dim", () => {
    expect(errors("block A(x: train, y: [N, ...]) { }")).toEqual([
      "1:12 'train' is not a type; expected int, float, bool, string or a tensor shape like [N, 4]",
      "1:26 '...' may only be the first dimension of a shape",
    ]);
    expect(errors("program P() {\n  step s(b: train = 1) { }\n}\n")).toEqual([
      "2:21 a step parameter bound to a data source cannot have a default",
    ]);
  });

  it("never throws, whatever the input", () => {
    for (const junk of [
      "",
      "}",
      "((((",
      '"',
      "/*",
      "block",
      "block A(",
      "program P() { step s(",
      "@@ .. ... -> ;;",
    ]) {
      const r = parseFile(junk, "t.cld");
      expect(r.diagnostics.every((d) => !d.message.startsWith("internal"))).toBe(true);
    }
    expect(parseFile("", "t.cld")).toMatchObject({
      diagnostics: [],
      ast: { imports: [], decls: [] },
    });
  });
});

describe("formatting", () => {
  it("prints the source line and a caret under the error", () => {
    const text = "block A() {\n  let y = x $ 2\n}\n";
    const out = formatDiagnostics(parseFile(text, "t.cld").diagnostics, new Map([["t.cld", text]]));
    const lines = out.split("\n");
    expect(lines[0]).toBe("t.cld:2:13: error: unexpected character '$'");
    expect(lines[1]).toBe("   2 |   let y = x $ 2");
    // The caret sits under the `$`.
    expect(lines[2].indexOf("^")).toBe(lines[1].indexOf("$"));
  });

  it("points just past the last token for a missing closer", () => {
    const text = "block A() {\n  let y = f(a, b\n}\n";
    const out = formatDiagnostics(parseFile(text, "t.cld").diagnostics, new Map([["t.cld", text]]));
    const lines = out.split("\n");
    expect(lines[0]).toBe("t.cld:2:17: error: expected ')' to close '(' opened at 2:12");
    expect(lines[2].indexOf("^")).toBe(lines[1].indexOf("b") + 1);
    expect(out).toContain("t.cld:2:12: note: '(' opened here");
  });
});

describe("long source lines", () => {
  it("quotes a window around the caret, not the whole line", () => {
    const line = "let x = " + "1 + ".repeat(5000) + "@";
    const text = `block A() {\n  ${line}\n}\n`;
    const r = parseFile(text, "t.cld");
    expect(r.diagnostics.length).toBeGreaterThan(0);
    const out = formatDiagnostics(r.diagnostics.slice(0, 1), new Map([["t.cld", text]]));
    const [, quoted, caret] = out.split("\n");
    expect(quoted.length).toBeLessThan(200);
    expect(quoted).toMatch(/^ {3}2 \| …[ +1]*@$/);
    // The caret sits under the offending '@' in the excerpt.
    expect(quoted[caret.indexOf("^")]).toBe("@");
  });
});
