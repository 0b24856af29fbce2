// Grows a training checkpoint to a model that gained zero-initialized parameters (a new
// conditioning path, say), so a long pre-training run goes on instead of starting over:
//
//   npx tsx tools/grow-checkpoint.ts PROGRAM.cld CHECKPOINT [-o OUT] [--reset-ema]
//
// Every tensor the program's model has and the checkpoint lacks must start at zero (its
// `= zeros` init, its optimizer moments, or an EMA copy of such a parameter): then the grown
// model computes exactly what the checkpoint's did, and training continues from there. Any
// other missing tensor, a tensor of another shape, or one the model no longer has is
// refused. Settings the program gained (a new knob of the loss, say) are recorded at their
// defaults, so the run resumes with them. The host state (events, data positions, optimizer
// steps) is kept; the model hash is recomputed. Written atomically; OUT defaults to
// CHECKPOINT itself. --reset-ema restarts every EMA copy at its weights (after the
// program's objective changed, an average over the old weights is meaningless).
import { parseArgs } from "node:util";
import { compile, findProgram, load } from "../compiler/compile.ts";
import type { ParamInfo } from "../compiler/elab/params.ts";
import { emaSources, settingText } from "../runtime/checkpoint-model.ts";
import { loadCheckpoint, modelHash, saveCheckpoint } from "../runtime/checkpoint.ts";

/** Whether a parameter the checkpoint lacks starts at zero (so growing keeps the function). */
function startsAtZero(info: ParamInfo, params: Map<string, ParamInfo>, seen = 0): boolean {
  if (info.init.kind === "zeros") return true;
  if (info.init.kind === "constant") return info.init.value === 0;
  if (info.init.kind === "copy" && seen < 8) {
    const src = params.get(info.init.of);
    return src !== undefined && startsAtZero(src, params, seen + 1);
  }
  return false;
}

export function growCheckpoint(
  program: string,
  ckPath: string,
  outPath: string,
  opts: { resetEma?: boolean } = {},
): string[] {
  const ck = loadCheckpoint(ckPath);
  if (!ck) throw new Error(`no such file: ${ckPath}`);
  const decl = findProgram(load(program), ck.state.program);
  const settings = new Map<string, string>();
  for (const [k, v] of Object.entries(ck.state.settings)) {
    if (v === null || v === undefined) continue;
    const p = decl.params.find((q) => q.name.name === k);
    if (!p)
      throw new Error(
        `${ckPath} was trained with setting '${k}', which program ${ck.state.program} no longer has`,
      );
    settings.set(k, settingText(p, v)); // a whole float stays a float
  }
  const c = compile(program, settings, { subgroups: false }, ck.state.program);
  const params = c.program.registry.params;
  const shapes = new Map([...params].map(([n, p]) => [n, p.type.shape] as [string, number[]]));
  const added: string[] = [];
  for (const [name, info] of params) {
    const size = info.type.shape.reduce((a, b) => a * b, 1);
    const have = ck.tensors.get(name);
    if (have) {
      if (have.length !== size)
        throw new Error(
          `${name} has ${have.length} values in ${ckPath}, the model's [${info.type.shape.join(", ")}] has ${size}`,
        );
      continue;
    }
    if (!startsAtZero(info, params))
      throw new Error(
        `the model's new tensor ${name} does not start at zero (init ${info.init.kind}); only zero-initialized tensors can be added to a trained checkpoint`,
      );
    ck.tensors.set(name, info.type.dtype === "i32" ? new Int32Array(size) : new Float32Array(size));
    added.push(`${name} [${info.type.shape.join(", ")}]`);
  }
  for (const name of ck.tensors.keys())
    if (!params.has(name)) throw new Error(`${ckPath} has ${name}, which the model no longer has`);
  const settings2 = { ...ck.state.settings };
  for (const [k, v] of c.program.settings) {
    if (k in settings2) continue;
    settings2[k] = "value" in v ? v.value : null;
    added.push(`setting ${k} = ${JSON.stringify(settings2[k])}`);
  }
  if (opts.resetEma) {
    // After a change of objective the average of the old weights is meaningless: restart
    // every EMA copy at its weights.
    const ema = emaSources(ck.tensors.keys(), params);
    for (const [param, copy] of ema) ck.tensors.set(copy, ck.tensors.get(param)!.slice());
    added.push(`${ema.size} EMA copies reset to their weights`);
  }
  saveCheckpoint(outPath, ck.tensors, shapes, {
    ...ck.state,
    settings: settings2,
    modelHash: modelHash(shapes),
  });
  return added;
}

/** parseArgs, with a bad command line as one line on stderr and exit 1 (no stack trace). */
function parseCommandLine<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    console.error(`grow-checkpoint: ${(e as Error).message}`);
    process.exit(1);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseCommandLine(() =>
    parseArgs({
      options: {
        out: { type: "string", short: "o" },
        "reset-ema": { type: "boolean", default: false },
      },
      allowPositionals: true,
    }),
  );
  if (positionals.length !== 2) {
    console.error(
      "usage: npx tsx tools/grow-checkpoint.ts PROGRAM.cld CHECKPOINT [-o OUT] [--reset-ema]",
    );
    process.exit(2);
  }
  const [program, ckPath] = positionals;
  try {
    const added = growCheckpoint(program, ckPath, values.out ?? ckPath, {
      resetEma: values["reset-ema"],
    });
    console.log(
      added.length
        ? `${values.out ?? ckPath}: added ${added.join(", ")}`
        : `${ckPath} already matches the model; nothing to add`,
    );
  } catch (e) {
    console.error(`grow-checkpoint: ${(e as Error).message}`);
    process.exit(1);
  }
}
