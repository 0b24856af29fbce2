// Writes an eval's results to RUN_DIR/eval/: report.md (Markdown tables), scores.json (every
// number), grid.png (samples: concepts × snapshots), scores.svg and scores.png (score vs.
// task), and index.html tying them together.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../io/atomic.ts";
import { encodePng } from "../io/png.ts";
import { formatDuration } from "../io/progress.ts";
import { scoresSvg, svgToPng, type ChartPanel } from "./chart.ts";
import { evalGrid } from "./grid.ts";
import { emptyMatrix, summarize, type Summary } from "./metrics.ts";
import { pairStripPath } from "./pair-cache.ts";
import type { EvalResult } from "./run-eval.ts";

const pct = (v: number | null) =>
  v === null || !Number.isFinite(v) ? "—" : `${(100 * v).toFixed(0)}%`;
const kidText = (v: number | null) =>
  v === null || !Number.isFinite(v) ? "—" : (1000 * v).toFixed(2);
const lossText = (v: number | null) =>
  v === null || !Number.isFinite(v) ? "—" : (1000 * v).toFixed(1);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** The mean of the finite entries (null/NaN from an older scores.json left out), NaN if none. */
const meanOf = (xs: (number | null)[]) => {
  const ok = xs.filter((v): v is number => v !== null && Number.isFinite(v));
  return ok.length ? mean(ok) : NaN;
};
const signed = (s: string) => (s.startsWith("-") || s === "—" ? s : `+${s}`);
const count = (v: number) => v.toLocaleString("en-US");

/** Rows = concepts, columns = after task t; `extra` adds a last column (head, one cell per concept). */
function matrixTable(
  r: EvalResult,
  m: number[][],
  fmt: (v: number) => string,
  extra?: { head: string; cells: string[] },
): string[] {
  const T = r.concepts.length;
  const more = (s: string) => (extra ? ` ${s} |` : "");
  const head = `| concept | ${Array.from({ length: T }, (_, t) => `after ${t + 1}`).join(" | ")} |${more(extra?.head ?? "")}`;
  const rule = `| --- | ${Array.from({ length: T }, () => "---:").join(" | ")} |${more("---:")}`;
  const rows = r.concepts.map(
    (c, i) =>
      `| ${i + 1}. ${c} (\`<v${i + 1}>\`) | ${Array.from({ length: T }, (_, t) => (i > t ? "" : fmt(m[t][i]))).join(" | ")} |${more(extra?.cells[i] ?? "")}`,
  );
  return [head, rule, ...rows];
}

function summaryRow(name: string, s: Summary, fmt: (v: number | null) => string): string {
  return `| ${name} | ${fmt(s.finalAverage)} | ${s.forgetting === null ? "—" : signed(fmt(s.forgetting))} | ${fmt(s.plasticity)} |`;
}

