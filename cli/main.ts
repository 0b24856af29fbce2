// cldc's entry point: dispatches subcommands and turns every failure into a clear message
// and an exit code (1: bad input, 2: runtime failure, 3: no GPU adapter), never a stack
// trace (set CLD_DEBUG=1 to see one).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CompileError, didYouMean, formatDiagnostics } from "../compiler/diagnostics.ts";
import { GpuError, GpuUnavailableError } from "../runtime/gpu.ts";
import { ResumeError } from "../runtime/session.ts";
import { HelpRequest, UsageError } from "./args.ts";
import { cmdCheck, cmdCompile } from "./compile-commands.ts";
import { cmdTrain } from "./train-command.ts";
import { cmdExplain } from "./explain-command.ts";
import { cmdSample } from "./sample-command.ts";
import { cmdEval } from "./eval-command.ts";
import { cmdCompare } from "./compare-command.ts";

export const HELP = `cldc — the cld compiler: diffusion models and C-LoRA continual customization, lowered to WGSL

Usage:
  cldc check FILE.cld [--set k=v ...]         parse and type/shape-check (run-block require()s too)
  cldc compile FILE.cld -o DIR [--emit wgsl,ir,plan] [--set k=v ...]
                                              write kernels, IR and the execution plan
  cldc train PROGRAM.cld [--set k=v ...] [--run-dir DIR] [--seed N] [--fresh] [--checkpoint-every S] [--checkpoint-steps N] [--debug-nans]
                                              run a training program (resumes from DIR; Ctrl-C:
                                              checkpoint and exit 130); see cldc train --help
  cldc explain PROGRAM.cld [--step NAME] [--profile]
                                              the compiled step as a table of kernels
  cldc sample CHECKPOINT --prompt TEXT -o GRID.png [--n 16] [--steps 50] [--guidance 3] [--seed 1] [--sampler ddim|ddpm] [--scale 4] [--no-ema]
                                              draw images from a trained model (classifier-free guidance)
  cldc eval RUN_DIR [--n 8] [--steps 20] [--guidance 3] [--seed 0] [--base CHECKPOINT]
                                              score a C-LoRA run's per-task snapshots (judge accuracy,
                                              KID, denoising loss, forgetting); writes RUN_DIR/eval/
  cldc compare RUN_DIR RUN_DIR ... [--names a,b] [--reference NAME] [-o DIR]
                                              evaluated runs side by side: table, sign test, chart
  cldc fmt [--check] FILE.cld|DIR ...          format .cld files in place (--check: only report)
  cldc --help | --version

Exit codes: 0 ok, 1 bad input (diagnostics printed), 2 runtime failure, 3 no GPU adapter.
Docs: docs/language.md (the language), docs/ops.md (every op).`;

const COMMANDS = ["check", "compile", "train", "explain", "sample", "eval", "compare", "fmt", "help"];

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const sources = new Map<string, string>();
  try {
    switch (cmd) {
      case undefined:
      case "--help":
      case "-h":
      case "help":
        console.log(HELP);
        return cmd === undefined ? 1 : 0;
      case "--version":
      case "-v": {
        const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
        console.log(`cldc ${pkg.version}`);
        return 0;
      }
      case "check":
        return await cmdCheck(rest, sources);
      case "compile":
        return await cmdCompile(rest, sources);
      case "train":
        return await cmdTrain(rest, sources);
      case "explain":
        return await cmdExplain(rest, sources);
      case "sample":
        return await cmdSample(rest, sources);
      case "eval":
        return await cmdEval(rest, sources);
      case "compare":
        return await cmdCompare(rest);
      case "fmt": // loaded on demand: prettier is not needed by the other commands
        return await (await import("./fmt-command.ts")).cmdFmt(rest);
      default:
        console.error(`cldc: unknown command '${cmd}'${didYouMean(cmd, COMMANDS)}\n\n${HELP}`);
        return 1;
    }
  } catch (e) {
    if (e instanceof HelpRequest) {
      console.log(e.message); // `cldc CMD --help`: the command's usage, exit 0
      return 0;
    }
    return report(e, sources);
  }
}

export function report(e: unknown, sources: Map<string, string>): number {
  if (process.env.CLD_DEBUG) console.error(e);
  if (e instanceof CompileError) {
    console.error(formatDiagnostics(e.diagnostics, e.sources ?? sources));
    const n = e.diagnostics.filter((d) => d.severity === "error").length;
    console.error(`${n} error${n === 1 ? "" : "s"}`);
    return 1;
  }
  if (e instanceof UsageError || e instanceof ResumeError) {
    console.error(`cldc: ${e.message}`);
    return 1;
  }
  if (e instanceof GpuUnavailableError) {
    console.error(`cldc: ${e.message}`);
    return 3;
  }
  if (e instanceof GpuError) {
    console.error(`cldc: GPU error: ${e.message}`);
    return 2;
  }
  const err = e as NodeJS.ErrnoException;
  const pkg =
    err?.code === "ERR_MODULE_NOT_FOUND" && /Cannot find package '([^']+)'/.exec(err.message);
  if (pkg) {
    // A dependency loaded on demand (prettier for `cldc fmt`) that `npm ci` did not install.
    const root = fileURLToPath(new URL("..", import.meta.url)).replace(/[\\/]$/, "");
    console.error(
      `cldc: dependencies are not installed (no package '${pkg[1]}'); run \`npm run setup\` (or \`npm ci\`) in ${root} first`,
    );
    return 1;
  }
  if (err?.code === "ENOENT" && err.path) {
    console.error(`cldc: no such file: ${err.path}`);
    return 1;
  }
  console.error(`cldc: ${err?.message ?? String(e)}`);
  return 2;
}
