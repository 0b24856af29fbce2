// `cldc eval RUN_DIR`: the continual-customization benchmark of a C-LoRA run (its per-task
// snapshots, written by `checkpoint("after_task", task)`): samples every learned concept
// after every task, scores them with a concept judge and KID, and writes RUN_DIR/eval/
// (report.md, grid.png, scores.svg/png, scores.json, index.html). Bad input — no snapshots,
// a missing or changed base checkpoint — is one line and exit 1, before the GPU is opened.
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { openDevice } from "../runtime/device.ts";
import { formatDuration } from "../runtime/io/progress.ts";
import {
  prepareRun,
  runEval,
  type EvalResult,
  type PreparedRun,
} from "../runtime/eval/run-eval.ts";
import { readScores, writeReport } from "../runtime/eval/report.ts";
import { EvalInputError } from "../runtime/eval/snapshot-model.ts";
import { deviceOption, HelpRequest, intOption, parse, UsageError } from "./args.ts";

export const EVAL_USAGE =
  "usage: cldc eval RUN_DIR [--n 8] [--steps 20] [--guidance 3] [--seed 0] [--base CHECKPOINT] [--judge-steps 300] [--no-kid] [--loss-only] [--device auto|gpu|cpu|lavapipe]";

const EVAL_HELP = `${EVAL_USAGE}

Scores a continual run's snapshots (RUN_DIR/after_task_<t>.safetensors, written by
checkpoint("after_task", task)): for each snapshot t and concept i <= t, n DDIM samples of
"a photo of <v{i+1}>" from base + snapshot t, judged by a concept classifier
(examples/concept_judge.cld, trained once per concept list, cached in ~/.cache/cld) and by
KID against the concept's real images, and by the denoising loss on those real images
(fixed noise, so free of sampling noise). Cost: T(T+1)/2 pairs x steps denoise calls of 2n
rows; the loss adds a few calls per pair.

  --n N             samples per snapshot and concept (default 8)
  --steps N         DDIM steps per sample (default 20)
  --guidance W      classifier-free guidance weight (default 3)
  --seed N          sampling seed (default 0; a concept gets the same noise after every task)
  --base FILE       the base checkpoint, when the recorded one moved or changed
  --judge-steps N   training steps of the concept judge if it is not cached (default 300)
  --no-kid          skip KID (no MobileNetV2 features)
  --loss-only       only the denoising loss; the judge and KID scores are kept from the
                    earlier eval in RUN_DIR/eval/scores.json (nothing is sampled)

Writes RUN_DIR/eval/: report.md, grid.png, scores.svg, scores.png, scores.json, index.html,
and pairs/ (each pair's samples as a PNG strip and its scores). A pair already scored from
the same snapshot file with the same settings is reused: a killed eval resumes, and after
more tasks only the new snapshots are scored.`;

export async function cmdEval(argv: string[], _sources: Map<string, string>): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) throw new HelpRequest(EVAL_HELP);
  const { values, positionals } = parse(
    argv,
    {
      n: { type: "string" },
      steps: { type: "string" },
      guidance: { type: "string" },
      seed: { type: "string" },
      base: { type: "string" },
      "judge-steps": { type: "string" },
      "no-kid": { type: "boolean", default: false },
      "loss-only": { type: "boolean", default: false },
      device: { type: "string" },
    },
    EVAL_USAGE,
  );
  if (positionals.length !== 1) throw new UsageError(EVAL_USAGE);
  const device = deviceOption(values.device);
  const runDir = positionals[0];
  if (!existsSync(runDir) || !statSync(runDir).isDirectory())
    throw new UsageError(`no such run directory: ${runDir}`);
  const guidance = values.guidance === undefined ? 3 : Number(values.guidance);
  if (!Number.isFinite(guidance) || guidance < 0 || values.guidance?.trim() === "")
    throw new UsageError(`--guidance expects a number >= 0, got '${values.guidance}'`);
  const n = intOption(values.n, "--n", 8, 1);
  const judgeSteps = values["judge-steps"];
  const t0 = performance.now();
  let run: PreparedRun;
  try {
    run = prepareRun(runDir, values.base); // bad input is reported before the GPU opens
  } catch (e) {
    if (e instanceof EvalInputError) throw new UsageError(e.message);
    throw e;
  }
  let earlier: EvalResult | undefined;
  if (values["loss-only"]) {
    const scores = join(runDir, "eval", "scores.json");
    if (!existsSync(scores))
      throw new UsageError(
        `--loss-only keeps the judge and KID scores of an earlier eval, but ${scores} does not exist; run cldc eval ${runDir} first`,
      );
    try {
      earlier = readScores(scores);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  const gpu = await openDevice(device);
  try {
    const result = await runEval(gpu, run, {
      n,
      steps: intOption(values.steps, "--steps", 20, 1),
      guidance,
      seed: intOption(values.seed, "--seed", 0),
      noKid: values["no-kid"],
      lossOnlyOver: earlier,
      judge: judgeSteps
        ? { settings: { steps: String(intOption(judgeSteps, "--judge-steps", 300, 1)) } }
        : undefined,
      log: (l) => console.log(l),
    });
    const path = writeReport(result);
    const a = result.accuracySummary;
    const k = result.kidSummary;
    const l = result.lossSummary;
    const loss = (v: number | null) =>
      v === null || !Number.isFinite(v) ? "—" : (1000 * v).toFixed(1);
    const pct = (v: number | null) =>
      v === null || !Number.isFinite(v) ? "—" : `${(100 * v).toFixed(0)}%`;
    console.log(
      `wrote ${path} (and ${earlier ? "" : "grid.png, pairs/, "}scores.svg/png, scores.json, index.html) in ${formatDuration((performance.now() - t0) / 1000)}`,
    );
    console.log(
      `final average: judge accuracy ${pct(a.finalAverage)}, KID×10³ ${Number.isFinite(k.finalAverage) ? (1000 * k.finalAverage).toFixed(2) : "—"}; ` +
        `forgetting: ${pct(a.forgetting)} accuracy, KID×10³ ${k.forgetting === null || !Number.isFinite(k.forgetting) ? "—" : (1000 * k.forgetting).toFixed(2)}`,
    );
    console.log(
      `denoising loss×10³: base (no token) ${loss(result.lossBase.reduce((a, b) => a + b, 0) / result.lossBase.length)}, right after learning ${loss(l.plasticity)}, final ${loss(l.finalAverage)}, forgetting ${loss(l.forgetting)}`,
    );
    return 0;
  } catch (e) {
    if (e instanceof EvalInputError) throw new UsageError(e.message);
    throw e;
  } finally {
    gpu.destroy();
  }
}
