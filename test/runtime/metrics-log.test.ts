// RUN_DIR/metrics.jsonl and the loss curves: one line per executed step, and after a crash
// and resume the same file an uninterrupted run writes (lines past the checkpoint dropped).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.ts";
import { decodePngBytes } from "../../runtime/io/png.ts";
import { useGpu } from "../gpu-fixture.ts";
import { MetricsLog } from "../../runtime/metrics-log.ts";
import { Session } from "../../runtime/session.ts";

const FILE = "test/fixtures/runtime/quadratic.cld";
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "cld-metrics-"));
  dirs.push(d);
  return d;
};

const gpu = useGpu(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A session wired like `cldc train` wires it; `crashAt`: throw after that many steps. */
async function run(runDir: string, resume: boolean, crashAt = Infinity) {
  const c = compile(FILE, new Map([["steps", "25"]]), { subgroups: gpu().hasSubgroups });
  const metrics = new MetricsLog(runDir);
  let calls = 0;
  const s = new Session(gpu(), c, {
    runDir,
    seed: 0,
    checkpointSeconds: 0,
    checkpointSteps: 10,
    resume,
    log: () => {},
    progressStream: { write: () => true },
    onStep: (step, logs, at) => {
      metrics.append({
        event: at.event,
        step,
        optimizer_step: at.optimizerStep,
        values: Object.fromEntries(logs),
      });
      if (++calls === crashAt) throw new Error("killed");
    },
    onCheckpoint: () => metrics.render(),
  });
  await s.start();
  metrics.reset(s.resumedEvents);
  await s.run();
  metrics.render();
  return readFileSync(metrics.path, "utf8");
}

describe("metrics.jsonl", () => {
  it("has one line per step with the optimizer step, and survives a crash and resume unchanged", async () => {
    const ref = await run(tmp(), false);
    const lines = ref
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(25);
    expect(lines[0]).toMatchObject({ event: 1, step: "descend", optimizer_step: 1 });
    expect(lines[24]).toMatchObject({ event: 25, optimizer_step: 25 });
    // loss = Σ(3w−1)² decreases under AdamW from its random start.
    expect(lines[24].values.loss).toBeLessThan(lines[0].values.loss);

    const dir = tmp();
    await expect(run(dir, false, 17)).rejects.toThrow("killed"); // checkpoint at event 10
    const torn = readFileSync(join(dir, "metrics.jsonl"), "utf8");
    expect(torn.trim().split("\n")).toHaveLength(17);
    writeFileSync(join(dir, "metrics.jsonl"), torn + '{"event": 18, "st'); // a torn last line
    const resumed = await run(dir, true);
    expect(resumed).toBe(ref); // bit-identical training, no duplicate or torn lines

    // The curves are drawn: a valid SVG with the series' title, and a PNG of it.
    const svg = readFileSync(join(dir, "loss.svg"), "utf8");
    expect(svg).toMatch(/^<svg /);
    expect(svg).toContain(">loss");
    const png = decodePngBytes(readFileSync(join(dir, "loss.png")));
    expect(png.width).toBeGreaterThan(100);
  });

  it("a fresh run empties an old file", () => {
    const dir = tmp();
    writeFileSync(join(dir, "metrics.jsonl"), '{"event":1,"step":"x","values":{}}\n');
    new MetricsLog(dir).reset(0);
    expect(readFileSync(join(dir, "metrics.jsonl"), "utf8")).toBe("");
    expect(existsSync(join(dir, "loss.svg"))).toBe(false);
  });
});