export function reportMarkdown(r: EvalResult): string {
  const T = r.concepts.length;
  const o = r.options;
  const j = r.judge;
  const out: string[] = [];
  out.push(`# Continual customization: ${T} concept${T === 1 ? "" : "s"}`, "");
  out.push(
    `Run \`${r.runDir}\`, program ${r.program}; base \`${r.base.path}\` (SHA-256 ${r.base.sha256.slice(0, 12)}…${r.base.matchesRecorded ? "" : ", **not** the file the run was trained from"}).`,
    "",
    `Per snapshot t and concept i ≤ t: ${o.n} DDIM samples of "a photo of <v_i>" (${o.steps} steps, guidance ${o.guidance}, seed ${o.seed}; the same start noise for a concept after every task).`,
    "",
    `- **Judge accuracy**: the fraction of samples the concept judge (examples/concept_judge.cld, ${j.classes} classes: the run's whole concept list; chance ${pct(1 / j.classes)}) assigns to the prompted concept. Its own accuracy on the held-out artist (${j.holdOut || "none"}${r.concepts.some((c) => c.includes("/")) ? "; for a folder of your own images, its last image" : ""}) is ${pct(j.heldOutAccuracy)}; the column "real images" is its accuracy on each concept's real drawings (every style, the held-out one included). Higher is better.`,
    `- **KID ×10³**: kernel inception distance to the concept's real images (every artist style${r.realImages.length ? `, ${Math.min(...r.realImages)}–${Math.max(...r.realImages)} per concept` : ""}) in MobileNetV2 features. Lower is better; with ${o.n} samples it is noisy.`,
    `- **Denoising loss ×10³**: the mean squared error of the noise the model predicts for the concept's real images when prompted with its token, at noise levels t = 0.2, 0.4, 0.6, 0.8 with fixed noise (two draws per image and level). Lower is better; the column "base, no token" is the base model's loss prompted "a photo of", before any concept was learned. The same images and noise after every task, so a change is the model's own, free of sampling noise.`,
    "- **Forgetting**: best earlier score minus final (for KID: final minus best), averaged over concepts 1..T−1; positive = worse than it once was. **Plasticity**: each concept right after it was learned.",
    "",
  );
  out.push("## Summary", "");
  out.push("| metric | final average | forgetting | plasticity |", "| --- | ---: | ---: | ---: |");
  out.push(summaryRow("judge accuracy", r.accuracySummary, pct));
  out.push(summaryRow("KID ×10³", r.kidSummary, kidText));
  out.push(summaryRow("denoising loss ×10³", r.lossSummary, lossText), "");
  out.push("## Judge accuracy after each task", "");
  // The last column: the judge on the concept's real images, so a low row can be read as
  // the samples' failure (judge sees the real ones) or the judge's (it does not).
  out.push(
    ...matrixTable(r, r.accuracy, (v) => pct(v), {
      head: "real images",
      cells: r.judge.realAccuracy.map((v) => pct(v ?? NaN)),
    }),
  );
  out.push(
    `| **average** | ${r.accuracySummary.averageAfter.map((v) => `**${pct(v)}**`).join(" | ")} | ${pct(meanOf(r.judge.realAccuracy))} |`,
    "",
  );
  out.push("## KID ×10³ after each task", "");
  out.push(...matrixTable(r, r.kid, (v) => kidText(v)));
  out.push(
    `| **average** | ${r.kidSummary.averageAfter.map((v) => `**${kidText(v)}**`).join(" | ")} |`,
    "",
  );
  out.push("## Denoising loss ×10³ after each task", "");
  // The last column: the base model prompted "a photo of", i.e. before any concept was
  // learned, so each row reads as how far learning lowered the loss and how much came back.
  out.push(
    ...matrixTable(r, r.loss, (v) => lossText(v), {
      head: "base, no token",
      cells: r.lossBase.map((v) => lossText(v)),
    }),
  );
  out.push(
    `| **average** | ${r.lossSummary.averageAfter.map((v) => `**${lossText(v)}**`).join(" | ")} | ${lossText(mean(r.lossBase))} |`,
    "",
  );
  out.push("## Parameters", "");
  const p = r.params;
  out.push(
    "| what | values |",
    "| --- | ---: |",
    `| base model (frozen) | ${count(p.base)} |`,
    `| trained per task (adapter factors + the new token's row) | ${count(p.trainedPerTask)} |`,
    `| stored after ${T} task${T === 1 ? "" : "s"}: what differs from the base (token rows, changed weights) and the adapter's factors and state | ${count(p.storedFinal)} |`,
    `| the last snapshot file (whole tensors) | ${count(p.fileValuesFinal ?? p.storedFinal)} (${(p.storedBytesFinal / 1024).toFixed(0)} KiB) |`,
    "",
  );
  out.push("## Time", "");
  const tm = r.timing;
  const train = tm.trainSeconds;
  out.push(
    "| what | time |",
    "| --- | ---: |",
    ...train.map(
      (s, t) => `| training task ${t + 1} | ${s === null ? "— (resumed)" : formatDuration(s)} |`,
    ),
    `| eval: concept judge (${j.trainedNow ? "trained now" : "cached"}) | ${formatDuration(tm.judgeSeconds)} |`,
    `| eval: sampling (${(T * (T + 1)) / 2} snapshot × concept pairs, ${formatDuration(tm.sampleSeconds / ((T * (T + 1)) / 2))} each) | ${formatDuration(tm.sampleSeconds)} |`,
    `| eval: MobileNetV2 features | ${formatDuration(tm.featureSeconds)} |`,
    `| eval: denoising loss | ${formatDuration(tm.lossSeconds)} |`,
    `| eval in all | ${formatDuration(tm.evalSeconds)} |`,
    "",
  );
  out.push(
    "Files: `grid.png` (samples; rows = concepts, columns = after task t), `scores.svg`/`scores.png`, `scores.json`.",
    "",
  );
  return out.join("\n");
}

