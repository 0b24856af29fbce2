// Terminal progress for long runs (training, rasterizing), without dependencies.
// On a TTY one line is redrawn with '\r'; elsewhere (CI logs, files) it prints a plain
// line every ~5% or 10 s, so logs stay short but never go silent for long.

export interface ProgressOptions {
  total: number;
  label?: string;
  /** Defaults to process.stdout. */
  stream?: { write(s: string): unknown; isTTY?: boolean };
  /** Force TTY / plain mode (defaults to stream.isTTY). */
  tty?: boolean;
  /** Bar width in characters. Default 20. */
  width?: number;
  /** Clock in ms (injectable for tests). */
  now?: () => number;
  /** What one count is, for the rate: "step" (default), "task", … */
  unit?: string;
  /** Seconds left, when the caller knows better than this bar's own rate (null: unknown).
   * `cldc eval` uses it so that the ETA is the whole eval's, reused pairs not counted. */
  remaining?: () => number | null;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

function formatValue(v: number | string): string {
  if (typeof v === "string") return v;
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(2) : v.toPrecision(3);
}

export class Progress {
  private readonly total: number;
  private readonly label: string;
  private readonly stream: { write(s: string): unknown };
  private readonly tty: boolean;
  private readonly width: number;
  private readonly now: () => number;
  private readonly unit: string;
  private readonly remaining?: () => number | null;
  private start: number;
  /** Steps already done when this process began (a resumed run): not part of the rate. */
  private base = 0;
  private lastPrint = -Infinity;
  private lastPct = -1;
  private lastLen = 0;
  private step = 0;
  private stats: Record<string, number | string> = {};
  private finished = false;

  constructor(opts: ProgressOptions) {
    if (!(opts.total > 0)) throw new Error(`Progress: total must be > 0, got ${opts.total}`);
    this.total = opts.total;
    this.label = opts.label ?? "";
    this.stream = opts.stream ?? process.stdout;
    this.tty = opts.tty ?? !!(opts.stream ?? process.stdout).isTTY;
    this.width = opts.width ?? 20;
    this.now = opts.now ?? (() => performance.now());
    this.unit = opts.unit ?? "step";
    this.remaining = opts.remaining;
    this.start = this.now();
  }

  /** One status line, e.g. `train [#####.....] 123/1500  loss 0.234  12.3 steps/s  ETA 1m02s`. */
  line(): string {
    const frac = Math.min(1, this.step / this.total);
    const filled = Math.round(frac * this.width);
    const elapsed = (this.now() - this.start) / 1000;
    const rate = elapsed > 0 ? (this.step - this.base) / elapsed : 0;
    const parts = [
      `${this.label ? this.label + " " : ""}[${"#".repeat(filled)}${".".repeat(this.width - filled)}] ${this.step}/${this.total}`,
      ...Object.entries(this.stats).map(([k, v]) => `${k} ${formatValue(v)}`),
      // no rate before this process has done a count (e.g. resuming a finished run)
      ...(this.step > this.base ? [this.rateText(rate, elapsed)] : []),
      this.finished ? `took ${formatDuration(elapsed)}` : `ETA ${this.eta(rate)}`,
    ];
    return parts.join("  ");
  }

  private eta(rate: number): string {
    if (this.remaining) {
      const left = this.remaining();
      return left === null ? "?" : formatDuration(left);
    }
    return rate > 0 ? formatDuration((this.total - this.step) / rate) : "?";
  }

  /** `12.3 steps/s`, or `47.0 s/task` when one count takes longer than a second. */
  private rateText(rate: number, elapsed: number): string {
    if (rate >= 1) {
      return `${rate >= 100 ? rate.toFixed(0) : rate.toFixed(1)} ${this.unit}s/s`;
    }
    const secs = elapsed / (this.step - this.base);
    return `${secs >= 100 ? secs.toFixed(0) : secs.toFixed(1)} s/${this.unit}`;
  }

  /**
   * The run resumes at `step` (its earlier steps were done by another process): the bar
   * shows it, and the rate and ETA count only steps done from here on.
   */
  resumeAt(step: number): void {
    this.step = step;
    this.base = step;
    this.start = this.now();
  }

  update(step: number, stats: Record<string, number | string> = {}): void {
    this.step = step;
    this.stats = { ...this.stats, ...stats };
    const t = this.now();
    if (this.tty) {
      if (t - this.lastPrint < 100 && step < this.total) return; // ≤10 redraws/s
      this.redraw();
    } else {
      const pct = Math.floor((20 * step) / this.total); // 5% buckets
      if (pct === this.lastPct && t - this.lastPrint < 10_000) return;
      this.lastPct = pct;
      this.stream.write(this.line() + "\n");
    }
    this.lastPrint = t;
  }

  /** Final line (always printed) and newline on a TTY. */
  done(stats: Record<string, number | string> = {}): void {
    if (this.finished) return;
    this.stats = { ...this.stats, ...stats };
    this.finished = true;
    if (this.tty) {
      this.redraw();
      this.stream.write("\n");
    } else {
      this.stream.write(this.line() + "\n");
    }
  }

  private redraw(): void {
    const s = this.line();
    // Pad over leftovers of a longer previous line.
    this.stream.write("\r" + s + " ".repeat(Math.max(0, this.lastLen - s.length)));
    this.lastLen = s.length;
  }
}
