// The optimizers on the device against float64 updates computed by hand, on
// loss = Σ (3w - 1)² (gradient 6 (3w - 1)) over one parameter vector.
import { describe, expect, it } from "vitest";
import { useGpu } from "../gpu-fixture.ts";
import { removeRunDirs, runDir, session } from "./helpers.ts";

const gpu = useGpu(removeRunDirs);

const loss = (w: number[]) => w.reduce((s, x) => s + (3 * x - 1) ** 2, 0);
const gradient = (w: number[]) => w.map((x) => 6 * (3 * x - 1));

/** Runs `steps` optimizer steps; the initial weights, the final ones and every step's logs. */
async function descend(file: string, settings: Record<string, string>) {
  const t = session(gpu(), file, settings, { runDir: runDir() });
  await t.session.start();
  const w0 = [...(await t.session.store.readAll()).get("q.w")!];
  await t.session.run();
  const w = [...(await t.session.store.readAll()).get("q.w")!];
  return { w0, w, logs: t.logs };
}

interface AdamW {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  wd: number;
  clip: number;
  /** The learning rate of step t (1-based); constant when absent. */
  schedule?: (t: number) => number;
}

function adamw(w0: number[], steps: number, o: AdamW) {
  let w = [...w0];
  let m = w.map(() => 0);
  let v = w.map(() => 0);
  const logs: { loss: number; norm: number }[] = [];
  for (let t = 1; t <= steps; t++) {
    let g = gradient(w);
    const norm = Math.hypot(...g);
    logs.push({ loss: loss(w), norm });
    const scale = Math.min(1, o.clip / (norm + 1e-6));
    g = g.map((x) => x * scale);
    m = m.map((x, i) => o.beta1 * x + (1 - o.beta1) * g[i]);
    v = v.map((x, i) => o.beta2 * x + (1 - o.beta2) * g[i] ** 2);
    const bc1 = 1 - o.beta1 ** t;
    const bc2 = 1 - o.beta2 ** t;
    const lr = o.schedule ? o.schedule(t) : o.lr;
    w = w.map((x, i) => x - lr * (m[i] / bc1 / (Math.sqrt(v[i] / bc2) + o.eps) + o.wd * x));
  }
  return { w, logs };
}

const ADAMW = { lr: 0.1, beta1: 0.8, beta2: 0.95, eps: 0.5, wd: 0.2, clip: 4.0 }; // the fixture's defaults

describe("adamw", () => {
  it("one step matches the float64 AdamW update (bias correction, eps, weight decay, clipping)", async () => {
    const { w0, w, logs } = await descend("test/fixtures/runtime/quadratic.cld", {});
    expect(w0).toHaveLength(5);
    expect(new Set(w0).size).toBe(5); // uniform init: every element takes a different path
    const ref = adamw(w0, 1, ADAMW);
    expect(ref.logs[0].norm).toBeGreaterThan(ADAMW.clip); // clipping is active
    expect(logs).toHaveLength(1);
    expect(logs[0].get("loss")).toBeCloseTo(ref.logs[0].loss, 4);
    expect(logs[0].get("opt.grad_norm")).toBeCloseTo(ref.logs[0].norm, 4);
    for (let i = 0; i < w.length; i++)
      expect(Math.abs(w[i] - ref.w[i]), `w[${i}]: ${w[i]} vs ${ref.w[i]}`).toBeLessThan(1e-6);
    // The update is big enough that a wrong rule could not pass: without clipping it differs.
    const unclipped = adamw(w0, 1, { ...ADAMW, clip: 1e9 });
    expect(Math.max(...unclipped.w.map((x, i) => Math.abs(x - ref.w[i])))).toBeGreaterThan(1e-3);
  });

  it("three steps carry the moments and the step count", async () => {
    const settings = {
      steps: "3",
      lr: "0.05",
      beta1: "0.9",
      beta2: "0.99",
      eps: "0.1",
      wd: "0.01",
      clip: "30",
    };
    const { w0, w, logs } = await descend("test/fixtures/runtime/quadratic.cld", settings);
    const ref = adamw(w0, 3, { lr: 0.05, beta1: 0.9, beta2: 0.99, eps: 0.1, wd: 0.01, clip: 30 });
    expect(logs.map((l) => l.get("loss")!)).toEqual(ref.logs.map((l) => expect.closeTo(l.loss, 3)));
    for (let i = 0; i < w.length; i++)
      expect(Math.abs(w[i] - ref.w[i]), `w[${i}]`).toBeLessThan(2e-6);
  });
  it("a cosine schedule over a loop bounded by a host variable ends at lr 0", async () => {
    const { w0, w, logs } = await descend("test/fixtures/runtime/quadratic-cosine.cld", {
      steps: "2",
      lr: "0.05",
    });
    expect(logs).toHaveLength(4);
    // Four steps in all: lr(t) = 0.05 · ½ (1 + cos(π t / 4)), so the fourth step does not move w.
    const schedule = (t: number) => 0.05 * 0.5 * (1 + Math.cos((Math.PI * t) / 4));
    const ref = adamw(w0, 4, {
      lr: 0.05,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      wd: 0,
      clip: Infinity,
      schedule,
    });
    for (let i = 0; i < w.length; i++)
      expect(Math.abs(w[i] - ref.w[i]), `w[${i}]`).toBeLessThan(2e-6);
    const constant = adamw(w0, 4, {
      lr: 0.05,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      wd: 0,
      clip: Infinity,
    });
    expect(Math.max(...constant.w.map((x, i) => Math.abs(x - ref.w[i])))).toBeGreaterThan(1e-2);
  });
});

describe("ema", () => {
  it("the average follows the warmed-up decay min(ema, (1 + t) / (10 + t))", async () => {
    const t = session(
      gpu(),
      "test/fixtures/runtime/quadratic-ema.cld",
      { steps: "4" },
      {
        runDir: runDir(),
      },
    );
    await t.session.start();
    const w0 = [...(await t.session.store.readAll()).get("q.w")!];
    await t.session.run();
    const ema = [...(await t.session.store.readAll()).get("opt.ema.q.w")!];
    const average = (decay: (t: number) => number) => {
      let e = [...w0];
      for (let k = 1; k <= 4; k++) {
        const w = adamw(w0, k, ADAMW).w;
        e = e.map((x, i) => decay(k) * x + (1 - decay(k)) * w[i]);
      }
      return e;
    };
    const ref = average((k) => Math.min(0.99, (1 + k) / (10 + k)));
    for (let i = 0; i < ema.length; i++)
      expect(Math.abs(ema[i] - ref[i]), `ema[${i}]`).toBeLessThan(1e-6);
    // A fixed decay would leave the average near the initial weights: far from this one.
    const fixed = average(() => 0.99);
    expect(Math.max(...fixed.map((x, i) => Math.abs(x - ref[i])))).toBeGreaterThan(1e-2);
  });
});

describe("sgd", () => {
  it("momentum and weight decay match the float64 update over three steps", async () => {
    const { w0, w } = await descend("test/fixtures/runtime/quadratic-sgd.cld", {});
    const lr = 0.01;
    const momentum = 0.9;
    const wd = 0.2;
    let ref = [...w0];
    let buf = ref.map(() => 0);
    for (let t = 0; t < 3; t++) {
      const g = gradient(ref);
      buf = buf.map((b, i) => momentum * b + g[i] + wd * ref[i]);
      ref = ref.map((x, i) => x - lr * buf[i]);
    }
    for (let i = 0; i < w.length; i++)
      expect(Math.abs(w[i] - ref[i]), `w[${i}]`).toBeLessThan(1e-6);
  });
});
