// Does the prompt matter? Samples a text-to-image model for each of the judge's names
// (prompt = the name's caption, "face with tears of joy") and with an empty prompt, and
// reports how often the judge (examples/judge.cld, a concept classifier trained on real
// emoji) recognizes the prompted name: top-1 and top-5 accuracy, against the same on
// unconditional samples, and on real images of the judge's held-out artist for reference.
//
//   npx tsx tools/judge-samples.ts --judge runs/judge/checkpoint.safetensors \
//       --model runs/pretrain/checkpoint.safetensors --names 50 --per-name 4 --steps 25
//
// Works with any checkpoint of a program that has a `denoise` step sized by a
// `sample_batch` setting (examples/pretrain.cld), trained or not: an untrained model
// scores about chance. Instead of --model, already generated grids can be judged:
// `--grid samples.png=octopus` (repeatable) and `--uncond-grid uncond.png`.
//
// In-process: `Judge` (classify images with a judge checkpoint), `ModelSampler` (raw
// samples of a model checkpoint for a list of prompts), `judgeScores` and `openCheckpoint`.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import {
  emaSources,
  firstMismatch,
  locateProgramFile,
  settingText,
} from "../runtime/checkpoint-model.ts";
import { compile, findProgram, load, type Compiled } from "../compiler/compile.ts";
import type { ProgramDecl } from "../grammar/ast.ts";
import { emojiTokenizer, MAX_TOKENS } from "../data/emoji-text.ts";
import { loadCheckpoint, type HostState } from "../runtime/checkpoint.ts";
import { emojiItems } from "../runtime/data-sources.ts";
import { gridImages, kid, loadFeatureExtractor, resizeCHW } from "../runtime/features.ts";
import { Gpu } from "../runtime/gpu.ts";
import { imageGrid, readPng, writePng } from "../runtime/io/png.ts";
import { readSafetensorsHeader } from "../runtime/io/safetensors.ts";
import { gridShape, sample, SAMPLERS, toUnitImages, type SamplerKind } from "../runtime/sampler.ts";
import { Session } from "../runtime/session.ts";

// ------------------------------------------------------------------ checkpoints

export interface OpenedCheckpoint {
  compiled: Compiled;
  session: Session;
  state: HostState;
  entry: string;
  /** How the weights were chosen (EMA or raw). */
  weights: string;
}

/**
 * Rebuilds the program a checkpoint was trained with (its recorded file and settings, with
 * `overrides`), loads the checkpoint's tensors (EMA copies in place of the parameters
 * unless `ema` is false) and opens a session that can `invoke` one host-fed step.
 */
export async function openCheckpoint(
  gpu: Gpu,
  ckPath: string,
  step: string,
  opts: { overrides?: Record<string, string>; ema?: boolean; seed?: number } = {},
): Promise<OpenedCheckpoint> {
  const header = readSafetensorsHeader(ckPath);
  const raw = header.metadata["cld.state"];
  if (!raw) throw new Error(`${ckPath} is not a cld training checkpoint (no cld.state metadata)`);
  const state = JSON.parse(raw) as HostState;
  const entry = programFile(ckPath, state.entry);
  const decl = findProgram(load(entry), state.program);
  const settings = new Map<string, string>();
  for (const [k, v] of Object.entries(state.settings ?? {})) {
    if (v === null || v === undefined) continue;
    const p = decl.params.find((q) => q.name.name === k);
    if (!p)
      throw new Error(
        `${ckPath} was trained with setting '${k}', which ${decl.name.name} no longer has`,
      );
    settings.set(k, settingText(p, v));
  }
  for (const [k, v] of Object.entries(opts.overrides ?? {})) {
    if (!decl.params.some((q) => q.name.name === k))
      throw new Error(`program ${decl.name.name} (${entry}) has no setting '${k}'`);
    settings.set(k, v);
  }
  const c = compile(entry, settings, { subgroups: gpu.hasSubgroups }, decl.name.name);
  if (!hasStep(decl, step) || !c.steps.has(step))
    throw new Error(`program ${decl.name.name} (${entry}) has no step '${step}'`);
  const reg = c.program.registry.params;
  const mismatch = firstMismatch(header.entries, reg);
  if (mismatch)
    throw new Error(`${ckPath} does not match program ${c.program.name} (${entry}): ${mismatch}`);
  const only: Compiled = { ...c, steps: new Map([[step, c.steps.get(step)!]]) };
  const session = new Session(gpu, only, {
    runDir: dirname(ckPath),
    seed: opts.seed ?? 0,
    checkpointSeconds: 0,
    log: () => {},
    resume: false,
  });
  await gpu.checkErrors();
  const ck = loadCheckpoint(ckPath)!;
  for (const [name, data] of ck.tensors) session.store.set(name, data);
  const ema = opts.ema === false ? new Map<string, string>() : emaSources(ck.tensors.keys(), reg);
  for (const [param, src] of ema) session.store.set(param, ck.tensors.get(src)!);
  const weights = ema.size ? `EMA weights (${ema.size} parameters)` : "raw weights";
  return { compiled: c, session, state, entry, weights };
}

