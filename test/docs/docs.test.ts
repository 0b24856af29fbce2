// The reference docs stay true to the code:
// - docs/ops.md and the generated regions of docs/language.md match what tools/gen-docs.ts
//   produces from the op registry and the built-in table;
// - every ```cld file example in docs/language.md passes `check()`; a ```cld file fails
//   example produces exactly the diagnostics quoted in the ```text block after it; a
//   ```cld file params example creates exactly the parameters listed after it;
// - every optimizer option the compiler accepts is documented.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { check, findProgram, load } from "../../compiler/compile.ts";
import { CompileError, formatDiagnostics } from "../../compiler/diagnostics.ts";
import { collectBlocks, elaborateProgram } from "../../compiler/elab/program.ts";
import { displayPath } from "../../grammar/index.ts";
import { builtins } from "../../compiler/elab/builtins.ts";
import { builtinDocs, generate, root, type Generated } from "../../tools/gen-docs.ts";

const languagePath = join(root, "docs", "language.md");
const opsPath = join(root, "docs", "ops.md");
const language = readFileSync(languagePath, "utf8");

interface Fence {
  info: string;
  body: string;
  line: number; // 1-based line of the opening fence
}

/** Fenced code blocks (also indented ones, in lists) in document order, bodies dedented. */
function fences(md: string): Fence[] {
  const out: Fence[] = [];
  const lines = md.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^( *)```(.*)$/.exec(lines[i]);
    if (!open) continue;
    const indent = open[1];
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i] !== `${indent}\`\`\``; i++) {
      body.push(lines[i].startsWith(indent) ? lines[i].slice(indent.length) : lines[i]);
    }
    out.push({ info: open[2].trim(), body: body.join("\n") + "\n", line: start + 1 });
  }
  return out;
}

const all = fences(language);
const examples = all
  .map((f, i) => ({ ...f, next: all[i + 1] }))
  .filter((f) => /^cld\s+file\b/.test(f.info));

let dir: string;
let n = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "cld-docs-"));
  // Examples import "models/layers.cld" as if they were saved in the repository root.
  cpSync(join(root, "models"), join(dir, "models"), { recursive: true });
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes an example as `dir/exN/example.cld` (with models/ beside it) and returns its path. */
function writeExample(text: string): string {
  const sub = join(dir, `ex${n++}`);
  cpSync(join(dir, "models"), join(sub, "models"), { recursive: true });
  const file = join(sub, "example.cld");
  writeFileSync(file, text);
  return file;
}

/** What `cldc check` prints for a failing file, with its path shown as `example.cld`. */
function checkOutput(file: string, text: string): string {
  const diags = check(file, { subgroups: false });
  const shown = displayPath(file);
  const errors = diags.filter((d) => d.severity === "error").length;
  const out = formatDiagnostics(diags, new Map([[shown, text]]));
  const tail = `${errors} error${errors === 1 ? "" : "s"}`;
  return `${out}\n${tail}`.split(shown).join("example.cld");
}

describe("generated documentation is up to date", () => {
  let g: Generated;
  beforeAll(async () => {
    g = await generate();
  });

  it("docs/ops.md matches the op registry", () => {
    expect(
      readFileSync(opsPath, "utf8") === g.opsMd,
      "docs/ops.md is out of date: run `npx tsx tools/gen-docs.ts`",
    ).toBe(true);
  });

  it("the generated regions of docs/language.md match the code", () => {
    expect(
      language === g.languageMd,
      "docs/language.md is out of date: run `npx tsx tools/gen-docs.ts`",
    ).toBe(true);
  });

  it("every built-in function has a shape rule and an example in tools/gen-docs.ts", () => {
    expect(g.undocumented, "add these built-ins to builtinDocs in tools/gen-docs.ts").toEqual([]);
    expect(g.stale, "remove these entries from builtinDocs in tools/gen-docs.ts").toEqual([]);
    expect(Object.keys(builtinDocs).sort()).toEqual([...builtins.keys()].sort());
  });
});

describe("examples in docs/language.md", () => {
  it("has complete-file examples", () => {
    expect(examples.length).toBeGreaterThan(5);
  });

  for (const ex of examples) {
    const kind = ex.info.split(/\s+/)[2] ?? "ok";
    it(`line ${ex.line}: ${ex.info}`, () => {
      const file = writeExample(ex.body);
      if (kind === "fails") {
        expect(ex.next?.info, "a `cld file fails` block is followed by a ```text block").toBe(
          "text",
        );
        expect(checkOutput(file, ex.body)).toBe(ex.next!.body.trimEnd());
        return;
      }
      const diags = check(file, { subgroups: false });
      expect(formatDiagnostics(diags, new Map())).toBe("");
      if (kind === "params") {
        expect(ex.next?.info, "a `cld file params` block is followed by a ```text block").toBe(
          "text",
        );
        const loaded = load(file);
        const { blocks } = collectBlocks(loaded.files.values());
        const program = elaborateProgram(findProgram(loaded), blocks);
        const names = [...program.registry.params.values()]
          .filter((p) => !p.state)
          .map((p) => p.name);
        expect(names).toEqual(ex.next!.body.trim().split("\n"));
      }
    });
  }
});

describe("reference tables", () => {
  it("documents every optimizer option the compiler accepts", () => {
    const text = `program P() {\n  optimizer o = adamw(lr: 1, no_such_option: 1)\n}\n`;
    const file = writeExample(text);
    let message = "";
    try {
      const loaded = load(file);
      const { blocks } = collectBlocks(loaded.files.values());
      elaborateProgram(findProgram(loaded), blocks);
    } catch (e) {
      if (!(e instanceof CompileError)) throw e;
      message = e.diagnostics[0].message;
    }
    const m = /parameters: (.*)$/.exec(message);
    expect(m, `unexpected message: ${message}`).not.toBeNull();
    const section = language.slice(
      language.indexOf("### 9.5 `optimizer`"),
      language.indexOf("## 10. The run block"),
    );
    for (const option of m![1].split(", ")) {
      expect(section, `optimizer option '${option}' is not documented in 9.5`).toContain(
        `| \`${option}\``,
      );
    }
  });
});
