// Worker side of `npm run fuzz`: runs cases one at a time so the parent can kill it on a hang.
import { parentPort, workerData } from "node:worker_threads";
import { runCase, type FuzzCase } from "./check-text.ts";

const { scratch, budgetMs } = workerData as { scratch: string; budgetMs: number };
parentPort!.on("message", (c: FuzzCase) => {
  const o = runCase(c, scratch, budgetMs);
  parentPort!.postMessage(o);
});
