// `cldc eval RUN_DIR`: the continual-customization benchmark of one run. For every
// snapshot t (after task t) and every concept i <= t, n samples of "a photo of <v{i+1}>"
// from base + snapshot t, scored by (1) the concept judge (the fraction classified as
// concept i) and (2) KID against concept i's real images in MobileNetV2 feature space.
// and (3) the denoising loss on concept i's real images (concept-loss.ts: no sampling noise).
// The T×T matrices give final average, forgetting and plasticity (metrics.ts); the results
// go to RUN_DIR/eval/ (report.ts).
import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { hashSeed } from "../../data/rng.ts";
import { kid, loadFeatureExtractor, type FeatureExtractor } from "../features.ts";
import type { Device } from "../device.ts";
import { Progress } from "../io/progress.ts";
import { EvalProgress } from "./eval-progress.ts";
import { ConceptJudge, type JudgeOptions } from "./concept-judge.ts";
import { conceptLoss, conceptLossBatch, LOSS_DRAWS, LOSS_LEVELS } from "./concept-loss.ts";
import { PairCache } from "./pair-cache.ts";
import { conceptImages, conceptNames } from "./concept-images.ts";
import { emptyMatrix, summarize, type Summary } from "./metrics.ts";
import { EvalInputError, SnapshotModel, type SampleSettings } from "./snapshot-model.ts";
import { fileSha256, listSnapshots, readSnapshot, type Snapshot } from "./snapshot.ts";

export interface EvalOptions extends SampleSettings {
  /** Samples per (snapshot, concept). */
  n: number;
  judge?: JudgeOptions;
  /** Skip KID (no MobileNetV2): for quick tests. */
  noKid?: boolean;
  /** Only the denoising loss: the judge's and KID's scores come from this earlier eval of
   * the same run (its scores.json), nothing is sampled. */
  lossOnlyOver?: EvalResult;
  log?: (line: string) => void;
  progressStream?: { write(s: string): unknown; isTTY?: boolean };
}

export interface EvalResult {
  runDir: string;
  program: string;
  concepts: string[];
  options: { n: number; steps: number; guidance: number; seed: number };
  /** accuracy[t][i], kid[t][i], loss[t][i]: NaN where i > t. */
  accuracy: number[][];
  kid: number[][];
  /** Denoising loss (ε-MSE) on concept i's real images after task t (concept-loss.ts). */
  loss: number[][];
  /** The same loss of the base model alone prompted "a photo of" (no token): the reference
   * that learning concept i lowers. */
  lossBase: number[];
  accuracySummary: Summary;
  kidSummary: Summary;
  lossSummary: Summary;
  judge: {
    classes: number;
    heldOutAccuracy: number | null;
    holdOut: string;
    dir: string;
    trainedNow: boolean;
    /** Per concept: the fraction of its real images (every style) the judge gets right, so
     * a concept's low sample accuracy can be told apart from a judge that cannot see it. */
    realAccuracy: number[];
  };
  /** Real images per concept that KID compares with. */
  realImages: number[];
  params: {
    /** Values the base model holds (its trained parameters). */
    base: number;
    /** Values trained per task: adapter factors plus the changed token rows (per task). */
    trainedPerTask: number;
    /** Values needed to rebuild the model after the last task (see storedValues). */
    storedFinal: number;
    /** Values the last snapshot file holds (whole tensors), and its size in bytes. */
    fileValuesFinal: number;
    storedBytesFinal: number;
  };
  base: { path: string; sha256: string; matchesRecorded: boolean };
  timing: {
    /** Training seconds per task, from the snapshots (null: resumed within that task). */
    trainSeconds: (number | null)[];
    judgeSeconds: number;
    sampleSeconds: number;
    featureSeconds: number;
    lossSeconds: number;
    evalSeconds: number;
  };
  /** samples[t][i] (null where i > t), kept for the grid; all null for a loss-only eval. */
  samples: (Float32Array[] | null)[][];
  size: number;
}

