// `reset(opt)` in a run block: AdamW starts over as if new (moments zero, step count 0, so
// bias correction restarts), the EMA copy of the weights is kept, and a run stopped and
// resumed around the reset ends bit-identical to an uninterrupted one. Checked against
// float64 AdamW on loss = Σ (3w - 1)² (gradient 6 (3w - 1)).
import { describe, expect, it } from "vitest";
import { useGpu } from "../gpu-fixture.ts";
import { StoppedError } from "../../runtime/session.ts";
import { removeRunDirs, runDir, session } from "./helpers.ts";

const FILE = "test/fixtures/runtime/quadratic-reset.cld";
// The fixture's optimizer: adamw(lr: 0.1, beta1: 0.8, beta2: 0.95, eps: 0.5, wd 0.2, clip 4).
const O = { lr: 0.1, beta1: 0.8, beta2: 0.95, eps: 0.5, wd: 0.2, clip: 4.0, ema: 0.99 };

const gpu = useGpu(removeRunDirs);

/** Float64 AdamW with an EMA of the weights, from the given state; returns the new state. */
function adamw(
  s: { w: number[]; m: number[]; v: number[]; ema: number[]; t: number },
  steps: number,
) {
  let { w, m, v, ema, t } = s;
  for (let k = 0; k < steps; k++) {
    t++;
    let g = w.map((x) => 6 * (3 * x - 1));
    const scale = Math.min(1, O.clip / (Math.hypot(...g) + 1e-6));
    g = g.map((x) => x * scale);
    m = m.map((x, i) => O.beta1 * x + (1 - O.beta1) * g[i]);
    v = v.map((x, i) => O.beta2 * x + (1 - O.beta2) * g[i] ** 2);
    const [bc1, bc2] = [1 - O.beta1 ** t, 1 - O.beta2 ** t];
    w = w.map((x, i) => x - O.lr * (m[i] / bc1 / (Math.sqrt(v[i] / bc2) + O.eps) + O.wd * x));
    const d = Math.min(O.ema, (1 + t) / (10 + t));
    ema = ema.map((x, i) => d * x + (1 - d) * w[i]);
  }
  return { w, m, v, ema, t };
}
const fresh = (w: number[]) => ({
  w,
  m: w.map(() => 0),
  v: w.map(() => 0),
  ema: [...w],
  t: 0,
});
/** What reset(opt) does to the reference state: moments and step count, not the EMA. */
const reset = (s: ReturnType<typeof fresh>) => ({ ...fresh(s.w), ema: s.ema });

async function runFixture(settings: Record<string, string>) {
  const t = session(gpu(), FILE, settings, { runDir: runDir() });
  await t.session.start();
  const w0 = [...(await t.session.store.read("q.w"))];
  await t.session.run();
  const read = async (n: string) => [...(await t.session.store.read(n))];
  return {
    w0,
    w: await read("q.w"),
    m: await read("opt.m.q.w"),
    v: await read("opt.v.q.w"),
    ema: await read("opt.ema.q.w"),
    session: t.session,
  };
}

const maxDiff = (a: number[], b: number[]) => Math.max(...a.map((x, i) => Math.abs(x - b[i])));

describe("reset(opt)", () => {
  it("the first AdamW update after a reset is a fresh run's first update", async () => {
    const got = await runFixture({ before: "2", after: "1" });
    const task1 = adamw(fresh(got.w0), 2);
    const want = adamw(reset(task1), 1);
    expect(maxDiff(got.w, want.w)).toBeLessThan(1e-6);
    // Independently: from task 1's weights, the update is exactly a new run's step 1.
    expect(maxDiff(want.w, adamw(fresh(task1.w), 1).w)).toBe(0);
    // Without the reset the moments and bias correction carry on: a clearly different step.
    const carried = await runFixture({ before: "2", after: "1", fresh: "false" });
    const noReset = adamw(fresh(got.w0), 3);
    expect(maxDiff(carried.w, noReset.w)).toBeLessThan(1e-6);
    expect(maxDiff(noReset.w, want.w)).toBeGreaterThan(1e-3);
  });

  it("zeroes the moments and keeps the EMA copy of the weights", async () => {
    const kept = await runFixture({ before: "3", after: "0", fresh: "false" });
    const wiped = await runFixture({ before: "3", after: "0" });
    expect(kept.m.some((x) => x !== 0) && kept.v.some((x) => x !== 0)).toBe(true);
    expect(wiped.m.every((x) => x === 0) && wiped.v.every((x) => x === 0)).toBe(true);
    expect(wiped.w).toEqual(kept.w);
    expect(wiped.ema).toEqual(kept.ema); // bit for bit: reset does not touch it
    expect(wiped.ema).not.toEqual(wiped.w);
    // After the reset the EMA goes on from where it was, with its decay warm-up restarted
    // (step 1 again: decay min(0.99, 2/11)).
    const after = await runFixture({ before: "3", after: "2" });
    const want = adamw(reset(adamw(fresh(after.w0), 3)), 2);
    expect(maxDiff(after.ema, want.ema)).toBeLessThan(1e-6);
  });

  it("reported optimizer steps keep rising across the reset", async () => {
    const steps: (number | null)[] = [];
    const t = session(
      gpu(),
      FILE,
      { before: "2", after: "2" },
      { runDir: runDir(), onStep: (_s, _l, at) => steps.push(at.optimizerStep) },
    );
    await t.session.start();
    await t.session.run();
    expect(steps).toEqual([1, 2, 3, 4]);
    expect(t.session.optimizerSteps.state()).toEqual({
      optimizerSteps: { opt: 2 },
      optimizerStepsBeforeReset: { opt: 2 },
    });
  });

  it("a run stopped before or after the reset resumes bit-identical", async () => {
    const settings = { before: "3", after: "3" };
    const ref = session(gpu(), FILE, settings, { runDir: runDir() });
    await ref.session.start();
    await ref.session.run();
    const want = await ref.session.store.readAll();
    // Events: steps 1-3, the reset (4), steps 5-7. Stop after step 2 (the resumed run does
    // the reset), after step 3 (the reset is the next event) and after 5 (the checkpoint
    // has the reset: redoing it would zero moments that step 5 built).
    for (const stopAt of [2, 3, 5]) {
      const dir = runDir();
      const first = session(gpu(), FILE, settings, {
        runDir: dir,
        onStep: (_s, _l, at) => at.event === stopAt && first.session.requestStop(),
      });
      await first.session.start();
      await expect(first.session.run()).rejects.toThrow(StoppedError);
      const resumed = session(gpu(), FILE, settings, { runDir: dir, resume: true });
      expect(await resumed.session.start()).toBe("resumed");
      await resumed.session.run();
      expect(resumed.logs).toHaveLength(6 - (stopAt > 4 ? stopAt - 1 : stopAt));
      const got = await resumed.session.store.readAll();
      for (const [name, data] of want)
        expect(Buffer.from(got.get(name)!.buffer), `${name} (stopped at ${stopAt})`).toEqual(
          Buffer.from(data.buffer),
        );
      expect(resumed.session.optimizerSteps.state()).toEqual(ref.session.optimizerSteps.state());
    }
  });
});
