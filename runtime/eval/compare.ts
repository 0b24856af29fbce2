// Comparing evaluated continual runs (`cldc compare`, bench/continual.ts): one Markdown
// table of every run's summary scores, the concept-by-concept comparison of each run's
// denoising-loss forgetting with a reference run (sign test), and a chart of each run's
// average judge accuracy and loss rise over the concepts learned so far, after every task.
// Everything is read from the runs' eval/scores.json.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { COLORS, lineChartSvg, svgToPng, type LinePanel } from "./chart.ts";

export interface SummaryPart {
  finalAverage: number;
  forgetting: number;
  plasticity: number;
  /** Mean over the concepts learned so far, after each task (null: undefined). */
  averageAfter?: (number | null)[];
}

/** The part of `cldc eval`'s scores.json the table reads. */
export interface Scores {
  concepts: string[];
  options: { n: number };
  summary: Record<"accuracy" | "kid", SummaryPart> & {
    loss?: SummaryPart & { forgettingPerConcept?: (number | null)[] };
  };
  /** loss[t][i]: the denoising loss of concept i after task t (null where i > t). */
  loss?: (number | null)[][];
  /** The base model's denoising loss per concept, prompted without a token. */
  lossBase?: number[];
  params: { trainedPerTask: number; storedFinal: number };
  timing: { trainSeconds: number[] };
}

const pct = (v: number) => `${(100 * v).toFixed(1)} %`;

/**
 * Half-width of a 95 % interval (normal approximation to the binomial) for an accuracy
 * measured on `samples` judged images: with 8 samples per concept, rows closer than this
 * are not told apart by the benchmark.
 */
export function accuracyMargin(p: number, samples: number): number {
  return samples > 0 ? 1.96 * Math.sqrt((p * (1 - p)) / samples) : NaN;
}
const kid = (v: number) => (1000 * v).toFixed(1);

/**
 * The denoising-loss cells: "base → right after → final" (×10³, means over concepts) and
 * the forgetting with the share of the gain it undid (gain = base − right after).
 */
export function lossCells(s: Scores): [string, string] {
  const l = s.summary.loss;
  if (!l || !s.lossBase?.length) return ["—", "—"];
  const base = s.lossBase.reduce((a, b) => a + b, 0) / s.lossBase.length;
  const gain = base - l.plasticity;
  const share = gain > 0 ? ` (${((100 * l.forgetting) / gain).toFixed(0)} % of gain)` : "";
  const sign = l.forgetting >= 0 ? "+" : "";
  return [
    `${kid(base)} → ${kid(l.plasticity)} → ${kid(l.finalAverage)}`,
    `${sign}${(1000 * l.forgetting).toFixed(2)}${share}`,
  ];
}

/** One Markdown row per run; runs without scores are listed as not run. */
export function table(rows: CompareRow[]): string {
  const head = [
    "| method | judge acc. final (95 % CI) | forgetting | plasticity | KID×10³ final | KID forgetting | loss×10³ base → after → final | loss forgetting | trained / task | stored | train time |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  const body = rows.map(({ method, scores: s }) => {
    if (!s) return `| ${method} | not run | | | | | | | | | |`;
    const [lossPath, lossForgetting] = lossCells(s);
    const a = s.summary.accuracy;
    const k = s.summary.kid;
    const secs = s.timing.trainSeconds.reduce((x, y) => x + y, 0);
    const margin = accuracyMargin(a.finalAverage, s.options.n * s.concepts.length);
    const final = `${pct(a.finalAverage)} ± ${(100 * margin).toFixed(0)}`;
    return `| ${method} | ${final} | ${pct(a.forgetting)} | ${pct(a.plasticity)} | ${kid(k.finalAverage)} | ${kid(k.forgetting)} | ${lossPath} | ${lossForgetting} | ${s.params.trainedPerTask.toLocaleString("en-US")} | ${s.params.storedFinal.toLocaleString("en-US")} | ${Math.round(secs)} s |`;
  });
  return [...head, ...body].join("\n");
}

/**
 * After each task t, the mean over the concepts learned so far of loss[t][i] − loss[i][i]
 * (how much each has drifted since its own task); empty without a loss matrix.
 */
export function lossDrift(loss: (number | null)[][] | undefined): number[] {
  if (!loss) return [];
  return loss.map((row, t) => {
    let sum = 0;
    for (let i = 0; i <= t; i++) sum += (row[i] ?? NaN) - (loss[i][i] ?? NaN);
    return sum / (t + 1);
  });
}

