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
// They live in tools/judge-samples/ (checkpoint.ts, judge.ts, model-sampler.ts, scores.ts;
// sampling.ts and report.ts are this command's steps) and are re-exported here.
import { writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { Gpu } from "../runtime/gpu.ts";
import { SAMPLERS, type SamplerKind } from "../runtime/sampler.ts";
import { Judge } from "./judge-samples/judge.ts";
import { kidLines, saveSamples, scoreTable } from "./judge-samples/report.ts";
import { readGrids, sampleModel, scoreSamples, type Samples } from "./judge-samples/sampling.ts";
import { spreadNames } from "./judge-samples/scores.ts";

export { openCheckpoint, type OpenedCheckpoint } from "./judge-samples/checkpoint.ts";
export { Judge } from "./judge-samples/judge.ts";
export { ModelSampler, type GenerateOptions } from "./judge-samples/model-sampler.ts";
export {
  judgeScores,
  labelAveragedScores,
  labelRank,
  spreadNames,
  type JudgeScores,
} from "./judge-samples/scores.ts";

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

    let samples: Samples;
    if (values.model) {
      const perName = num(values["per-name"], 4, "--per-name");
      const steps = num(values.steps, 25, "--steps");
      const guidance = num(values.guidance, 3, "--guidance", false);
      const seed = num(values.seed, 1, "--seed");
      const sampler = (values.sampler ?? "ddim") as SamplerKind;
      if (!SAMPLERS.includes(sampler))
        throw new Error(`--sampler must be ${SAMPLERS.join(" or ")}`);
      const spec = values.names ?? "50";
      const names = /^\d+$/.test(spec)
        ? spreadNames(judge.names, Number(spec))
        : spec.split(",").map(nameOf);
      const batch = num(values.batch, 16, "--batch");
      samples = await sampleModel(
        gpu,
        judge,
        index,
        {
          model: values.model,
          names,
          perName,
          steps,
          guidance,
          seed,
          sampler,
          batch,
          ema: !values["no-ema"],
        },
        log,
      );
    } else {
      const size = num(values["grid-size"], 32, "--grid-size");
      const pad = num(values.pad, 2, "--pad");
      samples = readGrids(judge, index, nameOf, values.grid!, values["uncond-grid"], {
        size,
        pad,
      });
    }

    const scored = await scoreSamples(judge, index, samples);
    const md = scoreTable(values.judge, judge, samples.how, scored);
    if (values.kid) md.push(...(await kidLines(judge, samples, scored)));
    if (values.save) md.push(...saveSamples(values.save, judge, samples));
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
