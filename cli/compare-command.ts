// `cldc compare RUN_DIR ...`: several evaluated continual runs side by side (a λ sweep, the
// baselines, your own concepts under two settings): the summary table, each run's
// denoising-loss forgetting against a reference run concept by concept (sign test), and a
// chart of each run's average scores after every task. Reads RUN_DIR/eval/scores.json,
// which `cldc eval RUN_DIR` writes; no GPU.
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import {
  compareChart,
  compareMarkdown,
  readRunScores,
  type CompareRow,
} from "../runtime/eval/compare.ts";
import { HelpRequest, parse, UsageError } from "./args.ts";

export const COMPARE_USAGE =
  "usage: cldc compare RUN_DIR RUN_DIR ... [--names a,b,...] [--reference NAME] [-o DIR]";

const COMPARE_HELP = `${COMPARE_USAGE}

Puts continual runs that cldc eval has scored side by side (they must have learned the same
concepts in the same order):
  - a table: judge accuracy (final, with its 95 % interval; forgetting; plasticity), KID,
    the denoising loss (base -> right after learning -> final; forgetting and the share of
    the gain it undid), values trained per task and stored, training time;
  - for every run, on how many concepts its loss forgetting is lower than the reference
    run's, with a two-sided sign test;
  - a chart: average judge accuracy and loss rise since learned, over the concepts so far.

  --names a,b,...   a name per run (default: the run directories' names)
  --reference NAME  the run the others are compared with (default: the first)
  -o DIR            where compare.md, compare.svg and compare.png go (default runs/compare)`;

export async function cmdCompare(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) throw new HelpRequest(COMPARE_HELP);
  const { values, positionals } = parse(
    argv,
    {
      names: { type: "string" },
      reference: { type: "string" },
      out: { type: "string", short: "o" },
    },
    COMPARE_USAGE,
  );
  if (positionals.length < 1) throw new UsageError(COMPARE_USAGE);
  const names = values.names
    ? values.names.split(",").map((n) => n.trim())
    : positionals.map((d) => basename(resolve(d)));
  if (names.length !== positionals.length)
    throw new UsageError(
      `--names gives ${names.length} names for ${positionals.length} run directories`,
    );
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new UsageError(`two runs are named '${dup}'; name them with --names a,b,...`);
  const reference = values.reference ?? names[0];
  if (!names.includes(reference))
    throw new UsageError(`--reference ${reference} is none of the runs (${names.join(", ")})`);

  const rows: CompareRow[] = positionals.map((dir, i) => {
    try {
      return { method: names[i], scores: readRunScores(dir) };
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  });
  // Scores of different concept sequences do not compare: say which differ.
  const first = rows[0].scores!.concepts.join(", ");
  for (const r of rows.slice(1))
    if (r.scores!.concepts.join(", ") !== first)
      throw new UsageError(
        `runs learned different concepts: ${rows[0].method} (${first}) and ${r.method} (${r.scores!.concepts.join(", ")})`,
      );

  const out = values.out ?? join("runs", "compare");
  const md =
    `# Comparing ${rows.length} continual run${rows.length === 1 ? "" : "s"}\n\n` +
    rows.map((r, i) => `- ${r.method}: \`${positionals[i]}\``).join("\n") +
    "\n\n" +
    compareMarkdown(rows, reference, "compare.png");
  const chart = compareChart(rows);
  try {
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, "compare.md"), md);
    writeFileSync(join(out, "compare.svg"), chart.svg);
    writeFileSync(join(out, "compare.png"), chart.png);
  } catch (e) {
    throw new UsageError(`cannot write to ${out}: ${(e as Error).message}`);
  }
  console.log(md);
  console.log(`wrote ${join(out, "compare.md")}, compare.svg and compare.png`);
  return 0;
}
