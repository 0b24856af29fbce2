// `cldc compare` as a user runs it: evaluated runs side by side (table, paired lines, chart
// files), and one-line errors for runs that were not evaluated, that learned other
// concepts, or names that do not fit.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodePngBytes } from "../../runtime/io/png.ts";
import { childTimeout } from "../timeouts.ts";

const ROOT = join(import.meta.dirname, "../..");
let dir: string;

function cldc(args: string[]) {
  const r = spawnSync(process.execPath, ["bin/cldc.js", "compare", ...args], {
    cwd: ROOT,
    env: { ...process.env, CI: "true", CLD_DEBUG: "" },
    encoding: "utf8",
    ...childTimeout(),
  });
  return { status: r.status, stdout: r.stdout, lines: r.stderr.split("\n").filter(Boolean) };
}

/** A run directory with an eval/scores.json: loss forgetting per concept as given. */
function run(name: string, concepts: string[], forgettingPerConcept: (number | null)[]) {
  const d = join(dir, name);
  mkdirSync(join(d, "eval"), { recursive: true });
  const part = (v: number) => ({
    finalAverage: v,
    forgetting: v / 10,
    plasticity: v,
    averageAfter: concepts.map(() => v),
  });
  writeFileSync(
    join(d, "eval", "scores.json"),
    JSON.stringify({
      concepts,
      options: { n: 8 },
      summary: {
        accuracy: part(0.5),
        kid: part(0.1),
        loss: { ...part(0.05), forgettingPerConcept },
      },
      loss: concepts.map((_, t) => concepts.map((_, i) => (i <= t ? 0.05 + 0.001 * t : null))),
      lossBase: concepts.map(() => 0.06),
      params: { trainedPerTask: 3136, storedFinal: 1000 },
      timing: { trainSeconds: concepts.map(() => 10) },
    }),
  );
  return d;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "cldc-compare-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("cldc compare", () => {
  it("puts evaluated runs side by side and writes the report and chart", () => {
    const three = ["octopus", "snail", "koala"];
    const a = run("lora_seq", three, [0.002, 0.003, null]);
    const b = run("clora", three, [0.001, 0.001, null]);
    const out = join(dir, "out");
    const r = cldc([a, b, "-o", out]);
    expect(r.status).toBe(0);
    const md = readFileSync(join(out, "compare.md"), "utf8");
    expect(r.stdout).toContain(md);
    expect(md).toMatch(/^# Comparing 2 continual runs/);
    expect(md).toContain("| lora_seq | 50.0 % ± 20 | 5.0 % | 50.0 % |");
    expect(md).toContain("| clora | 50.0 % ± 20 |");
    expect(md).toContain(
      "- clora: forgets less than lora_seq on 2 of 2 concepts, more on 0 (sign test p = 0.500)",
    );
    expect(decodePngBytes(readFileSync(join(out, "compare.png"))).width).toBeGreaterThan(400);
    expect(existsSync(join(out, "compare.svg"))).toBe(true);
    // Named runs, the second as the reference.
    const named = cldc([a, b, "--names", "seq,C-LoRA", "--reference", "C-LoRA", "-o", out]);
    expect(named.status).toBe(0);
    expect(named.stdout).toContain("- seq: forgets less than C-LoRA on 0 of 2 concepts, more on 2");
  });

  it("refuses what it cannot compare, in one line", () => {
    const a = run("a", ["octopus", "snail"], [0.001, null]);
    const other = run("other", ["octopus", "koala"], [0.001, null]);
    const bare = join(dir, "bare");
    mkdirSync(bare);
    const cases: [string[], RegExp][] = [
      [[a, bare], /bare has no eval\/scores\.json; run cldc eval .*bare first$/],
      [
        [a, other],
        /runs learned different concepts: a \(octopus, snail\) and other \(octopus, koala\)/,
      ],
      [[a, other, "--names", "x"], /--names gives 1 names for 2 run directories/],
      [[a, a], /two runs are named 'a'; name them with --names/],
      [[a, "--reference", "zz"], /--reference zz is none of the runs \(a\)/],
      [[], /usage: cldc compare RUN_DIR/],
    ];
    for (const [args, message] of cases) {
      const r = cldc(args);
      expect(r.status, args.join(" ")).toBe(1);
      expect(r.lines.length, args.join(" ")).toBeLessThanOrEqual(2);
      expect(r.lines[0]).toMatch(message);
    }
    writeFileSync(join(bare, "x"), "");
    mkdirSync(join(bare, "eval"));
    writeFileSync(join(bare, "eval", "scores.json"), "{");
    expect(cldc([bare]).lines[0]).toMatch(/scores\.json: not readable as JSON/);
  });

  it("is listed in cldc --help, and has its own", () => {
    const r = spawnSync(process.execPath, ["bin/cldc.js", "--help"], {
      cwd: ROOT,
      encoding: "utf8",
    });
    expect(r.stdout).toMatch(/cldc compare RUN_DIR RUN_DIR/);
    const own = cldc(["--help"]);
    expect(own.status).toBe(0);
    expect(own.stdout).toMatch(/two-sided sign test/);
  });
});
