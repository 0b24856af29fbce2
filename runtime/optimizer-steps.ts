// Each optimizer's step count, as the host keeps it. The count since the optimizer's start or
// its last `reset(opt)` drives bias correction, warm-up and the EMA's decay warm-up; reports
// (loss curves, sample grid names, messages) use the count over the whole run, which never
// goes back. Both are part of the resume checkpoint (runtime/checkpoint.ts).
import type { HostState } from "./checkpoint.ts";

export class OptimizerSteps {
  /** Steps per optimizer since its start or its last reset. */
  private sinceReset: Record<string, number> = {};
  /** Steps each optimizer took before its last reset. */
  private beforeReset: Record<string, number> = {};

  /** Counts one step of `optimizer`; its number t (1-based) since the last reset. */
  next(optimizer: string): number {
    const t = (this.sinceReset[optimizer] ?? 0) + 1;
    this.sinceReset[optimizer] = t;
    return t;
  }

  /** `reset(opt)`: the next step is step 1 again. */
  reset(optimizer: string): void {
    this.beforeReset[optimizer] = this.reported(optimizer);
    this.sinceReset[optimizer] = 0;
  }

  /** The optimizer's steps over the whole run (for reports). */
  reported(optimizer: string): number {
    return (this.beforeReset[optimizer] ?? 0) + (this.sinceReset[optimizer] ?? 0);
  }

  /** The reported step of the optimizer furthest along (0 before any step). */
  latest(): number {
    return Math.max(0, ...Object.keys(this.sinceReset).map((o) => this.reported(o)));
  }

  /** The checkpoint's fields; a run without resets writes exactly what it did before. */
  state(): Pick<HostState, "optimizerSteps" | "optimizerStepsBeforeReset"> {
    return {
      optimizerSteps: { ...this.sinceReset },
      ...(Object.keys(this.beforeReset).length
        ? { optimizerStepsBeforeReset: { ...this.beforeReset } }
        : {}),
    };
  }

  restore(state: Pick<HostState, "optimizerSteps" | "optimizerStepsBeforeReset">): void {
    this.sinceReset = { ...state.optimizerSteps };
    this.beforeReset = { ...state.optimizerStepsBeforeReset };
  }
}