/** Finds the base checkpoint of a run: --base, else the recorded path (as given, then absolute). */
function locateBase(snap: Snapshot, override?: string): string {
  if (override) {
    if (!existsSync(override)) throw new EvalInputError(`--base ${override}: no such file`);
    return override;
  }
  const b = snap.meta.base;
  if (!b)
    throw new EvalInputError(
      `${snap.path} records no base checkpoint (the run block has no load(...)); pass --base PATH`,
    );
  for (const p of [b.path, b.absolute]) if (existsSync(p) && statSync(p).isFile()) return p;
  throw new EvalInputError(
    `the base checkpoint ${b.path} of ${snap.path} is missing; pass --base PATH to use a copy of it`,
  );
}

export interface PreparedRun {
  runDir: string;
  snaps: Snapshot[];
  names: string[];
  basePath: string;
  sha: string;
  matchesRecorded: boolean;
}

/**
 * Every check of the run directory that needs no GPU: its snapshots (all of 0..T-1,
 * readable), its concept list and its base checkpoint (present, and the file it was
 * trained from unless `base` overrides it). Throws EvalInputError.
 */
export function prepareRun(runDir: string, base?: string): PreparedRun {
  if (!existsSync(runDir) || !statSync(runDir).isDirectory())
    throw new EvalInputError(`${runDir} is not a directory`);
  const found = listSnapshots(runDir);
  if (!found.length)
    throw new EvalInputError(
      `${runDir} has no snapshots (after_task_<t>.safetensors); train with a run block that calls checkpoint("after_task", task), as examples/clora.cld does`,
    );
  const missing = found.findIndex((f, k) => f.index !== k);
  if (missing >= 0)
    throw new EvalInputError(`${runDir}: snapshot after_task_${missing} is missing`);
  const snaps = found.map((f) => {
    try {
      return readSnapshot(f.path);
    } catch (e) {
      throw new EvalInputError((e as Error).message);
    }
  });
  const T = snaps.length;
  const first = snaps[0];
  const names = conceptNames(first.meta.settings.names ?? "");
  if (names.length < T)
    throw new EvalInputError(
      `${runDir} has ${T} snapshots but its run names only ${names.length} concepts`,
    );
  const basePath = locateBase(first, base);
  const sha = fileSha256(basePath);
  const matchesRecorded = sha === first.meta.base?.sha256;
  if (!matchesRecorded && !base)
    throw new EvalInputError(
      `the base checkpoint ${basePath} changed since training (SHA-256 differs from the one ${first.path} records); pass --base PATH with the original`,
    );
  return { runDir, snaps, names, basePath, sha, matchesRecorded };
}

