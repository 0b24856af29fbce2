// `cldc fmt` and the prettier plugin for .cld: the repository's files are its reference
// style, so scrambling their layout and formatting them again must give them back.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as prettier from "prettier";
import { afterAll, describe, expect, it, vi } from "vitest";
import { cmdFmt } from "../../cli/fmt-command.ts";
import { parseFile } from "../../grammar/index.ts";
import { CldLexer } from "../../grammar/lexer.ts";
import { formatCld } from "../../tools/prettier-plugin-cld/layout.ts";
import { mutatedFile } from "../../tools/fuzz/generators.ts";
import fc from "fast-check";
import cldPlugin from "../../tools/prettier-plugin-cld/index.mjs";
import { childTimeout } from "../timeouts.ts";

const ROOT = join(import.meta.dirname, "../..");

/** Every .cld file of the repository that parses (one fixture keeps its syntax errors on purpose). */
function repoCldFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (p.endsWith(".cld")) out.push(p);
    }
  };
  for (const d of ["models", "examples", "test/fixtures"]) walk(d);
  return out.filter((p) => parseFile(read(p), p).diagnostics.length === 0);
}
const read = (p: string) => readFileSync(join(ROOT, p), "utf8");
const files = repoCldFiles();

/** Tokens and comments in order, each as `Kind:text`. */
function tokens(text: string): string[] {
  const r = CldLexer.tokenize(text);
  return (
    [...r.tokens, ...(r.groups["comments"] ?? [])]
      .sort((a, b) => a.startOffset - b.startOffset)
      // Trailing whitespace is the one thing a formatter may drop from a comment.
      .map((t) => `${t.tokenType.name}:${t.image.replace(/[ \t]+$/, "")}`)
  );
}

/** The same tokens on the same lines, but no indentation and 1-3 spaces between all tokens. */
function scramble(text: string): string {
  const r = CldLexer.tokenize(text);
  const items = [...r.tokens, ...(r.groups["comments"] ?? [])].sort(
    (a, b) => a.startOffset - b.startOffset,
  );
  let out = "\n\n";
  let line = 1;
  let k = 0;
  for (const t of items) {
    if (t.startLine! > line) out += "\n".repeat(t.startLine! - line) + " ".repeat(k++ % 5);
    else if (out.trim()) out += " ".repeat(1 + (k++ % 3));
    out += t.image;
    line = t.endLine ?? t.startLine!;
  }
  return out + "\n\n\n";
}

/** The AST as JSON without source ranges. */
const shape = (text: string) =>
  JSON.stringify(parseFile(text, "x.cld").ast, (k, v) => (k === "range" ? undefined : v));

