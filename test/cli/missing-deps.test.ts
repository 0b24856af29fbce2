// `node bin/cldc.js ...` before `npm ci`: one line that says what to run, exit 1, no stack
// trace. bin/cldc.js is copied into a temporary tree without node_modules, so that neither
// tsx nor the packages cli/main.ts imports can be resolved from it.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { childTimeout } from "../timeouts.ts";

const ROOT = join(import.meta.dirname, "../..");

const temps: string[] = [];
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

/** A copy of bin/cldc.js at <tmp>/bin/cldc.js, and `cli/main.ts` beside it if given. */
function tree(mainTs?: string): string {
  const dir = mkdtempSync(join(tmpdir(), "cldc-nodeps-"));
  temps.push(dir);
  mkdirSync(join(dir, "bin"));
  copyFileSync(join(ROOT, "bin/cldc.js"), join(dir, "bin/cldc.js"));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
  if (mainTs !== undefined) {
    mkdirSync(join(dir, "cli"));
    writeFileSync(join(dir, "cli/main.ts"), mainTs);
  }
  return dir;
}

function run(dir: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [join(dir, "bin/cldc.js"), ...args], {
    cwd: dir,
    env: { ...process.env, NODE_PATH: "", CLD_DEBUG: "" },
    encoding: "utf8",
    ...childTimeout(),
  });
  return { status: r.status, stdout: r.stdout, lines: r.stderr.split("\n").filter(Boolean) };
}

describe("cldc without its dependencies", () => {
  it("no tsx: one line naming `npm run setup` / `npm ci` and the directory, exit 1", () => {
    const dir = tree();
    for (const args of [["--help"], ["train", "examples/mnist.cld"]]) {
      const r = run(dir, ...args);
      expect(r.status).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.lines).toEqual([
        `cldc: dependencies are not installed (no package 'tsx'); run \`npm run setup\` (or \`npm ci\`) in ${dir} first`,
      ]);
    }
  });

  it("tsx present but a package the compiler imports missing: the same line, naming it", () => {
    const dir = tree(
      `import "chevrotain";\nexport async function main(): Promise<number> { return 0; }\n`,
    );
    mkdirSync(join(dir, "node_modules"));
    symlinkSync(join(ROOT, "node_modules/tsx"), join(dir, "node_modules/tsx"), "dir");
    const r = run(dir, "check", "x.cld");
    expect(r.status).toBe(1);
    expect(r.lines).toEqual([
      `cldc: dependencies are not installed (no package 'chevrotain'); run \`npm run setup\` (or \`npm ci\`) in ${dir} first`,
    ]);
  });

  it("a missing file of the repository itself is a bug, not a setup step: Node's own error", () => {
    const dir = tree(
      `import "./nowhere.ts";\nexport async function main(): Promise<number> { return 0; }\n`,
    );
    mkdirSync(join(dir, "node_modules"));
    symlinkSync(join(ROOT, "node_modules/tsx"), join(dir, "node_modules/tsx"), "dir");
    const r = run(dir, "--help");
    expect(r.status).not.toBe(0);
    expect(r.lines.join("\n")).not.toContain("npm run setup");
    expect(r.lines.join("\n")).toContain("nowhere.ts");
  });
});
