// tools/judge-samples.ts and tools/kid.ts end to end, as a user runs them, on toy
// checkpoints: a judge-shaped program (test/fixtures/judge/tiny-judge.cld, 6 names) and
// pretrain's models at a tiny size (test/fixtures/sample/pretrain-init.cld), both
// untrained. The first run JIT-compiles the denoise step's kernels (seconds with a warm
// Mesa shader cache, a minute or two on a cold one).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readPng } from "../../runtime/io/png.ts";
import { childTimeout } from "../timeouts.ts";

const ROOT = join(import.meta.dirname, "../..");

function run(args: string[]) {
  const r = spawnSync(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, CI: "true", CLD_DEBUG: "" },
    encoding: "utf8",
    ...childTimeout(),
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let dir: string;
let judge: string;
let model: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "judge-samples-"));
  for (const [file, sub] of [
    ["test/fixtures/judge/tiny-judge.cld", "judge"],
    ["test/fixtures/sample/pretrain-init.cld", "model"],
  ]) {
    const r = run(["bin/cldc.js", "train", file, "--run-dir", join(dir, sub)]);
    expect(r.status, r.stderr).toBe(0);
  }
  judge = join(dir, "judge", "checkpoint.safetensors");
  model = join(dir, "model", "checkpoint.safetensors");
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("tools/judge-samples.ts", () => {
  it("samples each name with and without its caption and prints the judge's table", () => {
    const out = join(dir, "out");
    const r = run([
      "--import",
      "tsx",
      "tools/judge-samples.ts",
      "--judge",
      judge,
      "--model",
      model,
      "--names",
      "2",
      "--per-name",
      "2",
      "--steps",
      "2",
      "--batch",
      "2",
      "--save",
      out,
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /judge: TinyJudge, 6 names \(min_styles 9\), held-out style "twemoji"/,
    );
    expect(r.stdout).toMatch(/chance top-1 16\.7%, top-5 83\.3%/);
    expect(r.stdout).toMatch(
      /\| real, held-out style \(twemoji\), all 6 names \| 6 \| [\d.]+% \| [\d.]+% \|/,
    );
    expect(r.stdout).toMatch(
      /\| real, held-out style \(twemoji\), these 2 names \| 2 \| [\d.]+% \| [\d.]+% \|/,
    );
    expect(r.stdout).toMatch(/\| samples, prompt = caption \| 4 \| [\d.]+% \| [\d.]+% \|/);
    expect(r.stdout).toMatch(/\| samples, empty prompt \(same labels\) \| 4 \|/);
    expect(r.stdout).toMatch(/\| samples, empty prompt \(averaged over the 2 names\) \| 4 \|/);
    expect(r.stdout).toMatch(/Prompt vs\. no prompt: top-1 /);
    const labels = readFileSync(join(out, "labels.txt"), "utf8").trim().split("\n");
    expect(labels).toHaveLength(4);
    expect(labels[0]).toBe(labels[1]);
    const grid = readPng(join(out, "prompted.png"));
    expect([grid.width, grid.height]).toEqual([2 + 2 * 18, 2 + 2 * 18]); // 2×2 cells of 16 px
  });

  it("fails with one line for a name the judge does not know", () => {
    const r = run([
      "--import",
      "tsx",
      "tools/judge-samples.ts",
      "--judge",
      judge,
      "--model",
      model,
      "--names",
      "no-such-emoji",
    ]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/judge-samples: 'no-such-emoji' is not one of the judge's 6 names/);
  });
});

describe("tools/kid.ts", () => {
  it("compares real emoji with a sample grid", () => {
    const names = readFileSync(join(dir, "out", "labels.txt"), "utf8")
      .trim()
      .split("\n");
    const r = run([
      "--import",
      "tsx",
      "tools/kid.ts",
      "--real",
      names[0],
      "--fake",
      join(dir, "out", "unconditional.png"),
      "--size",
      "16",
      "--subsets",
      "5",
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/fake: .*unconditional\.png \(4 samples\)/);
    expect(r.stdout).toMatch(/KID ×10³ \(all \d+ × 4\): -?[\d.]+/);
    expect(r.stdout).toMatch(/KID ×10³ \(5 subsets of 4\): -?[\d.]+ ± [\d.]+/);
  });
});