function hasStep(decl: ProgramDecl, step: string): boolean {
  return decl.members.some((m) => m.kind === "Step" && m.name.name === step);
}

/** The program file of a checkpoint: as recorded, else relative to a directory above it. */
function programFile(ckPath: string, entry: string | undefined): string {
  if (!entry) throw new Error(`${ckPath} does not record its program file`);
  const found = locateProgramFile(ckPath, entry);
  if (found) return found;
  throw new Error(`${ckPath} was trained from ${entry}, which is not found from ${process.cwd()}`);
}

function inputBuffer(c: Compiled, step: string, name: string) {
  const b = c.steps.get(step)!.plan.buffers.find((x) => x.kind === "input" && x.name === name);
  if (!b) throw new Error(`step ${step} of ${c.program.name} has no input '${name}'`);
  return b;
}

// ------------------------------------------------------------------ the judge

/** The judge's host-fed step: classify(x: [classify_batch, 3, S, S]) -> logits. */
const JUDGE_STEP = "classify";
const JUDGE_BATCH = "classify_batch";

export interface JudgeScores {
  n: number;
  top1: number;
  top5: number;
}

export class Judge {
  private constructor(
    private readonly ck: OpenedCheckpoint,
    /** Concept names in label order (the judge's training data). */
    readonly names: string[],
    readonly captions: string[],
    readonly batch: number,
    readonly size: number,
    /** The judge's emoji data arguments (min_styles, hold_out, ...). */
    readonly data: Record<string, number | string | boolean>,
  ) {}

  static async load(gpu: Gpu, ckPath: string, batch = 32): Promise<Judge> {
    const ck = await openCheckpoint(gpu, ckPath, JUDGE_STEP, {
      overrides: { [JUDGE_BATCH]: String(batch) },
    });
    const x = inputBuffer(ck.compiled, JUDGE_STEP, "x");
    if (
      x.shape.length !== 4 ||
      x.shape[0] !== batch ||
      x.shape[1] !== 3 ||
      x.shape[2] !== x.shape[3]
    )
      throw new Error(
        `the judge's ${JUDGE_STEP} step takes x [${x.shape.join(", ")}], expected [${batch}, 3, S, S]`,
      );
    const spec = [...ck.compiled.program.data.values()].find(
      (d) => d.source === "emoji" && d.args.split === "train",
    );
    if (!spec)
      throw new Error(`the judge program ${ck.state.program} reads no emoji training data`);
    const concepts = emojiItems(spec.args).concepts;
    const ret = ck.compiled.steps.get(JUDGE_STEP)!.plan.outputs.find((o) => o.name === "return");
    const classes = ret
      ? ck.compiled.steps.get(JUDGE_STEP)!.plan.buffers[ret.buffer].bytes / 4 / batch
      : 0;
    if (classes !== concepts.length)
      throw new Error(
        `the judge has ${classes} outputs but its data has ${concepts.length} names; retrain it with classes = ${concepts.length}`,
      );
    return new Judge(
      ck,
      concepts.map((c) => c.name),
      concepts.map((c) => c.caption),
      batch,
      x.shape[2],
      spec.args,
    );
  }