/**
 * The HTML page; `strips` are the paths (relative to eval/) of every sample of each concept
 * after the last task, shown in full below the grid's four per cell.
 */
export function reportHtml(r: EvalResult, markdown: string, strips: string[] = []): string {
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>cldc eval: ${esc(r.runDir)}</title>
<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}
img{image-rendering:pixelated;max-width:100%;border:1px solid #ccc}
pre{white-space:pre-wrap;background:#f6f6f6;padding:1em}</style></head>
<body>
<h1>Continual customization: ${r.concepts.length} concepts</h1>
<p>Final judge accuracy ${pct(r.accuracySummary.finalAverage)}, forgetting ${r.accuracySummary.forgetting === null ? "—" : pct(r.accuracySummary.forgetting)}, plasticity ${pct(r.accuracySummary.plasticity)}; final KID×10³ ${kidText(r.kidSummary.finalAverage)}; denoising loss ×10³ ${lossText(r.lossSummary.finalAverage)}, forgetting ${r.lossSummary.forgetting === null ? "—" : signed(lossText(r.lossSummary.forgetting))}.</p>
<h2>Scores after each task</h2>
<img src="scores.svg" alt="score vs task">
<h2>Samples (rows: concepts; columns: after task t)</h2>
<img src="grid.png" alt="samples" style="width:${Math.min(100, 20 * r.concepts.length + 10)}%">
${
  strips.length
    ? `<h2>Every sample after task ${r.concepts.length}</h2>\n<table>${strips
        .map(
          (src, i) =>
            `<tr><td>${esc(r.concepts[i])} (&lt;v${i + 1}&gt;)</td><td><img src="${esc(src)}" alt="${esc(r.concepts[i])}" style="height:64px"></td></tr>`,
        )
        .join("\n")}</table>`
    : ""
}
<h2>Report</h2>
<p><a href="report.md">report.md</a> · <a href="scores.json">scores.json</a></p>
<pre>${esc(markdown)}</pre>
</body></html>
`;
}

/** Writes every output file; returns the path of report.md. */
export function writeReport(r: EvalResult): string {
  const dir = join(r.runDir, "eval");
  mkdirSync(dir, { recursive: true });
  const md = reportMarkdown(r);
  const text = (s: string) => new TextEncoder().encode(s);
  // A loss-only eval samples nothing: the earlier eval's grid stays.
  if (r.samples.some((row) => row.some((c) => c !== null))) {
    const grid = evalGrid({ cells: r.samples, concepts: r.concepts, size: r.size });
    writeFileAtomic(join(dir, "grid.png"), encodePng(grid.data, grid.width, grid.height));
  }
  const panels: ChartPanel[] = [
    {
      title: "judge accuracy (higher is better)",
      matrix: r.accuracy,
      average: r.accuracySummary.averageAfter,
      range: [0, 1],
      format: (v) => `${(100 * v).toFixed(0)}%`,
    },
  ];
  if (r.kid.flat().some((v) => Number.isFinite(v)))
    panels.push({
      title: "KID ×10³ (lower is better)",
      matrix: r.kid.map((row) => row.map((v) => 1000 * v)),
      average: r.kidSummary.averageAfter.map((v) => 1000 * v),
      range: null,
      format: (v) => v.toFixed(1),
    });
  if (r.loss.flat().some((v) => Number.isFinite(v)))
    panels.push({
      title: "denoising loss ×10³ (lower is better)",
      matrix: r.loss.map((row) => row.map((v) => 1000 * v)),
      average: r.lossSummary.averageAfter.map((v) => 1000 * v),
      range: null,
      format: (v) => v.toFixed(1),
    });
  const svg = scoresSvg(panels, r.concepts);
  writeFileAtomic(join(dir, "scores.svg"), text(svg));
  writeFileAtomic(join(dir, "scores.png"), svgToPng(svg));
  const json = {
    runDir: r.runDir,
    program: r.program,
    concepts: r.concepts,
    options: r.options,
    accuracy: r.accuracy.map((row) => row.map((v) => (Number.isFinite(v) ? v : null))),
    kid: r.kid.map((row) => row.map((v) => (Number.isFinite(v) ? v : null))),
    loss: r.loss.map((row) => row.map((v) => (Number.isFinite(v) ? v : null))),
    lossBase: r.lossBase,
    summary: { accuracy: r.accuracySummary, kid: r.kidSummary, loss: r.lossSummary },
    judge: r.judge,
    realImages: r.realImages,
    params: r.params,
    base: r.base,
    timing: r.timing,
  };
  writeFileAtomic(join(dir, "scores.json"), text(JSON.stringify(json, finite, 2) + "\n"));
  writeFileAtomic(join(dir, "report.md"), text(md));
  const T = r.concepts.length;
  const strips = r.concepts.map((_, i) => pairStripPath(T - 1, i));
  const shown = strips.every((f) => existsSync(join(dir, f))) ? strips : [];
  writeFileAtomic(join(dir, "index.html"), text(reportHtml(r, md, shown)));
  return join(dir, "report.md");
}

/**
 * The scores.json of an earlier eval as an EvalResult without samples (for a loss-only
 * eval, which keeps its judge and KID scores). Throws a one-line message if it is not one.
 */
export function readScores(path: string): EvalResult {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new Error(`${path}: not readable as JSON (${(e as Error).message.split("\n")[0]})`);
  }
  for (const k of ["concepts", "options", "accuracy", "kid", "judge", "params", "base", "timing"])
    if (!(k in j)) throw new Error(`${path} is not a cldc eval scores file (no '${k}')`);
  const matrix = (m: unknown) => (m as (number | null)[][]).map((row) => row.map((v) => v ?? NaN));
  const accuracy = matrix(j.accuracy);
  const kid = matrix(j.kid);
  const T = accuracy.length;
  const timing = j.timing as EvalResult["timing"];
  const judge = j.judge as EvalResult["judge"];
  return {
    ...(j as unknown as EvalResult),
    accuracy,
    kid,
    loss: emptyMatrix(T),
    lossBase: new Array<number>(T).fill(NaN),
    accuracySummary: summarize(accuracy, true),
    kidSummary: summarize(kid, false),
    lossSummary: summarize(emptyMatrix(T), false),
    realImages: (j.realImages as number[]) ?? [],
    // Evals before the "real images" column lack it.
    judge: { ...judge, realAccuracy: judge.realAccuracy ?? new Array<number>(T).fill(NaN) },
    timing: { ...timing, lossSeconds: timing.lossSeconds ?? 0 },
    samples: [],
    size: 0,
  };
}

/** JSON has no NaN: undefined scores become null. */
function finite(_k: string, v: unknown) {
  return typeof v === "number" && !Number.isFinite(v) ? null : v;
}
