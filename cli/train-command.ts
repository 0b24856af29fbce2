// `cldc train`: compile a program, open the device, run (or resume) it.
import { basename, join } from "node:path";
import { compile } from "../compiler/compile.ts";
import { openDevice } from "../runtime/device.ts";
import { nativeCacheDir } from "../runtime/native/build.ts";
import { formatDuration } from "../runtime/io/progress.ts";
import { MetricsLog } from "../runtime/metrics-log.ts";
import { Session, StoppedError } from "../runtime/session.ts";
import { deviceOption, inputFile, intOption, parse, settings, UsageError } from "./args.ts";
import { programSettingsHelp } from "./program-settings.ts";

export const TRAIN_USAGE = `usage: cldc train PROGRAM.cld [--set name=value ...] [--run-dir DIR] [--seed N] [--fresh] [--checkpoint-every SECONDS] [--checkpoint-steps N] [--debug-nans] [--program NAME] [--device auto|gpu|cpu|lavapipe]

Runs the program's run block, resuming from RUN_DIR/checkpoint.safetensors when it exists.
  --set name=value        override a program setting (repeatable)
  --run-dir DIR           where checkpoints, metrics.jsonl, loss.svg/png and samples/ go
                          (default runs/<file name>)
  --seed N                the run's seed (default: the program's 'seed' setting, else 0)
  --fresh                 start over, ignoring an existing checkpoint
  --checkpoint-every S    also checkpoint when S seconds passed since the last (default 120; 0: off)
  --checkpoint-steps N    also checkpoint after every N step calls (default 0: off)
  --debug-nans            on a NaN/Inf logged value, re-run the step kernel by kernel and
                          name the kernel and source line that produced it
  --program NAME          which program of the file to run (when it defines several)
  --device D              auto: a GPU if Dawn has one, else the native C++ target; gpu; cpu
                          (native C++, built with the system compiler); lavapipe (Dawn's
                          adapter, software or not). Default: $CLD_DEVICE, else lavapipe
Ctrl-C or SIGTERM finishes the step in progress, writes a checkpoint and exits 130
(a second Ctrl-C quits at once, without a checkpoint); run the same command to resume.`;

/** The help, with the named program's settings when a readable .cld file is given. */
function trainHelp(argv: string[]): string {
  if (!argv.includes("--help") && !argv.includes("-h")) return TRAIN_USAGE;
  const file = argv.find((a) => a.endsWith(".cld"));
  const p = argv.indexOf("--program");
  const table = file ? programSettingsHelp(file, p >= 0 ? argv[p + 1] : undefined) : null;
  return table ? `${TRAIN_USAGE}\n\n${table}` : TRAIN_USAGE;
}

export async function cmdTrain(argv: string[], sources: Map<string, string>): Promise<number> {
  const usage = TRAIN_USAGE.split("\n")[0]; // errors quote the one-line form
  const { values, positionals } = parse(
    argv,
    {
      set: { type: "string", multiple: true },
      "run-dir": { type: "string" },
      seed: { type: "string" },
      fresh: { type: "boolean", default: false },
      "checkpoint-every": { type: "string" },
      "checkpoint-steps": { type: "string" },
      "debug-nans": { type: "boolean", default: false },
      program: { type: "string" },
      device: { type: "string" },
    },
    usage,
    trainHelp(argv),
  );
  if (positionals.length !== 1) throw new UsageError(usage);
  const file = inputFile(positionals[0]);
  // Options are checked before any work (a GPU is not opened for a typo).
  const checkpointSeconds = intOption(values["checkpoint-every"], "--checkpoint-every", 120);
  const checkpointSteps = intOption(values["checkpoint-steps"], "--checkpoint-steps", 0);
  const device = deviceOption(values.device);
  const t0 = performance.now();
  const gpu = await openDevice(device);
  try {
    const c = compile(
      file,
      settings(values.set),
      { ...gpu.target, limits: gpu.bufferLimits },
      values.program,
    );
    for (const [k, v] of c.loaded.sources) sources.set(k, v); // run-block errors quote their line
    const seedSetting = c.program.settings.get("seed");
    const seed = intOption(
      values.seed,
      "--seed",
      seedSetting?.kind === "int" ? seedSetting.value : 0,
    );
    const runDir = values["run-dir"] ?? join("runs", basename(file, ".cld"));
    const kernels = [...c.steps.values()].reduce((s, x) => s + x.plan.kernels.length, 0);
    const params = [...c.program.registry.params.values()]
      .filter((p) => !p.state)
      .reduce((s, p) => s + p.type.shape.reduce((a, b) => a * b, 1), 0);
    console.log(
      `${c.program.name}: ${params.toLocaleString("en-US")} parameters, ${c.steps.size} step${c.steps.size === 1 ? "" : "s"} compiled to ${kernels} kernels on ${gpu.adapterDescription}`,
    );
    // The driver JITs each pipeline at its first dispatch, so a cold first step can take
    // minutes on lavapipe with nothing else to show for it: say so before it starts.
    const pipelines = new Set(
      [...c.steps.values()].flatMap((x) => x.plan.kernels.map((k) => k.source)),
    );
    console.log(
      gpu.kind === "native"
        ? `each step is built once with the system C++ compiler (seconds; cached afterwards in ${nativeCacheDir()})`
        : `first calls compile ${pipelines.size} distinct pipelines in the driver (on lavapipe ~1 s each with a cold shader cache, milliseconds once cached)`,
    );
    // RUN_DIR/metrics.jsonl gets every step's logged values; loss.svg/png are redrawn at
    // every checkpoint and at the end. A plot that fails to render never stops training.
    const metrics = new MetricsLog(runDir);
    let plotWarned = false;
    const plot = () => {
      try {
        metrics.render();
      } catch (e) {
        if (!plotWarned)
          console.error(`cldc: warning: loss plot not written: ${(e as Error).message}`);
        plotWarned = true;
      }
    };
    const session = new Session(gpu, c, {
      runDir,
      seed,
      checkpointSeconds,
      checkpointSteps,
      debugNans: values["debug-nans"],
      log: (l) => console.log(l),
      resume: !values.fresh,
      onStep: (step, logs, at) =>
        metrics.append({
          event: at.event,
          step,
          optimizer_step: at.optimizerStep,
          values: Object.fromEntries(logs),
        }),
      onCheckpoint: plot,
    });
    const how = await session.start();
    metrics.reset(session.resumedEvents);
    console.log(
      how === "resumed" ? `resuming from ${session.checkpointPath}` : `run directory: ${runDir}`,
    );
    // Ctrl-C / SIGTERM: finish the step in progress, checkpoint, exit 130; twice: quit now.
    let stopping = false;
    const stop = () => {
      if (stopping) process.exit(130);
      stopping = true;
      console.error("\ncldc: stopping after this step (Ctrl-C again: quit without a checkpoint)");
      session.requestStop();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    try {
      await session.run();
    } catch (e) {
      if (process.stdout.isTTY) process.stdout.write("\n"); // end the progress line first
      if (!(e instanceof StoppedError)) throw e;
      console.log(`cldc: ${e.message}`);
      return 130;
    } finally {
      plot();
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
    }
    const secs = (performance.now() - t0) / 1000;
    console.log(`done in ${formatDuration(secs)}`);
    return 0;
  } finally {
    gpu.destroy();
  }
}
