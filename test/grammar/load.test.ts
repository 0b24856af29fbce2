// loadProgram: transitive imports, missing files and import cycles.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { displayPath, loadProgram, resolveImport } from "../../grammar/index.ts";
import { formatDiagnostics } from "../../compiler/diagnostics.ts";

let dir: string;
const write = (name: string, text: string) => {
  fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
  fs.writeFileSync(path.join(dir, name), text);
};
const shown = (name: string) => displayPath(path.join(dir, name));

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "cld-grammar-"));
  write("main.cld", 'import "lib/a.cld"\nimport "lib/b.cld"\nprogram P() { run { } }\n');
  write("lib/a.cld", 'import "b.cld"\nblock A() { return 1 }\n');
  write("lib/b.cld", "block B() { return 2 }\n");
  write("cycle/a.cld", 'import "b.cld"\nblock A() { return 1 }\n');
  write("cycle/b.cld", '// b imports a back\nimport "a.cld"\nblock B() { return 2 }\n');
  write("missing.cld", 'import "nope.cld"\nblock M() { return 1 }\n');
  write("broken.cld", 'import "lib/b.cld"\nblock X() {\n  return (1\n}\n');
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("loadProgram", () => {
  it("loads imports transitively, each file once, dependencies first", () => {
    const r = loadProgram(path.join(dir, "main.cld"));
    expect(r.diagnostics).toEqual([]);
    expect([...r.files.keys()]).toEqual([
      shown("lib/b.cld"),
      shown("lib/a.cld"),
      shown("main.cld"),
    ]);
    expect(r.sources.size).toBe(3);
    expect(r.entry).toBe(shown("main.cld"));
    // Ranges name files the same way the maps do.
    const a = r.files.get(shown("lib/a.cld"))!;
    expect(a.range.file).toBe(shown("lib/a.cld"));
    expect(resolveImport(shown("lib/a.cld"), a.imports[0].path)).toBe(shown("lib/b.cld"));
  });

  it("reports a missing import at the import's string", () => {
    const r = loadProgram(path.join(dir, "missing.cld"));
    expect(r.diagnostics).toHaveLength(1);
    const [d] = r.diagnostics;
    expect(d.message).toBe("cannot find file 'nope.cld' (imported here)");
    expect(d.range).toMatchObject({
      file: shown("missing.cld"),
      start: { line: 1, column: 8 },
      end: { column: 18 },
    });
    expect(r.files.has(shown("missing.cld"))).toBe(true);
    expect(formatDiagnostics(r.diagnostics, r.sources)).toContain('   1 | import "nope.cld"');
  });

  it("names an import cycle", () => {
    const r = loadProgram(path.join(dir, "cycle/a.cld"));
    expect(r.diagnostics.map((d) => d.message)).toEqual(["import cycle: a.cld -> b.cld -> a.cld"]);
    expect(r.diagnostics[0].range).toMatchObject({
      file: shown("cycle/b.cld"),
      start: { line: 2, column: 8 },
    });
    expect(r.files.size).toBe(2);
  });

  it("reports a missing entry file", () => {
    const r = loadProgram(path.join(dir, "absent.cld"));
    expect(r.diagnostics.map((d) => d.message)).toEqual([
      `cannot find file '${path.join(dir, "absent.cld")}'`,
    ]);
    expect(r.files.size).toBe(0);
  });

  it("passes on syntax errors of every file with their file names", () => {
    const r = loadProgram(path.join(dir, "broken.cld"));
    expect(
      r.diagnostics.map((d) => `${d.range?.file}:${d.range?.start.line} ${d.message}`),
    ).toEqual([`${shown("broken.cld")}:3 expected ')' to close '(' opened at 3:10`]);
    expect(r.files.has(shown("lib/b.cld"))).toBe(true);
  });
});
