// `cldc eval` as a user runs it: bad run directories are one line on stderr and exit 1,
// before any GPU work. (The evaluation itself is tested in test/runtime/eval.test.ts.)
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileSha256, snapshotPath, writeSnapshot } from "../../runtime/eval/snapshot.ts";
import { childTimeout } from "../timeouts.ts";

const ROOT = join(import.meta.dirname, "../..");

function cldc(args: string[]) {
  const r = spawnSync(process.execPath, ["bin/cldc.js", ...args], {
    cwd: ROOT,
    env: { ...process.env, CI: "true", CLD_DEBUG: "" },
    encoding: "utf8",
    ...childTimeout(),
  });
  const lines = r.stderr.split("\n").filter((l) => l && !l.startsWith("Warning: "));
  return { status: r.status, lines, stdout: r.stdout };
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "cldc-eval-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A run directory with one snapshot whose base checkpoint is `base`. */
function runWithBase(name: string, base: string, sha = "0".repeat(64)): string {
  const run = join(dir, name);
  const shapes = new Map([["kv.a.w", [2, 2]]]);
  writeSnapshot(
    snapshotPath(run, "after_task", 0),
    new Map([["kv.a.w", new Float32Array(4)]]),
    shapes,
    {
      program: "CLoRA",
      entry: "examples/clora.cld",
      settings: { names: "octopus,snail" },
      modelHash: "00000000",
      label: "after_task",
      index: 0,
      base: { path: base, absolute: base, sha256: sha },
      seconds: 1,
      resumed: false,
      trainedValues: 4,
    },
  );
  return run;
}

describe("cldc eval: bad input", () => {
  it("lists eval in --help", () => {
    const r = spawnSync(process.execPath, ["bin/cldc.js", "--help"], {
      cwd: ROOT,
      encoding: "utf8",
    });
    expect(r.stdout).toMatch(/cldc eval RUN_DIR/);
    const own = spawnSync(process.execPath, ["bin/cldc.js", "eval", "--help"], {
      cwd: ROOT,
      encoding: "utf8",
    });
    expect(own.status).toBe(0);
    expect(own.stdout).toMatch(/Writes RUN_DIR\/eval\/: report\.md, grid\.png/);
  });

  it("a missing run directory", () => {
    const r = cldc(["eval", join(dir, "nope")]);
    expect(r.status).toBe(1);
    expect(r.lines).toEqual([`cldc: no such run directory: ${join(dir, "nope")}`]);
  });

  it("a run directory without snapshots", () => {
    writeFileSync(join(dir, "notes.txt"), "");
    const r = cldc(["eval", dir]);
    expect(r.status).toBe(1);
    expect(r.lines.length).toBe(1);
    expect(r.lines[0]).toMatch(/has no snapshots .*checkpoint\("after_task", task\)/);
  });

  it("a missing base checkpoint", () => {
    const run = runWithBase("gone", join(dir, "no-base.safetensors"));
    const r = cldc(["eval", run]);
    expect(r.status).toBe(1);
    expect(r.lines.length).toBe(1);
    expect(r.lines[0]).toMatch(
      /base checkpoint .*no-base\.safetensors.* is missing; pass --base PATH/,
    );
  });

  it("a base checkpoint that changed since training", () => {
    const base = join(dir, "base.safetensors");
    writeFileSync(base, "not the original");
    const r = cldc(["eval", runWithBase("changed", base)]);
    expect(r.status).toBe(1);
    expect(r.lines.length).toBe(1);
    expect(r.lines[0]).toMatch(/changed since training/);
  });

  it("--loss-only without an earlier eval, or with a file that is not one", () => {
    const base = join(dir, "same-base.safetensors");
    writeFileSync(base, "a base");
    const run = runWithBase("loss-only", base, fileSha256(base));
    const r = cldc(["eval", run, "--loss-only"]);
    expect(r.status).toBe(1);
    expect(r.lines).toEqual([
      `cldc: --loss-only keeps the judge and KID scores of an earlier eval, but ${join(run, "eval", "scores.json")} does not exist; run cldc eval ${run} first`,
    ]);
    mkdirSync(join(run, "eval"));
    writeFileSync(join(run, "eval", "scores.json"), "{}");
    const bad = cldc(["eval", run, "--loss-only"]);
    expect(bad.status).toBe(1);
    expect(bad.lines.length).toBe(1);
    expect(bad.lines[0]).toMatch(/scores\.json is not a cldc eval scores file \(no 'concepts'\)/);
  });

  it("bad options", () => {
    const r = cldc(["eval", dir, "--n", "0"]);
    expect(r.status).toBe(1);
    expect(r.lines).toEqual(["cldc: --n must be >= 1, got 0"]);
  });
});