  get state(): HostState {
    return this.ck.state;
  }

  /** Logits for RGB CHW images in [0, 1] (any square size; resized to the judge's). */
  async logits(images: readonly Float32Array[]): Promise<Float32Array[]> {
    const px = 3 * this.size * this.size;
    const out: Float32Array[] = [];
    for (let s = 0; s < images.length; s += this.batch) {
      const x = new Float32Array(this.batch * px);
      const part = images.slice(s, s + this.batch);
      part.forEach((img, i) => {
        const side = Math.round(Math.sqrt(img.length / 3));
        const fit = side === this.size ? img : resizeCHW(img, 3, side, this.size);
        for (let k = 0; k < px; k++) x[i * px + k] = fit[k] * 2 - 1;
      });
      const r = (await this.ck.session.invoke(JUDGE_STEP, new Map([["x", x]]))).get("return")!;
      const c = this.names.length;
      for (let i = 0; i < part.length; i++)
        out.push(Float32Array.from(r.subarray(i * c, (i + 1) * c)));
    }
    return out;
  }

  /** Held-out-style (test split) real images of the judge's data, with labels. */
  heldOut(): { images: Float32Array[]; labels: number[] } {
    const items = emojiItems({ ...this.data, split: "test" });
    const px = 3 * items.size * items.size;
    const images = Array.from({ length: items.n }, (_, i) =>
      items.x.slice(i * px, (i + 1) * px).map((v) => (v + 1) / 2),
    );
    return { images, labels: [...items.y] };
  }
}

/** The label's rank among the logits: how many classes score strictly higher. */
export function labelRank(logits: ArrayLike<number>, label: number): number {
  let r = 0;
  for (let i = 0; i < logits.length; i++) if (logits[i] > logits[label]) r++;
  return r;
}

/** Top-1 and top-5 accuracy of logits against labels. */
export function judgeScores(
  logits: readonly ArrayLike<number>[],
  labels: readonly number[],
): JudgeScores {
  if (logits.length !== labels.length)
    throw new Error(`judgeScores: ${logits.length} images but ${labels.length} labels`);
  let top1 = 0;
  let top5 = 0;
  logits.forEach((l, i) => {
    const r = labelRank(l, labels[i]);
    if (r === 0) top1++;
    if (r < 5) top5++;
  });
  const n = logits.length;
  return { n, top1: n ? top1 / n : 0, top5: n ? top5 / n : 0 };
}

/**
 * The unconditional baseline without the luck of one label assignment: the expected
 * accuracy of each image against a label drawn uniformly from `labels` (the evaluated
 * names), averaged over the images.
 */
export function labelAveragedScores(
  logits: readonly ArrayLike<number>[],
  labels: readonly number[],
): JudgeScores {
  const set = [...new Set(labels)];
  let top1 = 0;
  let top5 = 0;
  for (const l of logits) {
    for (const y of set) {
      const r = labelRank(l, y);
      if (r === 0) top1++;
      if (r < 5) top5++;
    }
  }
  const n = logits.length;
  const d = n * set.length;
  return { n, top1: d ? top1 / d : 0, top5: d ? top5 / d : 0 };
}

// ------------------------------------------------------------------ the model

const DENOISE_STEP = "denoise";
const SAMPLE_BATCH = "sample_batch";

export interface GenerateOptions {
  steps: number;
  guidance: number;
  seed: number;
  sampler: SamplerKind;
  /** Called after each batch with the images done so far. */
  onProgress?: (done: number, total: number) => void;
}

/** Draws raw samples from a model checkpoint, many prompts per denoise call. */
export class ModelSampler {
  private constructor(
    private readonly ck: OpenedCheckpoint,
    /** Images per call: `batch` prompted images, or 2·batch unconditional ones. */
    readonly batch: number,
    readonly channels: number,
    readonly size: number,
  ) {}

