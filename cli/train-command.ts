// `cldc train`: compile a program, open the device, run (or resume) it.
import { basename, join } from "node:path";
import { compile } from "../compiler/compile.ts";
import { Gpu } from "../runtime/gpu.ts";
import { formatDuration } from "../runtime/io/progress.ts";
import { Session } from "../runtime/session.ts";
import { inputFile, intOption, parse, settings, UsageError } from "./args.ts";

export async function cmdTrain(argv: string[], sources: Map<string, string>): Promise<number> {
  const usage =
    "usage: cldc train PROGRAM.cld [--set name=value ...] [--run-dir DIR] [--seed N] [--fresh] [--checkpoint-every SECONDS] [--program NAME]";
  const { values, positionals } = parse(
    argv,
    {
      set: { type: "string", multiple: true },
      "run-dir": { type: "string" },
      seed: { type: "string" },
      fresh: { type: "boolean", default: false },
      "checkpoint-every": { type: "string" },
      program: { type: "string" },
    },
    usage,
  );
  if (positionals.length !== 1) throw new UsageError(usage);
  const file = inputFile(positionals[0]);
  const t0 = performance.now();
  const gpu = await Gpu.open();
  try {
    const c = compile(file, settings(values.set), { subgroups: gpu.hasSubgroups }, values.program);
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
    const session = new Session(gpu, c, {
      runDir,
      seed,
      checkpointSeconds: intOption(values["checkpoint-every"], "--checkpoint-every", 120),
      log: (l) => console.log(l),
      resume: !values.fresh,
    });
    const how = await session.start();
    console.log(
      how === "resumed" ? `resuming from ${session.checkpointPath}` : `run directory: ${runDir}`,
    );
    await session.run();
    const secs = (performance.now() - t0) / 1000;
    console.log(`done in ${formatDuration(secs)}`);
    return 0;
  } finally {
    gpu.destroy();
  }
}
