// Per-task snapshots and `cldc eval` end to end on a tiny base (as in clora.test.ts): a
// C-LoRA run of two concepts is killed during task 2 and resumed (the first snapshot is
// neither rewritten nor lost), then evaluated with a few samples and a concept judge trained
// for two steps. Checks the snapshot's contents, the files of RUN_DIR/eval/ and the shape
// and range of the score matrices — not the scores themselves (the models are untrained).
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { decodePngBytes } from "../../runtime/io/png.ts";
import { readScores, writeReport } from "../../runtime/eval/report.ts";
import { prepareRun, runEval, type EvalOptions } from "../../runtime/eval/run-eval.ts";
import { EvalInputError, SnapshotModel } from "../../runtime/eval/snapshot-model.ts";
import { readSnapshot, snapshotPath, writeSnapshot } from "../../runtime/eval/snapshot.ts";
import { modelHash } from "../../runtime/checkpoint.ts";
import { compile } from "../../compiler/compile.ts";
import { useGpu } from "../gpu-fixture.ts";
import { removeRunDirs, runDir, session, train } from "./helpers.ts";

let cache: string;
const gpu = useGpu(() => {
  removeRunDirs();
  if (cache) rmSync(cache, { recursive: true, force: true });
});
beforeAll(() => {
  cache = mkdtempSync(join(tmpdir(), "cld-judge-cache-"));
});

const CLORA = (base: string) => ({
  base,
  ch: "8",
  text_dim: "16",
  size: "16",
  tasks: "2",
  steps: "3",
  batch: "2",
  names: "octopus,snail",
  sample_batch: "4",
});

/** The eval settings of these tests: 2 samples × 2 DDIM steps, a judge trained 2 steps. */
const evalOptions = (more: Partial<EvalOptions> = {}): EvalOptions => ({
  n: 2,
  steps: 2,
  guidance: 3,
  seed: 0,
  judge: { cacheRoot: cache, settings: { steps: "2", batch: "4" } },
  progressStream: { write: () => true },
  ...more,
});

