// The cldc command line, run as a user runs it: `node bin/cldc.js ...` in the repository root.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { childTimeout } from "../timeouts.ts";

const ROOT = join(import.meta.dirname, "../..");
const PROGRAM = "test/fixtures/runtime/tiny-mlp.cld";

function cldc(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["bin/cldc.js", ...args], {
    cwd: ROOT,
    env: { ...process.env, CI: "true", CLD_DEBUG: "" },
    encoding: "utf8",
    ...childTimeout(),
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** stderr without the driver's own banner lines (Dawn prints limit warnings on stderr). */
const ourLines = (stderr: string) =>
  stderr.split("\n").filter((l) => l && !l.startsWith("Warning: "));

const noStackTrace = (stderr: string) =>
  expect(stderr.split("\n").filter((l) => /^\s+at /.test(l))).toEqual([]);

const temps: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "cldc-test-"));
  temps.push(d);
  return d;
}
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

/** Every file under dir, relative path -> bytes. */
function tree(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

describe("cldc basics", () => {
  it("--help exits 0 and lists the commands", () => {
    const r = cldc("--help");
    expect(r.status).toBe(0);
    for (const cmd of ["check", "compile", "train", "explain"])
      expect(r.stdout).toMatch(new RegExp(`^  cldc ${cmd} `, "m"));
  });

  it("CMD --help / -h prints that command's usage to stdout, exit 0, even with other options", async () => {
    // In process (a spawn per command would take seconds each); the spawned path is below.
    const { main } = await import("../../cli/main.ts");
    const run = async (...args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const log = vi.spyOn(console, "log").mockImplementation((s) => void out.push(String(s)));
      const error = vi.spyOn(console, "error").mockImplementation((s) => void err.push(String(s)));
      try {
        return { status: await main(args), stdout: out.join("\n"), stderr: err.join("\n") };
      } finally {
        log.mockRestore();
        error.mockRestore();
      }
    };
    for (const cmd of ["check", "compile", "train", "explain", "sample", "eval", "fmt"]) {
      for (const flag of ["--help", "-h"]) {
        const r = await run(cmd, flag);
        expect(r.status, `${cmd} ${flag}`).toBe(0);
        expect(r.stdout.split("\n")[0], cmd).toMatch(new RegExp(`^usage: cldc ${cmd} `));
        expect(r.stderr, cmd).toBe("");
      }
    }
    // Help wins over options that would otherwise be errors...
    const r = await run("sample", "--bogus", "-h");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: cldc sample CHECKPOINT/);
    // ...but after `--`, -h is not an option (here: a file name that does not exist).
    const after = await run("check", "--", "-h");
    expect(after.status).toBe(1);
    expect(after.stderr).toContain("-h");
  });

  it("cldc train --help documents checkpointing, NaN debugging and Ctrl-C", () => {
    const r = cldc("train", "--help");
    expect(r.status).toBe(0);
    expect(ourLines(r.stderr)).toEqual([]);
    for (const s of ["--checkpoint-steps N", "--checkpoint-every", "--debug-nans", "exits 130"])
      expect(r.stdout).toContain(s);
  });

  it("cldc train FILE --help lists the program's settings, with their comments", () => {
    const r = cldc("train", "examples/clora.cld", "--help");
    expect(r.status).toBe(0);
    const lines = r.stdout.split("\n");
    const at = lines.indexOf(
      "Settings of CLoRA (examples/clora.cld), each changed with --set name=value:",
    );
    expect(at).toBeGreaterThan(0);
    const table = lines.slice(at + 1);
    expect(table).toContain("  tasks         int     10");
    expect(table).toContain('  base          string  "models/base.safetensors"');
    // lambda's two comment lines sit under it, before lr.
    const l = table.findIndex((x) => x.startsWith("  lambda "));
    expect(table[l]).toBe("  lambda        float   1.0");
    expect(table[l + 1]).toMatch(/^ {24}With Adam the forget term's weight/);
    expect(table[l + 3]).toMatch(/^ {2}lr {12}float {3}0\.001$/);
    // Settings on the `program` line do not take the program's own comment as theirs.
    const mnist = cldc("train", "examples/mnist.cld", "--help").stdout.split("\n");
    const rows = mnist.slice(mnist.findIndex((x) => x.startsWith("Settings of Mnist")) + 1);
    expect(rows.filter((x) => x.trim())).toEqual([
      "  steps  int    1500",
      "  batch  int    64",
      "  lr     float  0.002",
      "  seed   int    0",
    ]);
    // A file with errors, or none, gives the plain help.
    const dir = tempDir();
    writeFileSync(join(dir, "bad.cld"), "program P(x: int = ) {}");
    for (const f of [join(dir, "bad.cld"), join(dir, "missing.cld")]) {
      const plain = cldc("train", f, "--help");
      expect(plain.status).toBe(0);
      expect(plain.stdout).not.toContain("Settings of");
      expect(plain.stdout).toContain("--checkpoint-steps N");
    }
  });

  it("--version prints package.json's version", () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    const r = cldc("--version");
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(`cldc ${version}`);
  });

  it("an unknown command exits 1 naming it", () => {
    const r = cldc("frobnicate");
    expect(r.status).toBe(1);
    expect(r.stderr.split("\n")[0]).toBe("cldc: unknown command 'frobnicate'");
    noStackTrace(r.stderr);
    const typo = cldc("trian", PROGRAM);
    expect(typo.status).toBe(1);
    expect(typo.stderr.split("\n")[0]).toBe(
      "cldc: unknown command 'trian' (did you mean 'train'?)",
    );
  });

  it("a missing option value or file is a usage error, exit 1", () => {
    const r = cldc("compile", PROGRAM);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("usage: cldc compile FILE.cld -o DIR");
    noStackTrace(r.stderr);
  });
});