describe("cld formatter", () => {
  it("finds the repository's .cld files", () => {
    expect(files.length).toBeGreaterThan(20);
    expect(files).toContain("models/unet.cld");
  });

  it("leaves every repository file as it is (they are formatted) and is idempotent", () => {
    for (const f of files) {
      const once = formatCld(read(f), f);
      expect(once, f).toBe(read(f));
      expect(formatCld(once, f), f).toBe(once);
    }
  });

  it("restores every repository file from a scrambled layout", () => {
    // Trailing comments keep their distance from the code, which scrambling changes.
    const norm = (s: string) => s.replace(/ +\/\//g, " //");
    for (const f of files) {
      const messy = scramble(read(f));
      expect(messy).not.toBe(read(f));
      const out = formatCld(messy, f);
      expect(norm(out), f).toBe(norm(read(f)));
      expect(formatCld(out, f), f).toBe(out);
    }
  });

  it("keeps every token and comment, and the syntax tree, of a scrambled file", () => {
    for (const f of files) {
      const messy = scramble(read(f));
      const out = formatCld(messy, f);
      expect(tokens(out)).toEqual(tokens(messy));
      expect(shape(out)).toBe(shape(messy));
    }
  });

  it("is idempotent and keeps tokens and syntax tree on fuzzed files that parse", () => {
    const seeds = Object.fromEntries(files.slice(0, 16).map((f) => [f, read(f)]));
    let parsed = 0;
    fc.assert(
      fc.property(mutatedFile(seeds), (c) => {
        const text = Buffer.from(c.bytes).toString("utf8");
        if (parseFile(text, "x.cld").diagnostics.length) return;
        parsed++;
        const messy = scramble(text);
        const out = formatCld(messy);
        expect(formatCld(out)).toBe(out);
        expect(tokens(out)).toEqual(tokens(messy));
        expect(shape(out)).toBe(shape(messy));
      }),
      { numRuns: 300, seed: 3 },
    );
    expect(parsed).toBeGreaterThan(20);
  });

  it("prints operators, calls, comments and blank lines canonically", () => {
    const src = [
      "",
      "/* header",
      "   block comment */",
      "block   F( x : [B,D] ,k:int=-1 )->[B,D]{",
      "",
      "      let y = x*2+ -k   /* inline */ + x [0]   // trailing",
      "  let z = a -",
      "b",
      "",
      "",
      "",
      "  if k>0 { return y } else {return -y}",
      "",
      "}",
      "program P(){run{}}",
    ].join("\r\n");
    expect(formatCld(src)).toBe(
      [
        "/* header",
        "   block comment */",
        "block F(x: [B, D], k: int = -1) -> [B, D] {",
        "  let y = x * 2 + -k /* inline */ + x[0]   // trailing",
        "  let z = a -",
        "    b",
        "",
        "  if k > 0 { return y } else { return -y }",
        "}",
        "program P() { run {} }",
        "",
      ].join("\n"),
    );
  });

  it("refuses a file with syntax errors, naming the first one", () => {
    expect(() => formatCld("block F( {\n}\n", "bad.cld")).toThrow(
      /^bad\.cld:1:\d+: .*not formatted/,
    );
  });

  it("is a prettier plugin, registered for .cld in the repository's prettier config", async () => {
    const out = await prettier.format("block F(x:[B]){return x}", {
      parser: "cld",
      plugins: [cldPlugin],
    });
    expect(out).toBe("block F(x: [B]) { return x }\n");
    const config = await prettier.resolveConfig(join(ROOT, "models/unet.cld"));
    expect(config?.plugins).toEqual([join(ROOT, "tools/prettier-plugin-cld/index.mjs")]);
    const info = await prettier.getFileInfo(join(ROOT, "models/unet.cld"), {
      plugins: [cldPlugin],
    });
    expect(info.inferredParser).toBe("cld");
  });
});

describe("cldc fmt", () => {
  const dir = mkdtempSync(join(tmpdir(), "cldc-fmt-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const cldc = (...args: string[]) =>
    spawnSync(process.execPath, ["bin/cldc.js", "fmt", ...args], {
      cwd: ROOT,
      encoding: "utf8",
      ...childTimeout(),
    });

  /** cmdFmt in-process (quicker than a process per call), with its output captured. */
  async function fmt(...args: string[]) {
    const out: string[] = [];
    const log = vi.spyOn(console, "log").mockImplementation((m) => void out.push(String(m)));
    try {
      return { status: await cmdFmt(args), stdout: out.join("\n") };
    } finally {
      log.mockRestore();
    }
  }

  it("--check fails on an unformatted file, fmt fixes it, --check then passes", async () => {
    const file = join(dir, "messy.cld");
    writeFileSync(file, "block F(x:[B]){\nreturn x\n}\n");
    const before = await fmt("--check", file);
    expect(before.status).toBe(1);
    expect(before.stdout).toContain("messy.cld: not formatted");
    expect(readFileSync(file, "utf8")).toBe("block F(x:[B]){\nreturn x\n}\n"); // untouched
    expect((await fmt(file)).status).toBe(0);
    expect(readFileSync(file, "utf8")).toBe("block F(x: [B]) {\n  return x\n}\n");
    expect(await fmt("--check", dir)).toEqual({ status: 0, stdout: "1 file formatted correctly" });
  });

  it("reports a syntax error in one line with file:line:col and exit code 1 (as a command)", () => {
    const r = cldc("--check", "test/fixtures/cli/two-syntax-errors.cld");
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(/^test\/fixtures\/cli\/two-syntax-errors\.cld:2:21: expected '\)'/),
    ]);
  });
});