  static async load(
    gpu: Gpu,
    ckPath: string,
    opts: { batch?: number; ema?: boolean } = {},
  ): Promise<ModelSampler> {
    const batch = opts.batch ?? 16;
    const ck = await openCheckpoint(gpu, ckPath, DENOISE_STEP, {
      overrides: { [SAMPLE_BATCH]: String(2 * batch) },
      ema: opts.ema,
    });
    const x = inputBuffer(ck.compiled, DENOISE_STEP, "x");
    const tok = inputBuffer(ck.compiled, DENOISE_STEP, "tokens");
    if (x.shape.length !== 4 || x.shape[0] !== 2 * batch || x.shape[2] !== x.shape[3])
      throw new Error(
        `the model's denoise step takes x [${x.shape.join(", ")}], expected [${2 * batch}, C, S, S]`,
      );
    if (tok.shape[1] !== MAX_TOKENS)
      throw new Error(
        `the model's denoise step takes ${tok.shape[1]} tokens per row, expected ${MAX_TOKENS}`,
      );
    return new ModelSampler(ck, batch, x.shape[1], x.shape[2]);
  }

  get weights(): string {
    return this.ck.weights;
  }

  get program(): string {
    return `${this.ck.state.program} (${this.ck.entry})`;
  }

  /**
   * One image per prompt, as RGB CHW floats in [0, 1]. An empty prompt gives an
   * unconditional sample (no guidance); the rest use classifier-free guidance.
   */
  async generate(prompts: readonly string[], opts: GenerateOptions): Promise<Float32Array[]> {
    if (!SAMPLERS.includes(opts.sampler)) throw new Error(`unknown sampler '${opts.sampler}'`);
    const tokenizer = emojiTokenizer();
    const empty = tokenizer.encode("", MAX_TOKENS);
    const per = this.channels * this.size * this.size;
    const rows = 2 * this.batch;
    const x = new Float32Array(rows * per);
    const t = new Float32Array(rows);
    const tokens = new Int32Array(rows * MAX_TOKENS);
    const feeds = new Map<string, Float32Array | Int32Array>([
      ["x", x],
      ["t", t],
      ["tokens", tokens],
    ]);
    const eps = async (time: number) => {
      t.fill(time);
      const e = (await this.ck.session.invoke(DENOISE_STEP, feeds)).get("return")!;
      for (let i = 0; i < e.length; i++)
        if (!Number.isFinite(e[i]))
          throw new Error(`the model's noise prediction is ${e[i]} at t = ${time.toFixed(3)}`);
      return e;
    };
    const out = new Array<Float32Array>(prompts.length);
    const cond = prompts.flatMap((p, i) => (p.trim() ? [i] : []));
    const uncond = prompts.flatMap((p, i) => (p.trim() ? [] : [i]));
    let done = 0;
    let chunk = 0;
    const store = (idx: number[], x0: Float64Array) => {
      const imgs = toUnitImages(x0.subarray(0, idx.length * per), idx.length);
      idx.forEach((j, k) => (out[j] = this.channels === 3 ? imgs[k] : greyToRgb(imgs[k])));
      done += idx.length;
      opts.onProgress?.(done, prompts.length);
    };
    // Prompted: the first half of the rows carries the prompts, the second half the empty
    // caption; both see the same x, and guidance mixes their predictions.
    for (let s = 0; s < cond.length; s += this.batch, chunk++) {
      const idx = cond.slice(s, s + this.batch);
      for (let r = 0; r < rows; r++) {
        const text = r < idx.length ? prompts[idx[r]] : "";
        tokens.set(r < idx.length ? tokenizer.encode(text, MAX_TOKENS) : empty, r * MAX_TOKENS);
      }
      const half = this.batch * per;
      const x0 = await sample(
        {
          size: half,
          steps: opts.steps,
          guidance: opts.guidance,
          seed: chunkSeed(opts.seed, chunk),
          sampler: opts.sampler,
        },
        async (xs, time) => {
          for (let i = 0; i < half; i++) x[i] = x[half + i] = xs[i];
          const e = await eps(time);
          return { cond: e.subarray(0, half), uncond: e.subarray(half) };
        },
      );
      store(idx, x0);
    }
    // Unconditional: every row is an image of its own.
    for (let r = 0; r < rows; r++) tokens.set(empty, r * MAX_TOKENS);
    for (let s = 0; s < uncond.length; s += rows, chunk++) {
      const idx = uncond.slice(s, s + rows);
      const x0 = await sample(
        {
          size: rows * per,
          steps: opts.steps,
          guidance: 1,
          seed: chunkSeed(opts.seed, chunk),
          sampler: opts.sampler,
        },
        async (xs, time) => {
          for (let i = 0; i < xs.length; i++) x[i] = xs[i];
          const e = await eps(time);
          return { cond: e, uncond: e };
        },
      );
      store(idx, x0);
    }
    return out;
  }
}