/** Two-sided sign test: the probability of a split at least as uneven as `wins` of `n`. */
export function signTestP(wins: number, n: number): number {
  if (n === 0) return 1;
  const k = Math.min(wins, n - wins);
  let tail = 0;
  let c = 1; // C(n, 0)
  for (let i = 0; i <= k; i++) {
    tail += c;
    c = (c * (n - i)) / (i + 1);
  }
  return Math.min(1, (2 * tail) / 2 ** n);
}

/**
 * Concept by concept against a reference method: on how many concepts each method's
 * denoising-loss forgetting is lower, with the sign test's p. The loss has no sampling
 * noise and the concepts are the same, so this pairs what the averages only compare.
 */
export function pairedLines(rows: CompareRow[], reference: string): string[] {
  const per = (s: Scores | null) =>
    s?.summary.loss?.forgettingPerConcept?.filter((v): v is number => v !== null) ?? null;
  const ref = per(rows.find((r) => r.method === reference)?.scores ?? null);
  if (!ref) return [];
  const out: string[] = [];
  for (const { method, scores } of rows) {
    const f = per(scores);
    if (method === reference || !f || f.length !== ref.length) continue;
    const less = f.filter((v, i) => v < ref[i]).length;
    const more = f.filter((v, i) => v > ref[i]).length;
    const p = signTestP(less, less + more);
    out.push(
      `- ${method}: forgets less than ${reference} on ${less} of ${f.length} concepts, more on ${more} (sign test p = ${p < 0.001 ? p.toExponential(1) : p.toFixed(3)})`,
    );
  }
  return out;
}

/**
 * The chart: per method, the average judge accuracy and the average denoising loss over the
 * concepts learned so far, after each task (methods without scores are left out).
 */
export function chartPanels(rows: CompareRow[]): LinePanel[] {
  const ran = rows.filter((r) => r.scores);
  const series = (pick: (s: Scores) => SummaryPart | undefined, scale: number) =>
    ran.map(({ method, scores }, k) => ({
      name: method,
      values: (pick(scores!)?.averageAfter ?? []).map((v) => (v === null ? NaN : scale * v)),
      color: COLORS[k % COLORS.length],
      width: /^c-?lora/i.test(method) ? 2.5 : 1.5,
    }));
  // The loss's own level depends on which concepts are in the mean (each has its own): the
  // chart shows instead how far the concepts learned so far have drifted from their loss
  // right after learning — forgetting as it builds up, 0 for a method that forgets nothing.
  const drift = ran.map(({ method, scores }, k) => ({
    name: method,
    values: lossDrift(scores!.loss).map((v) => 1000 * v),
    color: COLORS[k % COLORS.length],
    width: /^c-?lora/i.test(method) ? 2.5 : 1.5,
  }));
  return [
    {
      title: "judge accuracy, concepts so far (higher is better)",
      series: series((s) => s.summary.accuracy, 100),
      range: [0, 100],
      format: (v) => `${v.toFixed(0)}%`,
    },
    {
      title: "loss rise since learned ×10³, concepts so far (lower is better)",
      series: drift,
      range: null,
      format: (v) => v.toFixed(1),
    },
  ];
}

export interface CompareRow {
  method: string;
  scores: Scores | null;
}

/**
 * The report body: the table, each run's loss forgetting against `reference` concept by
 * concept, and a link to the chart (`chartFile`, relative to the report).
 */
export function compareMarkdown(rows: CompareRow[], reference: string, chartFile: string): string {
  const paired = pairedLines(rows, reference);
  return (
    `${table(rows)}\n` +
    (paired.length
      ? `\nDenoising-loss forgetting, concept by concept, against ${reference}:\n\n${paired.join("\n")}\n`
      : "") +
    `\n![average score over the concepts so far](${chartFile})\n`
  );
}

/** The chart as SVG text, and as PNG bytes. */
export function compareChart(rows: CompareRow[]): { svg: string; png: Uint8Array } {
  const svg = lineChartSvg(chartPanels(rows), "after task");
  return { svg, png: svgToPng(svg) };
}

/**
 * An evaluated run's scores (RUN_DIR/eval/scores.json). Throws a one-line Error when the
 * run has not been evaluated or the file is not an eval's.
 */
export function readRunScores(runDir: string): Scores {
  const f = join(runDir, "eval", "scores.json");
  if (!existsSync(f))
    throw new Error(`${runDir} has no eval/scores.json; run cldc eval ${runDir} first`);
  let j: Scores;
  try {
    j = JSON.parse(readFileSync(f, "utf8")) as Scores;
  } catch (e) {
    throw new Error(`${f}: not readable as JSON (${(e as Error).message.split("\n")[0]})`);
  }
  if (!Array.isArray(j?.concepts) || !j.summary?.accuracy || !j.params || !j.timing)
    throw new Error(`${f} is not a cldc eval scores file`);
  return j;
}