describe("snapshots and cldc eval", () => {
  it("snapshots each task across a kill and a resume, then evaluates them", async () => {
    const baseDir = runDir();
    await train(gpu(), "test/fixtures/sample/pretrain-init.cld", {}, { runDir: baseDir });
    const base = join(baseDir, "checkpoint.safetensors");
    const dir = runDir();

    // Killed at the second step of task 2 (step calls 1-3 are task 1).
    let calls = 0;
    const killed = session(gpu(), "examples/clora.cld", CLORA(base), {
      runDir: dir,
      resume: true,
      onStep: () => {
        if (++calls === 5) throw new Error("killed");
      },
    });
    await killed.session.start();
    await expect(killed.session.run()).rejects.toThrow("killed");
    const first = snapshotPath(dir, "after_task", 0);
    expect(existsSync(first)).toBe(true);
    expect(existsSync(snapshotPath(dir, "after_task", 1))).toBe(false);
    const firstBytes = readFileSync(first);
    const firstTime = statSync(first).mtimeMs;

    const resumed = session(gpu(), "examples/clora.cld", CLORA(base), {
      runDir: dir,
      resume: true,
    });
    expect(await resumed.session.start()).toBe("resumed");
    await resumed.session.run();
    // Task 2 again from its start (the last checkpoint came with snapshot 0), and no more.
    expect(resumed.logs.length).toBe(3);
    expect(readFileSync(first).equals(firstBytes)).toBe(true);
    expect(statSync(first).mtimeMs).toBe(firstTime);

    const s0 = readSnapshot(first);
    const s1 = readSnapshot(snapshotPath(dir, "after_task", 1));
    expect(s0.meta.resumed).toBe(false);
    expect(s1.meta.resumed).toBe(true);
    expect(s1.meta.index).toBe(1);
    expect(s1.meta.base?.path).toBe(base);
    expect(s1.meta.settings.names).toBe("octopus,snail");
    expect(s1.meta.vocab).toBeDefined();
    // What training changed, not the frozen base or the optimizer state.
    const names = [...s1.tensors.keys()];
    expect(names).toContain("text.tok");
    expect(names.some((n) => n.startsWith("kv.a."))).toBe(true);
    expect(names.some((n) => n.startsWith("kv.b."))).toBe(true);
    expect(names.some((n) => n.startsWith("kv.past."))).toBe(true);
    expect(names.filter((n) => n.startsWith("unet.") || n.startsWith("opt."))).toEqual([]);
    // The past sum grows from task 1 to task 2.
    const past = "kv.past.unet.h2.s_1.wk";
    expect(s1.tensors.get(past)).not.toEqual(s0.tensors.get(past));

    // Eval: judge accuracy and KID for concept i <= t after each task t.
    const result = await runEval(gpu(), prepareRun(dir), evalOptions());
    expect(result.concepts).toEqual(["octopus", "snail"]);
    for (const m of [result.accuracy, result.kid]) {
      expect(m.length).toBe(2);
      expect(m.every((row) => row.length === 2)).toBe(true);
      expect(Number.isNaN(m[0][1])).toBe(true); // snail is not learned after task 1
      for (const [t, i] of [
        [0, 0],
        [1, 0],
        [1, 1],
      ])
        expect(Number.isFinite(m[t][i]), `${t},${i}`).toBe(true);
    }
    // The denoising loss: defined where the judge is, positive, and a base reference each.
    expect(Number.isNaN(result.loss[0][1])).toBe(true);
    for (const v of [result.loss[0][0], result.loss[1][0], result.loss[1][1], ...result.lossBase])
      expect(v > 0 && v < 10).toBe(true);
    expect(result.lossBase).toHaveLength(2);
    // Task 2 trains snail's token, not octopus's: octopus's loss moves only through the
    // adapters, snail's is its own token's doing; both differ from the untrained base.
    expect(result.loss[1][1]).not.toBe(result.lossBase[1]);
    for (const v of [result.accuracy[0][0], result.accuracy[1][0], result.accuracy[1][1]])
      expect(v === 0 || v === 0.5 || v === 1).toBe(true); // two samples each
    expect(result.judge.classes).toBe(2);
    // The judge on each concept's real drawings: one fraction per concept.
    expect(result.judge.realAccuracy).toHaveLength(2);
    for (const v of result.judge.realAccuracy) expect(v >= 0 && v <= 1).toBe(true);
    // Stored: the adapter's tensors whole, and of the token table only the two learned
    // rows (text_dim 16 each), not the whole table the snapshot file carries.
    let adapterValues = 0;
    for (const [name, data] of s1.tensors) if (name.startsWith("kv.")) adapterValues += data.length;
    expect(result.params.storedFinal).toBe(adapterValues + 2 * 16);
    expect(result.params.fileValuesFinal).toBe(s1.storedValues);
    expect(s1.storedValues).toBeGreaterThan(adapterValues + 2 * 16);
    expect(result.params.trainedPerTask).toBeGreaterThan(0);
    expect(result.params.trainedPerTask).toBeLessThan(result.params.storedFinal);

    const report = writeReport(result);
    const out = join(dir, "eval");
    expect(report).toBe(join(out, "report.md"));
    for (const f of [
      "report.md",
      "grid.png",
      "scores.svg",
      "scores.png",
      "index.html",
      "scores.json",
    ])
      expect(existsSync(join(out, f)), f).toBe(true);
    const json = JSON.parse(readFileSync(join(out, "scores.json"), "utf8"));
    expect(json.accuracy[0][1]).toBeNull();
    expect(json.kid[1].every((v: unknown) => typeof v === "number")).toBe(true);
    const grid = decodePngBytes(readFileSync(join(out, "grid.png")));
    expect(grid.width).toBeGreaterThan(2 * 2 * 16); // two columns of 2×2 samples of 16 px
    expect(decodePngBytes(readFileSync(join(out, "scores.png"))).width).toBeGreaterThan(100);
    expect(readFileSync(report, "utf8")).toMatch(/\| judge accuracy \|/);
    expect(readFileSync(report, "utf8")).toMatch(
      /\| concept \| after 1 \| after 2 \| real images \|/,
    );
    expect(readFileSync(report, "utf8")).toMatch(/\| denoising loss ×10³ \|/);
    expect(readFileSync(report, "utf8")).toMatch(/\| after 2 \| base, no token \|/);
    expect(json.loss[0][1]).toBeNull();
    // The page shows every sample of each concept after the last task (pairs/ strips).
    const html = readFileSync(join(out, "index.html"), "utf8");
    for (const strip of ["pairs/after_2-concept_1.png", "pairs/after_2-concept_2.png"]) {
      expect(html).toContain(`src="${strip}"`);
      expect(decodePngBytes(readFileSync(join(out, strip))).width).toBe(2 * 16); // n = 2 samples
    }

    // A loss-only eval keeps the judge's and KID's scores and samples nothing; its loss is
    // the same at another batch size (n = 1: other chunks, other padding), since rows of
    // the denoise step do not see each other.
    const lossOnly = await runEval(gpu(), prepareRun(dir), {
      n: 1,
      steps: 1,
      guidance: 3,
      seed: 0,
      lossOnlyOver: readScores(join(out, "scores.json")),
      progressStream: { write: () => true },
    });
    expect(lossOnly.accuracy).toEqual(result.accuracy);
    expect(lossOnly.options).toEqual(result.options);
    expect(lossOnly.samples.flat().every((c) => c === null)).toBe(true);
    for (const [t, i] of [
      [0, 0],
      [1, 0],
      [1, 1],
    ])
      expect(Math.abs(lossOnly.loss[t][i] - result.loss[t][i])).toBeLessThan(
        1e-5 * result.loss[t][i],
      );
    const gridBefore = statSync(join(out, "grid.png")).mtimeMs;
    writeReport(lossOnly);
    expect(statSync(join(out, "grid.png")).mtimeMs).toBe(gridBefore); // the samples' grid stays

    // A snapshot written before lora(...) kept its factors (no kept_a/kept_b/merged; its
    // model hash without them) still opens; one whose other parameters differ does not.
    const c = compile("examples/clora.cld", new Map(Object.entries(CLORA(base))), {
      subgroups: false,
    });
    const shapes = new Map<string, number[]>();
    for (const [name, info] of c.program.registry.params) shapes.set(name, info.type.shape);
    const isKept = (n: string) => /^kv\.(kept_a|kept_b|merged)/.test(n);
    expect([...shapes.keys()].some(isKept)).toBe(true);
    const oldShapes = new Map([...shapes].filter(([n]) => !isKept(n)));
    const oldTensors = new Map([...s0.tensors].filter(([n]) => !isKept(n)));
    const oldSnap = (hash: string) => {
      const path = join(runDir(), "after_task_0.safetensors");
      writeSnapshot(path, oldTensors, shapes, { ...s0.meta, modelHash: hash });
      return readSnapshot(path);
    };
    await expect(
      SnapshotModel.open(gpu(), oldSnap(modelHash(oldShapes)), base, 1),
    ).resolves.toBeInstanceOf(SnapshotModel);
    oldShapes.set("unet.extra", [3]);
    await expect(SnapshotModel.open(gpu(), oldSnap(modelHash(oldShapes)), base, 1)).rejects.toThrow(
      /no longer builds the model/,
    );

    // The first eval's settings again, after a "kill" lost one pair's record: the other two
    // pairs come from eval/pairs/ (same scores; samples as stored, 8-bit), one is scored anew.
    rmSync(join(out, "pairs", "after_2-concept_2.json"));
    const resumedLines: string[] = [];
    const resumedEval = await runEval(
      gpu(),
      prepareRun(dir),
      evalOptions({ log: (l) => resumedLines.push(l) }),
    );
    expect(resumedLines).toContain(
      `reused 2 of 3 pairs scored by an earlier eval (${join(out, "pairs")})`,
    );
    for (const m of ["accuracy", "kid", "loss"] as const)
      for (const [t, i] of [
        [0, 0],
        [1, 0],
        [1, 1],
      ])
        expect(Math.abs(resumedEval[m][t][i] - result[m][t][i]), `${m} ${t},${i}`).toBeLessThan(
          1e-6 * Math.abs(result[m][t][i]) + 1e-9,
        );
    for (const [t, i] of [
      [0, 0],
      [1, 0],
    ])
      resumedEval.samples[t][i]!.forEach((img, k) => {
        const orig = result.samples[t][i]![k];
        for (let p = 0; p < img.length; p++)
          expect(Math.abs(img[p] - orig[p])).toBeLessThanOrEqual(0.5 / 255 + 1e-6);
      });

    // The judge is cached: a second eval does not train it again. Its settings differ
    // (1 DDIM step, no KID), so no pair scored before is reused.
    const lines: string[] = [];
    const again = await runEval(
      gpu(),
      prepareRun(dir),
      evalOptions({ steps: 1, noKid: true, log: (l) => lines.push(l) }),
    );
    expect(result.judge.trainedNow).toBe(true);
    expect(again.judge.trainedNow).toBe(false);
    expect(lines.some((l) => l.startsWith("reused"))).toBe(false);
  });

  it("reports a run directory without snapshots as bad input", () => {
    expect(() => prepareRun(runDir())).toThrow(EvalInputError);
    expect(() => prepareRun(runDir())).toThrow(/has no snapshots/);
  });
});