describe("cldc check", () => {
  it("prints every syntax error with file:line:col and a caret, without a stack trace", () => {
    const file = "test/fixtures/cli/two-syntax-errors.cld";
    const r = cldc("check", file);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    const lines = ourLines(r.stderr);
    const heads = lines.filter((l) => l.startsWith(file));
    expect(heads).toEqual([
      `${file}:2:21: error: expected ')' to close '(' opened at 2:15`,
      `${file}:2:15: note: '(' opened here`,
      `${file}:7:15: error: expected ',' or ')', found 'b'`,
    ]);
    const second = lines.indexOf(heads[2]);
    expect(lines.slice(second + 1, second + 3)).toEqual([
      "   7 |   let z = f(a b)",
      "     |               ^",
    ]);
    const first = lines.indexOf(heads[0]);
    expect(lines[first + 2]).toBe("     |                     ^");
    expect(lines.at(-1)).toBe("2 errors");
    noStackTrace(r.stderr);
  });

  it("reports elaboration errors of every block, exit 1", () => {
    const r = cldc("check", "test/fixtures/elab/unknown-names.cld");
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      "test/fixtures/elab/unknown-names.cld:3:10: error: unknown name 'rleu' (did you mean 'relu'?)",
    );
    expect(ourLines(r.stderr).at(-1)).toBe("2 errors");
  });

  it("reports a missing import at the import, with a caret", () => {
    const file = "test/fixtures/elab/missing-import.cld";
    const r = cldc("check", file);
    expect(r.status).toBe(1);
    expect(ourLines(r.stderr)).toEqual([
      `${file}:1:8: error: cannot find file 'layers-that-do-not-exist.cld' (imported here)`,
      '   1 | import "layers-that-do-not-exist.cld"',
      "     |        ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~",
      "note: looked for 'test/fixtures/elab/layers-that-do-not-exist.cld'",
      "1 error",
    ]);
    noStackTrace(r.stderr);
  });

  it("accepts a good file with exit 0", () => {
    const r = cldc("check", PROGRAM);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(`${PROGRAM}: ok`);
  });
});

