// The run-block command sample(...): grids of the weights being trained, written to
// RUN_DIR/samples/step_<optimizer step>.png without changing training, and never redone
// (nor lost) by a resumed run.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.ts";
import { useGpu } from "../gpu-fixture.ts";
import { readPng } from "../../runtime/io/png.ts";
import { Session, StoppedError } from "../../runtime/session.ts";

const FIXTURE = "test/fixtures/sample/tiny-pretrain.cld";
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "cld-sample-grid-"));
  dirs.push(d);
  return d;
};

const gpu = useGpu(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Opts {
  file?: string;
  resume?: boolean;
  /** Called with the 1-based number of each step call of this session. */
  onCall?: (n: number, s: Session) => void;
}

async function train(runDir: string, o: Opts = {}) {
  const c = compile(o.file ?? FIXTURE, new Map(), { subgroups: gpu().hasSubgroups });
  const lines: string[] = [];
  const losses: number[] = [];
  let calls = 0;
  const s: Session = new Session(gpu(), c, {
    runDir,
    seed: 0,
    checkpointSeconds: 0,
    checkpointSteps: 3,
    resume: o.resume ?? false,
    log: (l) => lines.push(l),
    progressStream: { write: () => true },
    onStep: (_n, logs) => {
      losses.push(logs.get("loss")!);
      o.onCall?.(++calls, s);
    },
  });
  await s.start();
  await s.run();
  return { lines, losses, tensors: await s.store.readAll() };
}

const samples = (dir: string) =>
  existsSync(join(dir, "samples")) ? readdirSync(join(dir, "samples")).sort() : [];

describe("sample(...) in a run block", () => {
  it("writes a prompts × n grid per call from the EMA weights, and training is unchanged", async () => {
    const dir = tmp();
    const withSamples = await train(dir);
    expect(samples(dir)).toEqual(["step_3.png", "step_6.png"]);
    // 3 prompts (rows) × n: 4 (columns) of 8×8 images, 2 px padding around each cell.
    const png = readPng(join(dir, "samples", "step_3.png"));
    expect([png.width, png.height]).toEqual([2 + 4 * (8 + 2), 2 + 3 * (8 + 2)]);
    // Rows are prompts: the tiny model adds a per-prompt colour, so rows differ.
    const row = (r: number) =>
      png.data.subarray((2 + r * 10 + 4) * png.width * 3, (2 + r * 10 + 5) * png.width * 3);
    expect([...row(0)]).not.toEqual([...row(1)]);
    const captions = withSamples.lines.filter((l) => l.startsWith("sample: "));
    expect(captions).toHaveLength(2);
    expect(captions[0]).toContain("step_3.png (3×4, 4 DDIM steps, guidance 3, EMA weights");
    expect(captions[0]).toContain('"grinning face" | "red apple" | "cat"');

    // The same program without the sample command trains to bit-identical weights.
    const plainFile = join(tmp(), "plain.cld");
    const source = readFileSync(FIXTURE, "utf8");
    const plainSource = source.replace(/^\s*sample\(denoise.*$/m, "");
    expect(plainSource).not.toBe(source);
    writeFileSync(plainFile, plainSource);
    const plain = await train(tmp(), { file: plainFile });
    expect(plain.losses).toEqual(withSamples.losses);
    expect([...plain.tensors.keys()]).toEqual([...withSamples.tensors.keys()]);
    for (const [name, t] of plain.tensors)
      expect(
        Buffer.from(withSamples.tensors.get(name)!.buffer).equals(Buffer.from(t.buffer)),
        name,
      ).toBe(true);
  });

  it("a resumed run neither redoes a grid written before its checkpoint nor loses one", async () => {
    // Crash in step 5: the checkpoint (event 3) was written after the step-3 grid.
    const dir = tmp();
    await expect(
      train(dir, {
        onCall: (n) => {
          if (n === 5) throw new Error("killed");
        },
      }),
    ).rejects.toThrow("killed");
    expect(samples(dir)).toEqual(["step_3.png"]);
    const before = readFileSync(join(dir, "samples", "step_3.png"));
    const resumed = await train(dir, { resume: true });
    expect(resumed.lines.filter((l) => l.startsWith("sample: "))).toEqual([
      expect.stringContaining("step_6.png"),
    ]);
    expect(readFileSync(join(dir, "samples", "step_3.png")).equals(before)).toBe(true);

    // Stopped (Ctrl-C) right after step 3: its checkpoint precedes the step-3 grid, which
    // the resumed run then draws — the same grid an uninterrupted run draws.
    const stopped = tmp();
    await expect(
      train(stopped, { onCall: (n, s) => n === 3 && s.requestStop() }),
    ).rejects.toBeInstanceOf(StoppedError);
    expect(samples(stopped)).toEqual([]);
    await train(stopped, { resume: true });
    expect(samples(stopped)).toEqual(["step_3.png", "step_6.png"]);
    expect(readFileSync(join(stopped, "samples", "step_3.png")).equals(before)).toBe(true);
  });
});