export async function runEval(
  gpu: Device,
  run: PreparedRun,
  opts: EvalOptions,
): Promise<EvalResult> {
  const log = opts.log ?? (() => {});
  const t0 = performance.now();
  const { runDir, snaps, names, basePath, sha, matchesRecorded } = run;
  const T = snaps.length;
  const first = snaps[0];
  const concepts = names.slice(0, T);
  const earlier = opts.lossOnlyOver;
  if (earlier) checkEarlier(earlier, concepts, sha);
  if (!matchesRecorded) log(`warning: --base ${basePath} is not the file the run was trained from`);
  const overall = new EvalProgress({ log });
  const pairs = (T * (T + 1)) / 2;
  const count = (k: number, what: string) => `${k} ${what}${k === 1 ? "" : "s"}`;

  // The judge first: it may need training (minutes, once per concept list). It knows every
  // concept of the run's list, learned yet or not, so runs of one list share it.
  overall.phase(
    0,
    earlier
      ? "kept from the earlier eval"
      : `classifies ${count(names.length, "concept")}; trained once per concept list (about a minute on two cores), then cached`,
  );
  const tj = performance.now();
  const judge = earlier
    ? null
    : await ConceptJudge.open(gpu, names, {
        log,
        progressStream: opts.progressStream,
        ...opts.judge,
      });
  const judgeSeconds = earlier ? earlier.timing.judgeSeconds : (performance.now() - tj) / 1000;
  if (judge)
    log(
      `concept judge: ${judge.dir} (${judge.trainedNow ? "trained now" : "cached"}), held-out ${judge.holdOut} accuracy ${judge.heldOutAccuracy === null ? "?" : (100 * judge.heldOutAccuracy).toFixed(0) + "%"}`,
    );

  overall.phase(
    1,
    `compiling ${first.meta.program}'s denoise step for ${2 * opts.n}-row batches (its kernels JIT in seconds with a warm shader cache, minutes with a cold one); the real images of ${count(T, "concept")}${!opts.noKid && !earlier ? " and their MobileNetV2 features" : ""}`,
  );
  const model = await SnapshotModel.open(gpu, first, basePath, opts.n);
  let fx: FeatureExtractor | null = null;
  let featureSeconds = earlier ? earlier.timing.featureSeconds : 0;
  const realFeatures: Float32Array[][] = [];
  const realImages: number[] = earlier ? earlier.realImages : [];
  const real = conceptImages(concepts, model.size);
  const px = 3 * real.size * real.size;
  const realByConcept = Array.from({ length: T }, (_, i) => {
    const imgs: Float32Array[] = [];
    for (let k = 0; k < real.n; k++)
      if (real.y[k] === i) imgs.push(real.x.slice(k * px, (k + 1) * px));
    return imgs;
  });
  // The judge and KID see images in [0, 1]; the loss sees the model's [-1, 1].
  const unit = realByConcept.map((imgs) => imgs.map((im) => im.map((v) => (v + 1) / 2)));
  const lossBatches = realByConcept.map((imgs, i) =>
    conceptLossBatch(imgs, hashSeed(earlier?.options.seed ?? opts.seed, 7919, i)),
  );
  const realAccuracy: number[] = earlier ? earlier.judge.realAccuracy : [];
  if (judge) for (let i = 0; i < T; i++) realAccuracy.push(await judge.accuracy(unit[i], i));
  if (!opts.noKid && !earlier) {
    const tf = performance.now();
    fx = await loadFeatureExtractor();
    for (const imgs of unit) {
      realImages.push(imgs.length);
      realFeatures.push(await fx.features(imgs));
    }
    featureSeconds += (performance.now() - tf) / 1000;
  }

  const accuracy = earlier ? earlier.accuracy : emptyMatrix(T);
  const kidM = earlier ? earlier.kid : emptyMatrix(T);
  const loss = emptyMatrix(T);
  const samples: (Float32Array[] | null)[][] = Array.from({ length: T }, () =>
    new Array(T).fill(null),
  );
  // The plan, in denoise calls of 2n rows: every loss batch, and every pair's DDIM steps.
  const lossCalls = lossBatches.map((b) => Math.ceil(b.rows / (2 * opts.n)));
  const pairCalls = (i: number) => lossCalls[i] + (judge ? opts.steps : 0);
  overall.plan(lossCalls.reduce((a, b) => a + b, 0));
  for (let t = 0; t < T; t++) for (let i = 0; i <= t; i++) overall.plan(pairCalls(i));
  const bar = new Progress({
    total: pairs,
    label: "eval",
    unit: "pair",
    stream: opts.progressStream,
    remaining: () => overall.remainingSeconds(),
  });
  // Pairs scored by an earlier eval of the same snapshots and settings are reused.
  const cache = judge
    ? new PairCache(
        join(runDir, "eval"),
        {
          version: 1,
          base: sha,
          n: opts.n,
          steps: opts.steps,
          guidance: opts.guidance,
          seed: opts.seed,
          judge: judge.dir,
          kid: !!fx,
          loss: { levels: LOSS_LEVELS, draws: LOSS_DRAWS },
        },
        model.size,
      )
    : null;
  const snapshotShas = snaps.map((sn) => fileSha256(sn.path));
  let reused = 0;
  let done = 0;
  overall.phase(
    2,
    `the real images of ${count(T, "concept")} denoised by the base model alone (${count(
      lossCalls.reduce((a, b) => a + b, 0),
      "denoise call",
    )}; ${overall.callsLeft} in all)`,
  );
  const tb = performance.now();
  model.useBase();
  const lossBase: number[] = [];
  for (let i = 0; i < T; i++) {
    const ti = performance.now();
    lossBase.push(
      await conceptLoss(
        (xt, times, rows) => model.predictNoise("a photo of", xt, times, rows),
        lossBatches[i],
      ),
    );
    overall.did(lossCalls[i], performance.now() - ti);
  }
  let lossSeconds = (performance.now() - tb) / 1000;
  overall.phase(
    3,
    earlier
      ? `the denoising loss of ${count(pairs, "pair")} of ${count(T, "snapshot")} and the concepts each has learned (judge and KID kept from the earlier eval; ${count(overall.callsLeft, "denoise call")} left)`
      : `${count(pairs, "pair")} of ${count(T, "snapshot")} and the concepts each has learned, each ${count(opts.n, "sample")} × ${count(opts.steps, "DDIM step")} (one ${2 * opts.n}-row denoise call per step) and the denoising loss (${count(overall.callsLeft, "denoise call")} left)`,
  );
  let sampleSeconds = earlier ? earlier.timing.sampleSeconds : 0;
  for (let t = 0; t < T; t++) {
    model.use(snaps[t]);
    for (let i = 0; i <= t; i++) {
      const prompt = `a photo of <v${i + 1}>`;
      const hit = cache?.get(t, i, snapshotShas[t], concepts[i]);
      if (hit) {
        overall.skip(pairCalls(i));
        ({ accuracy: accuracy[t][i], kid: kidM[t][i], loss: loss[t][i] } = hit.scores);
        samples[t][i] = hit.samples;
        reused++;
        bar.update(++done, { task: t + 1, concept: concepts[i], cached: "yes" });
        continue;
      }
      const tp = performance.now();
      const tl = performance.now();
      loss[t][i] = await conceptLoss(
        (xt, times, rows) => model.predictNoise(prompt, xt, times, rows),
        lossBatches[i],
      );
      lossSeconds += (performance.now() - tl) / 1000;
      if (judge) {
        const ts = performance.now();
        // The same start noise for concept i after every task: only the model differs.
        const imgs = await model.generate(prompt, {
          steps: opts.steps,
          guidance: opts.guidance,
          seed: hashSeed(opts.seed, i),
        });
        sampleSeconds += (performance.now() - ts) / 1000;
        samples[t][i] = imgs;
        accuracy[t][i] = await judge.accuracy(imgs, i);
        if (fx && opts.n >= 2 && realFeatures[i].length >= 2) {
          const tf = performance.now();
          kidM[t][i] = kid(realFeatures[i], await fx.features(imgs));
          featureSeconds += (performance.now() - tf) / 1000;
        }
      }
      if (cache && samples[t][i])
        cache.put(
          t,
          i,
          snapshotShas[t],
          concepts[i],
          {
            accuracy: accuracy[t][i],
            kid: kidM[t][i],
            loss: loss[t][i],
          },
          samples[t][i]!,
        );
      overall.did(pairCalls(i), performance.now() - tp);
      bar.update(++done, {
        task: t + 1,
        concept: concepts[i],
        ...(judge ? { acc: accuracy[t][i] } : {}),
        ...(Number.isFinite(kidM[t][i]) && judge ? { kid: kidM[t][i] } : {}),
        loss: loss[t][i],
      });
    }
  }
  bar.done();
  fx?.dispose();
  if (reused) log(`reused ${reused} of ${pairs} pairs scored by an earlier eval (${cache!.dir})`);

  const last = snaps[T - 1];
  const trainedPerTask = trainedValuesPerTask(snaps, model, T);
  return {
    runDir: resolve(runDir),
    program: `${first.meta.program} (${first.meta.entry})`,
    concepts,
    options: earlier
      ? earlier.options
      : { n: opts.n, steps: opts.steps, guidance: opts.guidance, seed: opts.seed },
    accuracy,
    kid: kidM,
    loss,
    lossBase,
    accuracySummary: summarize(accuracy, true),
    kidSummary: summarize(kidM, false),
    lossSummary: summarize(loss, false),
    judge: judge
      ? {
          classes: judge.names.length,
          heldOutAccuracy: judge.heldOutAccuracy,
          holdOut: judge.holdOut,
          dir: judge.dir,
          trainedNow: judge.trainedNow,
          realAccuracy,
        }
      : earlier!.judge,
    realImages,
    params: {
      base: model.baseValues,
      trainedPerTask,
      storedFinal: storedValues(last, model),
      fileValuesFinal: last.storedValues,
      storedBytesFinal: statSync(last.path).size,
    },
    base: { path: basePath, sha256: sha, matchesRecorded },
    timing: {
      trainSeconds: snaps.map((s) => (s.meta.resumed ? null : s.meta.seconds)),
      judgeSeconds,
      sampleSeconds,
      featureSeconds,
      lossSeconds,
      evalSeconds: (performance.now() - t0) / 1000 + (earlier?.timing.evalSeconds ?? 0),
    },
    samples,
    size: model.size,
  };
}

