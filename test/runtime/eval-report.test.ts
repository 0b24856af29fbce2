// eval/report.ts on an older scores.json: an eval from before the "real images" column and
// the denoising loss reads back with those cells as "—", not as 0 % or NaN.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readScores, reportMarkdown } from "../../runtime/eval/report.ts";

const dir = mkdtempSync(join(tmpdir(), "cld-eval-report-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The same result after a round trip through scores.json (NaN is written as null). */
function rewritten(r: ReturnType<typeof readScores>) {
  const file = join(dir, "again.json");
  writeFileSync(
    file,
    JSON.stringify(r, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v)),
  );
  return readScores(file);
}

describe("eval report of an older scores.json", () => {
  it("shows missing columns as —", () => {
    const file = join(dir, "scores.json");
    writeFileSync(
      file,
      JSON.stringify({
        runDir: dir,
        program: "CLoRA (examples/clora.cld)",
        concepts: ["octopus", "snail"],
        options: { n: 8, steps: 20, guidance: 3, seed: 0 },
        accuracy: [
          [0.75, null],
          [0.5, 0.25],
        ],
        kid: [
          [0.01, null],
          [0.02, 0.03],
        ],
        judge: {
          classes: 2,
          heldOutAccuracy: 0.8,
          holdOut: "twemoji",
          dir: "x",
          trainedNow: false,
        },
        realImages: [8, 7],
        params: { base: 100, trainedPerTask: 10, storedFinal: 20, storedBytesFinal: 2048 },
        base: { path: "models/base.safetensors", sha256: "ab".repeat(32), matchesRecorded: true },
        timing: {
          trainSeconds: [10, 12],
          judgeSeconds: 1,
          sampleSeconds: 2,
          featureSeconds: 3,
          evalSeconds: 6,
        },
      }),
    );
    const r = readScores(file);
    expect(r.accuracySummary.finalAverage).toBeCloseTo(0.375, 12);
    expect(r.accuracySummary.forgetting).toBeCloseTo(0.25, 12);
    for (const md of [reportMarkdown(r), reportMarkdown(rewritten(r))]) {
      expect(md).toContain("| 1. octopus (`<v1>`) | 75% | 50% | — |"); // no real-images cell
      expect(md).toContain("| **average** | **75%** | **38%** | — |");
    }
    const md = reportMarkdown(r);
    expect(md).toContain("| denoising loss ×10³ | — | — | — |");
    expect(md).toContain("| the last snapshot file (whole tensors) | 20 (2 KiB) |");
  });
});
