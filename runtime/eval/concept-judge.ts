// The concept classifier `cldc eval` scores samples with: examples/concept_judge.cld,
// trained by cldc itself on the real images of the run's concepts (one artist style held
// out to measure its accuracy), once per concept list, and cached — a later eval of any run
// with the same concepts reuses it. A killed training resumes like any `cldc train` run.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { compile, type Compiled } from "../../compiler/compile.ts";
import { conceptFolder, resolveConcepts } from "../../data/concept-list.ts";
import { loadCheckpoint } from "../checkpoint.ts";
import type { Device } from "../device.ts";
import { resizeCHW } from "../features.ts";
import { Session } from "../session.ts";

export const CONCEPT_JUDGE_PROGRAM = fileURLToPath(
  new URL("../../examples/concept_judge.cld", import.meta.url),
);
const STEP = "classify";
const BATCH = 16;
const SIZE = 32;

export interface JudgeOptions {
  /** Where trained judges are kept (default $XDG_CACHE_HOME or ~/.cache, then cld/concept-judge). */
  cacheRoot?: string;
  /** Settings of examples/concept_judge.cld to override (e.g. steps for a quick test). */
  settings?: Record<string, string>;
  log?: (line: string) => void;
  progressStream?: { write(s: string): unknown; isTTY?: boolean };
}

export function judgeCacheRoot(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "cld", "concept-judge");
}

/**
 * The cache directory of a judge: keyed by its concept list, settings and program text, and
 * by the pixels of any folder concept (a folder whose images change gets a new judge).
 */
export function judgeDir(names: string[], opts: JudgeOptions = {}): string {
  const hash = createHash("sha256").update(
    JSON.stringify({
      names,
      settings: opts.settings ?? {},
      program: readFileSync(CONCEPT_JUDGE_PROGRAM, "utf8"),
    }),
  );
  for (const e of resolveConcepts(names.join(","), SIZE))
    if (e.kind === "folder")
      for (const im of conceptFolder(e, SIZE).images)
        hash.update(new Uint8Array(im.pixels.buffer, im.pixels.byteOffset, im.pixels.byteLength));
  const key = hash.digest("hex").slice(0, 16);
  return join(opts.cacheRoot ?? judgeCacheRoot(), key);
}

export class ConceptJudge {
  private constructor(
    private readonly session: Session,
    readonly names: string[],
    /** Accuracy on the held-out artist's drawings, as recorded by the judge's training. */
    readonly heldOutAccuracy: number | null,
    readonly holdOut: string,
    readonly dir: string,
    readonly trainedNow: boolean,
  ) {}

  /** The cached judge for these concepts, training it first if there is none. */
  static async open(gpu: Device, names: string[], opts: JudgeOptions = {}): Promise<ConceptJudge> {
    const dir = judgeDir(names, opts);
    const ckPath = join(dir, "checkpoint.safetensors");
    const settings = new Map<string, string>([
      ["names", names.join(",")],
      ["classify_batch", String(BATCH)],
      ...Object.entries(opts.settings ?? {}),
    ]);
    const log = opts.log ?? (() => {});
    let trainedNow = false;
    const done = () => loadCheckpoint(ckPath)?.state.results?.accuracy !== undefined;
    if (!existsSync(ckPath) || !done()) {
      log(`training the concept judge (${CONCEPT_JUDGE_PROGRAM}) into ${dir}`);
      const c = compile(CONCEPT_JUDGE_PROGRAM, settings, gpu.target);
      const s = new Session(gpu, c, {
        runDir: dir,
        seed: 0,
        checkpointSeconds: 60,
        log,
        resume: true,
        progressStream: opts.progressStream,
      });
      await s.start();
      await s.run();
      trainedNow = true;
    }
    const ck = loadCheckpoint(ckPath)!;
    const c = compile(CONCEPT_JUDGE_PROGRAM, settings, gpu.target);
    const only: Compiled = { ...c, steps: new Map([[STEP, c.steps.get(STEP)!]]) };
    const session = new Session(gpu, only, {
      runDir: dir,
      seed: 0,
      checkpointSeconds: 0,
      log: () => {},
      resume: false,
    });
    for (const [name, data] of ck.tensors) session.store.set(name, data);
    const holdOut = String(ck.state.settings.hold_out ?? "");
    return new ConceptJudge(
      session,
      names,
      ck.state.results?.accuracy ?? null,
      holdOut,
      dir,
      trainedNow,
    );
  }

  /** The predicted concept index of each RGB CHW image in [0, 1] (any square size). */
  async predict(images: readonly Float32Array[]): Promise<number[]> {
    const px = 3 * SIZE * SIZE;
    const out: number[] = [];
    const classes = this.names.length;
    for (let s = 0; s < images.length; s += BATCH) {
      const part = images.slice(s, s + BATCH);
      const x = new Float32Array(BATCH * px);
      part.forEach((img, i) => {
        const side = Math.round(Math.sqrt(img.length / 3));
        const fit = side === SIZE ? img : resizeCHW(img, 3, side, SIZE);
        for (let k = 0; k < px; k++) x[i * px + k] = fit[k] * 2 - 1;
      });
      const logits = (await this.session.invoke(STEP, new Map([["x", x]]))).get("return")!;
      for (let i = 0; i < part.length; i++) {
        let best = 0;
        for (let c = 1; c < classes; c++)
          if (logits[i * classes + c] > logits[i * classes + best]) best = c;
        out.push(best);
      }
    }
    return out;
  }

  /** The fraction of images classified as concept `label`. */
  async accuracy(images: readonly Float32Array[], label: number): Promise<number> {
    const p = await this.predict(images);
    return p.length ? p.filter((y) => y === label).length / p.length : NaN;
  }
}