/** An earlier eval can lend its judge and KID scores only if it scored the same run. */
function checkEarlier(earlier: EvalResult, concepts: string[], sha: string): void {
  const same =
    earlier.concepts.length === concepts.length &&
    earlier.concepts.every((c, i) => c === concepts[i]);
  if (!same)
    throw new EvalInputError(
      `the earlier eval scored ${earlier.concepts.length} concepts (${earlier.concepts.join(", ")}), the run now has ${concepts.length} (${concepts.join(", ")}); run a full eval`,
    );
  if (earlier.base.sha256 !== sha)
    throw new EvalInputError(`the earlier eval used another base checkpoint; run a full eval`);
}

/**
 * The values a method must keep to rebuild its model after the last task: the adapter's
 * factors and state whole (past sums, kept per-task factors), and of every other tensor only
 * the entries that differ from the base — ten token rows, not the whole embedding table
 * the snapshot file carries; the whole K/V matrices for Custom Diffusion.
 */
function storedValues(last: Snapshot, model: SnapshotModel): number {
  let count = 0;
  for (const [name, data] of last.tensors) {
    const base = model.baseTensor(name);
    if (model.isAdapterState(name) || model.isAdapterFactor(name) || !base) count += data.length;
    else for (let k = 0; k < data.length; k++) if (data[k] !== base[k]) count++;
  }
  return count;
}

/**
 * Values trained per task: what the last task changed. The adapter factors (A, B: all of
 * them train every task) count whole; every other trained tensor counts the entries that
 * differ from the snapshot before (the base for a one-task run): one token row for C-LoRA,
 * the whole K/V matrices for Custom Diffusion.
 */
function trainedValuesPerTask(snaps: Snapshot[], model: SnapshotModel, T: number): number {
  const last = snaps[T - 1];
  const prev = T >= 2 ? snaps[T - 2] : null;
  let count = 0;
  for (const [name, data] of last.tensors) {
    if (model.isAdapterState(name)) continue; // past sums, kept factors: stored, not trained
    if (model.isAdapterFactor(name)) {
      count += data.length;
      continue;
    }
    const before = prev?.tensors.get(name) ?? model.baseTensor(name);
    if (!before) count += data.length;
    else for (let k = 0; k < data.length; k++) if (data[k] !== before[k]) count++;
  }
  return count;
}
