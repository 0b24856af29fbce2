// The images to judge and their scores: samples of a model checkpoint (prompted with each
// name's caption, and with an empty prompt) or images cut from already generated grids,
// scored by the judge next to real held-out images of the same names.
import { gridImages } from "../../runtime/features.ts";
import type { Gpu } from "../../runtime/gpu.ts";
import { readPng } from "../../runtime/io/png.ts";
import type { SamplerKind } from "../../runtime/sampler.ts";
import type { Judge } from "./judge.ts";
import { ModelSampler } from "./model-sampler.ts";
import { judgeScores, labelAveragedScores, type JudgeScores } from "./scores.ts";

export interface LabelledImages {
  images: Float32Array[];
  labels: number[];
}

export interface Samples {
  /** The judge's names that are evaluated. */
  names: string[];
  prompted: LabelledImages;
  unconditional: LabelledImages | null;
  /** How the images were made, for the report's first line. */
  how: string;
}

export interface ModelSampling {
  /** The model checkpoint's path. */
  model: string;
  names: string[];
  perName: number;
  steps: number;
  guidance: number;
  seed: number;
  sampler: SamplerKind;
  batch: number;
  ema: boolean;
}

/** `perName` prompted and as many unconditional samples per name, with progress on stderr. */
export async function sampleModel(
  gpu: Gpu,
  judge: Judge,
  index: Map<string, number>,
  o: ModelSampling,
  log: (s: string) => void,
): Promise<Samples> {
  const { names, perName, steps, guidance, seed, sampler } = o;
  const model = await ModelSampler.load(gpu, o.model, { batch: o.batch, ema: o.ema });
  log(`model: ${model.program}, ${model.weights}, ${model.channels}×${model.size}×${model.size}`);
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
  const prompted = {
    images: await model.generate(captions, { ...gen, onProgress: progress(0) }),
    labels,
  };
  const empty = labels.map(() => "");
  const unconditional = {
    images: await model.generate(empty, {
      ...gen,
      seed: seed + 1,
      onProgress: progress(labels.length),
    }),
    labels,
  };
  const secs = (performance.now() - ts) / 1000;
  if (tty) process.stderr.write("\n");
  log(`sampled ${total} images in ${secs.toFixed(1)} s (${(secs / total).toFixed(2)} s per image)`);
  const how = `${names.length} names × ${perName} samples, ${steps} ${sampler} steps, guidance ${guidance}, seed ${seed}; model ${o.model}`;
  return { names, prompted, unconditional, how };
}

/**
 * Images cut from grids: `grids` are `FILE.png=NAME`, `uncondGrids` unconditional samples
 * (labelled like the prompted images, in turn). `nameOf` checks a name against the judge's.
 */
export function readGrids(
  judge: Judge,
  index: Map<string, number>,
  nameOf: (s: string) => string,
  grids: string[],
  uncondGrids: string[] | undefined,
  layout: { size: number; pad: number },
): Samples {
  const { size: gsize, pad } = layout;
  const images: Float32Array[] = [];
  const labels: number[] = [];
  for (const g of grids) {
    const eq = g.lastIndexOf("=");
    if (eq < 0) throw new Error(`--grid expects FILE.png=NAME, got '${g}'`);
    const y = index.get(nameOf(g.slice(eq + 1)))!;
    const imgs = gridImages(readPng(g.slice(0, eq)), { size: gsize, pad });
    images.push(...imgs);
    labels.push(...imgs.map(() => y));
  }
  const prompted = { images, labels };
  const names = [...new Set(labels)].map((y) => judge.names[y]);
  let unconditional: LabelledImages | null = null;
  if (uncondGrids) {
    const u = uncondGrids.flatMap((f) => gridImages(readPng(f), { size: gsize, pad }));
    unconditional = { images: u, labels: u.map((_, i) => labels[i % labels.length]) };
  }
  const how = `${images.length} images from ${grids.length} grid(s)`;
  return { names, prompted, unconditional, how };
}

export interface Scored {
  /** One row per image set: a label and the judge's scores on it. */
  rows: [string, JudgeScores][];
  /** The scores of the prompted samples. */
  prompted: JudgeScores;
  /** The unconditional samples against every evaluated name in turn, if there are any. */
  baseline: JudgeScores | null;
  /** Labels of the evaluated names. */
  selected: Set<number>;
  /** Real held-out images of the evaluated names. */
  real: LabelledImages;
}

/** Runs the judge on real held-out images and on the samples. */
export async function scoreSamples(
  judge: Judge,
  index: Map<string, number>,
  samples: Samples,
): Promise<Scored> {
  const { names, prompted, unconditional } = samples;
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
  return { rows, prompted: ps, baseline: base, selected, real };
}
