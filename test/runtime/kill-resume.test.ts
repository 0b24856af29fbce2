// Fault injection: `cldc train` is SIGKILLed at several points (seeded random points in
// training, and once while a checkpoint is half-written), stopped once with SIGTERM,
// resumed each time, and must end with a checkpoint byte-identical to an uninterrupted
// run's.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readSafetensors } from "../../runtime/io/safetensors.ts";
import { removeRunDirs, runDir } from "./helpers.ts";

const FIXTURE = "test/fixtures/faults/kill-mlp.cld";
const ARGS = ["--set", "steps=120", "--checkpoint-steps", "10", "--checkpoint-every", "0"];
const CK = "checkpoint.safetensors";

afterAll(removeRunDirs);

/** mulberry32: the kill points are random but the same on every run of the test. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Run {
  child: ChildProcess;
  out: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

// The test runs once per target: the WGSL path on lavapipe, and the native C++ target.
let device = "lavapipe";

function train(dir: string, extra: string[] = [], env: Record<string, string> = {}): Run {
  const child = spawn(
    process.execPath,
    ["bin/cldc.js", "train", FIXTURE, "--run-dir", dir, "--device", device, ...ARGS, ...extra],
    { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let text = "";
  child.stdout!.on("data", (d) => (text += d));
  child.stderr!.on("data", (d) => (text += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.on("exit", (code, signal) => res({ code, signal })),
  );
  return { child, out: () => text, exit };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, run: Run, what: string): Promise<void> {
  let exited = false;
  void run.exit.then(() => (exited = true));
  while (!cond()) {
    if (exited) throw new Error(`run ended before ${what}:\n${run.out()}`);
    await sleep(5);
  }
}

function progressLines(text: string): number {
  return (text.match(/^KillMlp \[/gm) ?? []).length;
}

function tempFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.startsWith(`${CK}.tmp-`));
}

function eventsIn(dir: string): number {
  if (!existsSync(join(dir, CK))) return 0;
  const { metadata } = readSafetensors(join(dir, CK));
  return (JSON.parse(metadata["cld.state"]) as { events: number }).events;
}

describe.each(["lavapipe", "cpu"])("SIGKILL and resume on %s", (target) => {
  it("ends bit-identical to an uninterrupted run after 6 kills (one mid-checkpoint) and a SIGTERM", async () => {
    device = target;
    // The uninterrupted reference runs alongside the killed runs (it shares nothing).
    const refDir = runDir();
    const ref = train(refDir, ["--fresh"]);

    const dir = runDir();
    const random = rng(20261125);
    const log: string[] = [];
    const kills = 6;
    const tornAt = 2; // the third kill lands while a checkpoint is half-written
    const garbageAt = 4; // and before the fifth run, a garbage temp file appears
    for (let k = 0; k < kills; k++) {
      const before = eventsIn(dir);
      if (k === garbageAt) writeFileSync(join(dir, `${CK}.tmp-999999-1`), "garbage, not a tensor");
      const torn = k === tornAt;
      const run = train(dir, [], torn ? { CLD_FAULT_WRITE_PAUSE_MS: "3000" } : {});
      if (torn) {
        // Wait for a temp file of *this* process (a save in progress), then kill it.
        const mine = () => tempFiles(dir).some((f) => f.includes(`.tmp-${run.child.pid}-`));
        await until(mine, run, "a checkpoint write");
      } else {
        // 1-4 progress lines into the run, then a random 0-40 ms more: anywhere in a step,
        // between steps, or in a checkpoint save.
        const lines = 1 + Math.floor(random() * 4);
        await until(() => progressLines(run.out()) >= lines, run, `${lines} progress lines`);
        await sleep(Math.floor(random() * 40));
      }
      run.child.kill("SIGKILL");
      const { signal } = await run.exit;
      expect(signal, run.out()).toBe("SIGKILL");
      expect(run.out()).toContain(before > 0 ? "resuming from" : "run directory");
      if (torn) {
        const temps = tempFiles(dir);
        expect(temps.length).toBe(1);
        const size = statSync(join(dir, temps[0])).size;
        expect(size).toBeLessThan(statSync(join(dir, CK)).size); // really torn
      }
      const shown = [...run.out().matchAll(/\] (\d+)\/\d+ /g)].pop()?.[1] ?? "0";
      log.push(
        `kill ${k + 1}${torn ? " (mid-checkpoint)" : ""}: resumed at event ${before}, killed after step ${shown} was shown; checkpoint on disk: event ${eventsIn(dir)}`,
      );
    }
    // A polite stop (SIGTERM, as Ctrl-C's SIGINT): the step in progress finishes and is
    // checkpointed, nothing is lost.
    const term = train(dir);
    await until(() => progressLines(term.out()) >= 2, term, "2 progress lines");
    term.child.kill("SIGTERM");
    const termExit = await term.exit;
    expect(termExit.code, term.out()).toBe(130);
    const stopped = Number(/stopped after event (\d+); checkpoint written/.exec(term.out())?.[1]);
    expect(stopped).toBeGreaterThan(0);
    expect(eventsIn(dir)).toBe(stopped);
    log.push(`SIGTERM: stopped cleanly with a checkpoint at event ${stopped}`);

    const last = train(dir);
    const { code } = await last.exit;
    expect(code, last.out()).toBe(0);
    expect(last.out()).toContain("resuming from");
    // The torn and garbage temp files were never loaded, and the next save cleared them.
    expect(tempFiles(dir)).toEqual([]);
    console.log(log.join("\n"));

    const refExit = await ref.exit;
    expect(refExit.code, ref.out()).toBe(0);
    const reference = readFileSync(join(refDir, CK));
    const a = readSafetensors(join(refDir, CK));
    const b = readSafetensors(join(dir, CK));
    expect([...b.tensors.keys()]).toEqual([...a.tensors.keys()]);
    for (const [name, t] of a.tensors) {
      const u = b.tensors.get(name)!;
      const same = Buffer.from(t.data.buffer).equals(Buffer.from(u.data.buffer));
      expect(same, `tensor ${name} differs`).toBe(true);
    }
    expect(b.metadata).toEqual(a.metadata);
    expect(readFileSync(join(dir, CK)).equals(reference)).toBe(true);
    // metrics.jsonl dropped what each kill left past its checkpoint: no step twice, same values.
    const metrics = (d: string) => readFileSync(join(d, "metrics.jsonl"), "utf8");
    expect(metrics(refDir).split("\n")).toHaveLength(121); // 120 steps and the final newline
    expect(metrics(dir)).toBe(metrics(refDir));
  });
});
