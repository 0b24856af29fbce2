// `npm run fuzz`: property-based fuzzing of the front end (parse + elaborate, the path of
// `cldc check`). Generates random token streams and mutations of every models/ and
// examples/ file with fast-check, runs each in a worker with a time budget (a case that does
// not finish within the hang limit kills the worker) and saves every failing input.
//
//   npm run fuzz -- [--runs 10000] [--seed N] [--budget-ms 10000] [--out runs/fuzz]
import { rmSync } from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import fc from "fast-check";
import {
  makeScratch,
  saveReproducer,
  seedFiles,
  type FuzzCase,
  type Outcome,
} from "./fuzz/check-text.ts";
import { fuzzCases } from "./fuzz/generators.ts";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "10000" },
    seed: { type: "string" },
    "budget-ms": { type: "string", default: "10000" },
    out: { type: "string", default: "runs/fuzz" },
  },
});
const runs = Number(values.runs);
const seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 2 ** 31;
const budgetMs = Number(values["budget-ms"]);
const hangMs = budgetMs * 6; // generous: a huge input may use more than the base budget
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
process.chdir(root);

const scratch = makeScratch(root);
const workerUrl = new URL("./fuzz/worker.mjs", import.meta.url);
// One persistent listener per worker: removing a worker's last 'message' listener stops its
// port, and replies sent meanwhile are lost.
let pending: ((o: Outcome) => void) | null = null;
let worker = spawn();
function spawn(): Worker {
  const w = new Worker(workerUrl, { workerData: { scratch, budgetMs } });
  w.on("message", (o: Outcome) => pending?.(o));
  w.on("error", (e) => {
    // Out of memory or a crash outside runCase's try; a worker that cannot even start is fatal.
    if (/ERR_|Cannot find module/.test(String(e))) throw e;
    worker = spawn();
    pending?.({ ok: false, failure: `worker died: ${e.stack ?? e}`, diagnostics: 0, ms: 0 });
  });
  return w;
}

/** Runs one case in the worker; a hang kills the worker and starts a fresh one. */
function runInWorker(c: FuzzCase): Promise<Outcome> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      const hung = worker;
      worker = spawn();
      void hung.terminate();
      pending?.({
        ok: false,
        failure: `hang: no result after ${hangMs} ms`,
        diagnostics: 0,
        ms: hangMs,
      });
    }, hangMs);
    pending = (o) => {
      clearTimeout(timer);
      pending = null;
      resolve(o);
    };
    worker.postMessage(c);
  });
}

console.log(`fuzzing the front end: ${runs} cases, seed ${seed}, budget ${budgetMs} ms per case`);
const cases = fuzzCases(seedFiles(root));
const failures: { c: FuzzCase; o: Outcome; file: string }[] = [];
let ran = 0;
let clean = 0;
let slowest = { ms: 0, label: "" };
const t0 = Date.now();
const chunk = 200;
for (let start = 0; start < runs; start += chunk) {
  const batch = fc.sample(cases, { numRuns: Math.min(chunk, runs - start), seed: seed + start });
  for (const c of batch) {
    const o = await runInWorker(c);
    ran++;
    if (o.diagnostics === 0 && o.ok) clean++;
    if (o.ms > slowest.ms) slowest = { ms: o.ms, label: c.label };
    if (!o.ok) {
      const file = saveReproducer(c, values.out!, failures.length);
      failures.push({ c, o, file });
      console.log(
        `FAIL ${c.label}\n  ${o.failure!.split("\n").slice(0, 6).join("\n  ")}\n  saved ${file}`,
      );
    }
  }
  process.stdout.write(
    `  ${ran}/${runs} cases, ${failures.length} failures, ${((Date.now() - t0) / 1000).toFixed(0)} s\n`,
  );
}
await worker.terminate();
rmSync(scratch, { recursive: true, force: true });
console.log(
  `${ran} cases in ${((Date.now() - t0) / 1000).toFixed(0)} s (seed ${seed}): ${failures.length} failures, ` +
    `${clean} checked clean, ${ran - clean - failures.length} ended in diagnostics; slowest ${slowest.ms.toFixed(0)} ms (${slowest.label})`,
);
if (failures.length)
  console.log(
    `reproducers in ${values.out}/ (copy one into the folder named in its .txt, then cldc check it)`,
  );
process.exitCode = failures.length ? 1 : 0;