function chunkSeed(seed: number, chunk: number): number {
  return (Math.imul(seed, 1000003) + Math.imul(chunk + 1, 7919)) >>> 0;
}

function greyToRgb(img: Float32Array): Float32Array {
  const out = new Float32Array(img.length * 3);
  for (let k = 0; k < 3; k++) out.set(img, k * img.length);
  return out;
}

// ------------------------------------------------------------------ the command

/** `count` names spread evenly over the judge's (sorted) names. */
export function spreadNames(all: readonly string[], count: number): string[] {
  const k = Math.min(count, all.length);
  return Array.from({ length: k }, (_, i) => all[Math.floor(((i + 0.5) * all.length) / k)]);
}

const USAGE = `usage: npx tsx tools/judge-samples.ts --judge JUDGE.safetensors
         (--model MODEL.safetensors [--names 50 | --names a,b,c] [--per-name 4] [--steps 25]
                 [--guidance 3] [--seed 1] [--sampler ddim|ddpm] [--batch 16] [--no-ema]
          | --grid FILE.png=NAME ... [--uncond-grid FILE.png ...] [--grid-size 32] [--pad 2])
         [--save DIR] [--kid] [--md FILE]`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      judge: { type: "string" },
      model: { type: "string" },
      names: { type: "string" },
      "per-name": { type: "string" },
      steps: { type: "string" },
      guidance: { type: "string" },
      seed: { type: "string" },
      sampler: { type: "string" },
      batch: { type: "string" },
      "no-ema": { type: "boolean", default: false },
      grid: { type: "string", multiple: true },
      "uncond-grid": { type: "string", multiple: true },
      "grid-size": { type: "string" },
      pad: { type: "string" },
      save: { type: "string" },
      kid: { type: "boolean", default: false },
      md: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help || !values.judge || (!values.model && !values.grid)) {
    console.error(USAGE);
    return values.help ? 0 : 1;
  }
  const num = (v: string | undefined, d: number, name: string, int = true) => {
    if (v === undefined) return d;
    const x = Number(v);
    if (!Number.isFinite(x) || (int && !Number.isInteger(x)) || x < 0)
      throw new Error(`${name} expects a ${int ? "whole " : ""}number >= 0, got '${v}'`);
    return x;
  };
  const log = (s: string) => console.error(s);
  const t0 = performance.now();
  const gpu = await Gpu.open();
  try {
    const judge = await Judge.load(gpu, values.judge);
    const res = judge.state.results ?? {};
    log(
      `judge: ${judge.state.program}, ${judge.names.length} names (min_styles ${judge.data.min_styles}), held-out style ${JSON.stringify(judge.data.hold_out)}` +
        (res.accuracy !== undefined ? `: recorded top-1 ${res.accuracy.toFixed(3)}` : "") +
        (res.top5 !== undefined ? `, top-5 ${res.top5.toFixed(3)}` : ""),
    );
    const index = new Map(judge.names.map((n, i) => [n, i]));
    const nameOf = (s: string) => {
      const n = s.trim().replace(/\s+/g, "-");
      if (!index.has(n))
        throw new Error(`'${s}' is not one of the judge's ${judge.names.length} names`);
      return n;
    };

    let names: string[];
    let prompted: { images: Float32Array[]; labels: number[] };
    let unconditional: { images: Float32Array[]; labels: number[] } | null = null;
    let how: string;
    if (values.model) {
      const perName = num(values["per-name"], 4, "--per-name");
      const steps = num(values.steps, 25, "--steps");
      const guidance = num(values.guidance, 3, "--guidance", false);
      const seed = num(values.seed, 1, "--seed");
      const sampler = (values.sampler ?? "ddim") as SamplerKind;
      if (!SAMPLERS.includes(sampler))
        throw new Error(`--sampler must be ${SAMPLERS.join(" or ")}`);
      const spec = values.names ?? "50";
      names = /^\d+$/.test(spec)
        ? spreadNames(judge.names, Number(spec))
        : spec.split(",").map(nameOf);
      const model = await ModelSampler.load(gpu, values.model, {
        batch: num(values.batch, 16, "--batch"),
        ema: !values["no-ema"],
      });
      log(
        `model: ${model.program}, ${model.weights}, ${model.channels}×${model.size}×${model.size}`,
      );
      const labels = names.flatMap((n) => Array<number>(perName).fill(index.get(n)!));
      const captions = labels.map((y) => judge.captions[y]);
      const total = 2 * labels.length;
      const ts = performance.now();
      // A live counter on a terminal; one line per batch in a log file.
      const tty = process.stderr.isTTY;
      const progress = (base: number) => (done: number) =>
        process.stderr.write(
          `${tty ? "\r" : ""}sampling ${base + done}/${total} images, ${steps} ${sampler} steps${tty ? "" : "\n"}`,
        );
      const gen = { steps, guidance, seed, sampler };
      prompted = {
        images: await model.generate(captions, { ...gen, onProgress: progress(0) }),
        labels,
      };
      const empty = labels.map(() => "");
      unconditional = {
        images: await model.generate(empty, {
          ...gen,
          seed: seed + 1,
          onProgress: progress(labels.length),
        }),
        labels,
      };
      const secs = (performance.now() - ts) / 1000;
      if (tty) process.stderr.write("\n");
      log(
        `sampled ${total} images in ${secs.toFixed(1)} s (${(secs / total).toFixed(2)} s per image)`,
      );
      how = `${names.length} names × ${perName} samples, ${steps} ${sampler} steps, guidance ${guidance}, seed ${seed}; model ${values.model}`;
    } else {
      const gsize = num(values["grid-size"], 32, "--grid-size");
      const pad = num(values.pad, 2, "--pad");
      const images: Float32Array[] = [];
      const labels: number[] = [];
      for (const g of values.grid!) {
        const eq = g.lastIndexOf("=");
        if (eq < 0) throw new Error(`--grid expects FILE.png=NAME, got '${g}'`);
        const y = index.get(nameOf(g.slice(eq + 1)))!;
        const imgs = gridImages(readPng(g.slice(0, eq)), { size: gsize, pad });
        images.push(...imgs);
        labels.push(...imgs.map(() => y));
      }
      prompted = { images, labels };
      names = [...new Set(labels)].map((y) => judge.names[y]);
      if (values["uncond-grid"]) {
        const u = values["uncond-grid"].flatMap((f) =>
          gridImages(readPng(f), { size: gsize, pad }),
        );
        unconditional = { images: u, labels: u.map((_, i) => labels[i % labels.length]) };
      }
      how = `${images.length} images from ${values.grid!.length} grid(s)`;
    }

    const selected = new Set(names.map((n) => index.get(n)!));
    const held = judge.heldOut();
    const keep = held.labels.flatMap((y, i) => (selected.has(y) ? [i] : []));
    const real = {
      images: keep.map((i) => held.images[i]),
      labels: keep.map((i) => held.labels[i]),
    };

    const rows: [string, JudgeScores][] = [];
    rows.push([
      `real, held-out style (${judge.data.hold_out}), all ${judge.names.length} names`,
      judgeScores(await judge.logits(held.images), held.labels),
    ]);
    rows.push([
      `real, held-out style (${judge.data.hold_out}), these ${selected.size} names`,
      judgeScores(await judge.logits(real.images), real.labels),
    ]);
    const pl = await judge.logits(prompted.images);
    const ps = judgeScores(pl, prompted.labels);
    rows.push(["samples, prompt = caption", ps]);
    let base: JudgeScores | null = null;
    if (unconditional) {
      const ul = await judge.logits(unconditional.images);
      rows.push(["samples, empty prompt (same labels)", judgeScores(ul, unconditional.labels)]);
      base = labelAveragedScores(ul, prompted.labels);
      rows.push([`samples, empty prompt (averaged over the ${selected.size} names)`, base]);
    }
    const c = judge.names.length;
    const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
    const md: string[] = [];
    md.push(
      `Judge ${values.judge} (${c} names; chance top-1 ${pct(1 / c)}, top-5 ${pct(Math.min(1, 5 / c))}); ${how}.`,
    );
    md.push("");
    md.push("| images | n | top-1 | top-5 |");
    md.push("| --- | ---: | ---: | ---: |");
    for (const [label, s] of rows)
      md.push(`| ${label} | ${s.n} | ${pct(s.top1)} | ${pct(s.top5)} |`);
    if (base) {
      const ratio = (a: number, b: number) =>
        b > 0 ? `${(a / b).toFixed(1)}×` : a > 0 ? "∞" : "—";
      md.push("");
      md.push(
        `Prompt vs. no prompt: top-1 ${ratio(ps.top1, base.top1)}, top-5 ${ratio(ps.top5, base.top5)} (the issue asks for ≥ 5×).`,
      );
    }

    if (values.kid) {
      const fx = await loadFeatureExtractor();
      const realAll = emojiItems({ ...judge.data, split: "train" });
      const px = 3 * realAll.size * realAll.size;
      const realImgs: Float32Array[] = [];
      for (let i = 0; i < realAll.n; i++)
        if (selected.has(realAll.y[i]))
          realImgs.push(realAll.x.slice(i * px, (i + 1) * px).map((v) => (v + 1) / 2));
      realImgs.push(...real.images);
      const fit = (imgs: Float32Array[]) =>
        imgs.map((im) => {
          const side = Math.round(Math.sqrt(im.length / 3));
          return side === realAll.size ? im : resizeCHW(im, 3, side, realAll.size);
        });
      const tk = performance.now();
      const fr = await fx.features(realImgs);
      const fp = await fx.features(fit(prompted.images));
      const fu = unconditional ? await fx.features(fit(unconditional.images)) : null;
      const count = fr.length + fp.length + (fu?.length ?? 0);
      const ms = (performance.now() - tk) / count;
      md.push("");
      md.push(
        `KID ×10³ against the ${fr.length} real images (every style) of these names, MobileNetV2 features (${ms.toFixed(0)} ms per image): ` +
          `prompted ${(1000 * kid(fr, fp)).toFixed(2)}` +
          (fu ? `, empty prompt ${(1000 * kid(fr, fu)).toFixed(2)}` : "") +
          ".",
      );
      fx.dispose();
    }

    if (values.save) {
      mkdirSync(values.save, { recursive: true });
      const save = (file: string, imgs: Float32Array[], size: number) => {
        const { rows: r, cols } = gridShape(imgs.length);
        const g = imageGrid(imgs, { rows: r, cols, size });
        writePng(join(values.save!, file), g.data, g.width, g.height);
      };
      const side = (imgs: Float32Array[]) => Math.round(Math.sqrt(imgs[0].length / 3));
      save("prompted.png", prompted.images, side(prompted.images));
      if (unconditional)
        save("unconditional.png", unconditional.images, side(unconditional.images));
      writeFileSync(
        join(values.save, "labels.txt"),
        prompted.labels.map((y) => judge.names[y]).join("\n") + "\n",
      );
      md.push("");
      md.push(
        `Samples saved in ${values.save}/ (prompted.png, unconditional.png, labels.txt: one name per image, row-major).`,
      );
    }
    const text = md.join("\n") + "\n";
    process.stdout.write(text);
    if (values.md) writeFileSync(values.md, text);
    log(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return 0;
  } finally {
    gpu.destroy();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: Error) => {
      console.error(`judge-samples: ${e.message}`);
      if (process.env.CLD_DEBUG) console.error(e.stack);
      process.exitCode = 1;
    },
  );
}
