// What `cldc eval` is doing and how much of it is left, for the whole eval rather than one
// progress bar: a line as each phase starts (which phase of how many, the time so far, the
// estimated time left), and the estimate behind the pairs bar's ETA.
//
// The estimate counts denoise calls, the unit of the eval's GPU work: a pair costs one call
// per DDIM step plus its loss batch's calls, the base model's loss on a concept only the
// latter. Once the plan is known (after the real images are loaded) every later call is
// counted, and the seconds per call are measured on the calls done so far, judge and KID
// time per pair included, leaving out the first batch of calls once there are others (it
// may include the kernels' JIT: minutes with a cold shader cache). Pairs reused from an
// earlier eval cost nothing and leave the plan. Before the first measured call there is no
// estimate ("?").
import { formatDuration } from "../io/progress.ts";

export const EVAL_PHASES = [
  "concept judge",
  "denoise step and real images",
  "base model's loss",
  "snapshot × concept pairs",
] as const;

export interface EvalProgressOptions {
  log: (line: string) => void;
  /** Clock in ms (injectable for tests). */
  now?: () => number;
  phases?: readonly string[];
}

export class EvalProgress {
  private readonly log: (line: string) => void;
  private readonly now: () => number;
  private readonly phases: readonly string[];
  private readonly t0: number;
  private planned = 0;
  private done = 0;
  /** The first batch of measured calls (the warm-up), then every later one. */
  private firstCalls = 0;
  private firstMs = 0;
  private timedCalls = 0;
  private timedMs = 0;

  constructor(opts: EvalProgressOptions) {
    this.log = opts.log;
    this.now = opts.now ?? (() => performance.now());
    this.phases = opts.phases ?? EVAL_PHASES;
    this.t0 = this.now();
  }

  /** Seconds since the eval began. */
  elapsed(): number {
    return (this.now() - this.t0) / 1000;
  }

  /** Denoise calls still to make, as planned. */
  get callsLeft(): number {
    return Math.max(0, this.planned - this.done);
  }

  /** The eval's remaining GPU work: `calls` denoise calls (added to any planned before). */
  plan(calls: number): void {
    this.planned += calls;
  }

  /** `calls` planned calls were made, in `ms` milliseconds (scoring around them included). */
  did(calls: number, ms: number): void {
    this.done += calls;
    if (this.firstCalls === 0) {
      this.firstCalls = calls;
      this.firstMs = ms;
    } else {
      this.timedCalls += calls;
      this.timedMs += ms;
    }
  }

  /** `calls` planned calls are not needed after all (a pair reused from an earlier eval). */
  skip(calls: number): void {
    this.planned -= calls;
  }

  /** Seconds per denoise call so far (the warm-up left out once there is more), or null
   * before the first. */
  secondsPerCall(): number | null {
    if (this.timedCalls > 0) return this.timedMs / 1000 / this.timedCalls;
    return this.firstCalls > 0 ? this.firstMs / 1000 / this.firstCalls : null;
  }

  /** Estimated seconds left for the whole eval, or null while there is nothing to go on. */
  remainingSeconds(): number | null {
    const s = this.secondsPerCall();
    return s === null ? null : this.callsLeft * s;
  }

  /** `eval 3/4, base model's loss: 3 concepts (6 denoise calls)  [1m02s elapsed, ~4m10s left]` */
  phaseLine(index: number, detail: string): string {
    const name = this.phases[index] ?? "?";
    const left = this.remainingSeconds();
    const time = `${formatDuration(this.elapsed())} elapsed${left === null ? "" : `, ~${formatDuration(left)} left`}`;
    return `eval ${index + 1}/${this.phases.length}, ${name}: ${detail}  [${time}]`;
  }

  /** Logs the line of phase `index` (0-based) as it starts. */
  phase(index: number, detail: string): void {
    this.log(this.phaseLine(index, detail));
  }
}
