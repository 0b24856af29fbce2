// `cldc eval`'s overall progress: the phase lines and the whole eval's ETA (in denoise calls),
// on an injected clock, and the pairs bar showing that ETA instead of its own.
import { describe, expect, it } from "vitest";
import { EVAL_PHASES, EvalProgress } from "../../runtime/eval/eval-progress.ts";
import { Progress } from "../../runtime/io/progress.ts";

function clocked() {
  const lines: string[] = [];
  const clock = { t: 0 };
  const p = new EvalProgress({ log: (l) => lines.push(l), now: () => clock.t });
  return { p, lines, clock };
}

describe("EvalProgress", () => {
  it("names the phase of how many, the time so far, and no estimate before any work", () => {
    const { p, lines, clock } = clocked();
    clock.t = 62_000;
    p.phase(0, "trained once per concept list");
    expect(lines).toEqual([
      `eval 1/${EVAL_PHASES.length}, concept judge: trained once per concept list  [1m02s elapsed]`,
    ]);
    expect(p.remainingSeconds()).toBeNull();
  });

  it("estimates the rest of the eval from the seconds per denoise call, the warm-up left out", () => {
    const { p, lines, clock } = clocked();
    // 3 concepts' base loss (2 calls each) and 6 pairs of 20 DDIM steps + 2 loss calls.
    p.plan(3 * 2);
    p.plan(6 * 22);
    expect(p.callsLeft).toBe(138);
    // The first batch includes the kernels' JIT: 60 s for 2 calls. Alone, it is the estimate.
    p.did(2, 60_000);
    expect(p.secondsPerCall()).toBe(30);
    expect(p.remainingSeconds()).toBe(136 * 30);
    // Later calls run at 0.5 s each: the warm-up no longer counts.
    p.did(2, 1_000);
    p.did(2, 1_000);
    expect(p.secondsPerCall()).toBe(0.5);
    expect(p.callsLeft).toBe(132);
    expect(p.remainingSeconds()).toBe(66);
    clock.t = 125_000;
    p.phase(3, "6 pairs");
    expect(lines.at(-1)).toBe(
      "eval 4/4, snapshot × concept pairs: 6 pairs  [2m05s elapsed, ~1m06s left]",
    );
    // A pair reused from an earlier eval leaves the plan without changing the rate.
    p.skip(22);
    expect(p.remainingSeconds()).toBe(55);
    for (let k = 0; k < 5; k++) p.did(22, 11_000);
    expect(p.callsLeft).toBe(0);
    expect(p.remainingSeconds()).toBe(0);
  });

  it("drives the pairs bar's ETA: the whole eval's, not the bar's own rate", () => {
    const { p } = clocked();
    let t = 0;
    const out: string[] = [];
    p.plan(4 * 10);
    const bar = new Progress({
      total: 4,
      label: "eval",
      unit: "pair",
      stream: { write: (s: string) => out.push(s) },
      tty: true,
      width: 4,
      now: () => t,
      remaining: () => p.remainingSeconds(),
    });
    expect(bar.line()).toBe("eval [....] 0/4  ETA ?");
    // One pair reused (no time), then one scored in 20 s: 2 pairs done, 2 left at 2 s a call.
    p.skip(10);
    bar.update(1);
    p.did(10, 20_000);
    t = 20_000;
    bar.update(2);
    expect(bar.line()).toBe("eval [##..] 2/4  10.0 s/pair  ETA 40s");
  });
});