describe("cldc compile", () => {
  it("writes annotated WGSL, the IR and the plan, byte-identically on every run", () => {
    const a = tempDir();
    const b = tempDir();
    const ra = cldc("compile", PROGRAM, "-o", a, "--emit", "wgsl,ir,plan");
    expect(ra.status, ra.stderr).toBe(0);
    expect(ra.stdout).toMatch(/^compiled TinyMlp: 1 step, \d+ kernels, \d+ files in /);
    const files = tree(a);
    const wgsl = [...files.keys()].filter((f) => f.endsWith(".wgsl"));
    expect(wgsl.length).toBeGreaterThan(5);
    expect(files.has(join("train_step", "step.ir"))).toBe(true);
    expect(files.has(join("train_step", "plan.json"))).toBe(true);

    const sources = new Map<string, string[]>();
    const lineOf = (file: string, line: number) => {
      if (!sources.has(file)) sources.set(file, readFileSync(join(ROOT, file), "utf8").split("\n"));
      return sources.get(file)![line - 1]?.trim();
    };
    for (const f of wgsl) {
      const text = files.get(f)!.toString("utf8");
      const lines = text.split("\n");
      const name = f
        .split("/")
        .at(-1)!
        .replace(/\.wgsl$/, "");
      // `// k003_add_relu: add, relu` names the kernel and the ops fused into it.
      const m = /^\/\/ (k\d{3}_\w+): ([a-z0-9_]+(?:, [a-z0-9_]+)*)$/.exec(lines[0]);
      expect(m, `${f}: ${lines[0]}`).not.toBeNull();
      expect(m![1]).toBe(name);
      expect(lines[1]).toMatch(/^\/\/ dispatch: \d+ x \d+ x \d+ workgroups$/);
      const from = lines.filter((l) => l.startsWith("// from "));
      expect(from.length, `${f} has no '// from' line`).toBeGreaterThan(0);
      for (const l of from) {
        const fm = /^\/\/ from ([^:]+\.cld):(\d+): (.*)$/.exec(l);
        expect(fm, l).not.toBeNull();
        expect(fm![3]).toBe(lineOf(fm![1], Number(fm![2])));
      }
      expect(text).toMatch(/@compute @workgroup_size\(/);
    }

    const ir = files.get(join("train_step", "step.ir"))!.toString("utf8");
    expect(ir.split("\n")[0]).toMatch(/^\/\/ step train_step: \d+ values$/);
    expect(ir).toContain('= input("b.x")');
    expect(ir).toMatch(/^update net\.linear\.w <- %\d+$/m);
    const plan = JSON.parse(files.get(join("train_step", "plan.json"))!.toString("utf8"));
    expect(plan.kernels.map((k: { file: string }) => join("train_step", k.file)).sort()).toEqual(
      wgsl.filter((f) => f.startsWith("train_step")).sort(),
    );
    expect(plan.outputs.map((o: { name: string }) => o.name)).toContain("loss");

    const rb = cldc("compile", PROGRAM, "-o", b, "--emit", "wgsl,ir,plan");
    expect(rb.status, rb.stderr).toBe(0);
    const again = tree(b);
    expect([...again.keys()]).toEqual([...files.keys()]);
    for (const [k, v] of files)
      expect(again.get(k)!.equals(v), `${k} differs between runs`).toBe(true);
  });

  it("writes only what --emit asks for", () => {
    const d = tempDir();
    const r = cldc("compile", PROGRAM, "-o", d, "--emit", "ir", "--target", "plain");
    expect(r.status, r.stderr).toBe(0);
    expect([...tree(d).keys()]).toEqual([join("train_step", "step.ir")]);
    const bad = cldc("compile", PROGRAM, "-o", d, "--emit", "asm");
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("--emit takes wgsl, ir, plan and/or c, got 'asm'");
  });

  it("--emit c writes each step's C++ with its kernel headers, and it compiles", () => {
    const d = tempDir();
    const r = cldc("compile", PROGRAM, "-o", d, "--emit", "c");
    expect(r.status, r.stderr).toBe(0);
    const files = [...tree(d).keys()];
    expect(files).toContain(join("train_step", "step.cpp"));
    expect(files).toContain(join("include", "gemm.hpp"));
    const cpp = readFileSync(join(d, "train_step", "step.cpp"), "utf8");
    expect(cpp).toMatch(/\/\/ from .*\.cld:\d+: /); // the same header as the WGSL files
    expect(cpp).toContain('extern "C" void cld_step(void* const* B)');
    const cc = spawnSync(
      "g++",
      [
        "-std=c++17",
        "-fsyntax-only",
        "-fopenmp",
        "-I",
        join(d, "include"),
        join(d, "train_step", "step.cpp"),
      ],
      { encoding: "utf8" },
    );
    expect(cc.status, cc.stderr).toBe(0);
  });

  it("reports a bad --set with the declaration, exit 1", () => {
    const r = cldc("compile", PROGRAM, "-o", tempDir(), "--target", "plain", "--set", "steps=abc");
    expect(r.status).toBe(1);
    expect(ourLines(r.stderr)).toEqual([
      "error: --set steps=abc: expected an int",
      `${PROGRAM}:9:17: note: setting 'steps' is declared here`,
      "   9 | program TinyMlp(steps: int = 40, batch: int = 16, lr: float = 0.01, half: int = 20, seed: int = 0) {",
      "     |                 ^~~~~~~~~~~~~~~",
      "1 error",
    ]);
  });

  it("compile --target takes subgroups or plain", () => {
    const r = cldc("compile", PROGRAM, "-o", tempDir(), "--target", "subgroup");
    expect(r.status).toBe(1);
    expect(ourLines(r.stderr)).toEqual(["cldc: --target takes subgroups or plain, got 'subgroup'"]);
  });
});

describe("cldc explain", () => {
  it("--profile (advertised by --help) adds measured times to the kernel table", () => {
    const r = cldc("explain", PROGRAM, "--profile");
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toMatch(/^step train_step: \d+ kernels, .* FLOP, .*, [\d.]+ ms per step$/);
    expect(lines[1]).toMatch(
      /^kernel\s+workgroups\s+FLOP\s+bytes\s+output buffer \[live\]\s+(ms\s+)?source$/,
    );
    expect(lines.filter((l) => /^k\d{3}_/.test(l)).length).toBeGreaterThan(5);
  });

  it("--device cpu --profile times every kernel of the C++ plan", () => {
    const r = cldc("explain", PROGRAM, "--device", "cpu", "--profile");
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.split("\n");
    const perStep = Number(/, ([\d.]+) ms per step$/.exec(lines[0])?.[1]);
    expect(lines[1]).toMatch(
      /^kernel\s+workgroups\s+FLOP\s+bytes\s+output buffer \[live\]\s+ms\s+source$/,
    );
    const rows = lines.filter((l) => /^k\d{3}_/.test(l));
    expect(rows.length).toBeGreaterThan(5);
    // Each row: name, "-" (no workgroups on the C target), FLOP, bytes, buffer, ms, source.
    const ms = rows.map((l) => Number(l.split(/\s{2,}/)[5]));
    for (const [i, t] of ms.entries()) expect(t, rows[i]).toBeGreaterThanOrEqual(0);
    expect(rows.every((l) => l.split(/\s{2,}/)[1] === "-")).toBe(true);
    expect(perStep).toBeCloseTo(
      ms.reduce((a, b) => a + b, 0),
      1,
    );
  });

  it("an unknown --step is an error, not an empty table", () => {
    const r = cldc("explain", PROGRAM, "--step", "trian_step");
    expect(r.status).toBe(1);
    expect(ourLines(r.stderr)).toEqual([
      "cldc: program TinyMlp has no step 'trian_step' (did you mean 'train_step'?); steps: train_step",
    ]);
  });
});

describe("cldc train", () => {
  it("trains with a checkpoint, then refuses to resume it with other settings (exit 1)", () => {
    const dir = tempDir();
    const r = cldc("train", PROGRAM, "--run-dir", dir, "--set", "steps=2", "--set", "half=1");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^TinyMlp: 25,450 parameters, 1 step compiled to \d+ kernels on /);
    expect(r.stdout).toMatch(/^first calls compile \d+ distinct pipelines in the driver /m);
    expect(r.stdout).toContain(`run directory: ${dir}`);
    expect(r.stdout).toContain(`checkpoint written: ${join(dir, "checkpoint.safetensors")}`);
    expect(r.stdout).toMatch(/^done in \d+s$/m);
    const other = cldc(
      "train",
      PROGRAM,
      "--run-dir",
      dir,
      "--set",
      "steps=2",
      "--set",
      "half=1",
      "--set",
      "lr=0.02",
    );
    expect(other.status).toBe(1);
    expect(ourLines(other.stderr)).toEqual([
      `cldc: ${join(dir, "checkpoint.safetensors")} was written with different settings (lr was 0.01, now 0.02); resume with the same --set values, or start over with --fresh or a new --run-dir`,
    ]);
  });

  it("a missing file is a one-line error with exit 1, before any GPU work", () => {
    const r = cldc("train", "test/fixtures/no-such-program.cld");
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr.trimEnd().split("\n")).toEqual([
      "cldc: no such file: test/fixtures/no-such-program.cld",
    ]);
  });
});
