// What a training run leaves behind besides its checkpoint: RUN_DIR/metrics.jsonl, one line
// per executed step with its logged values, and RUN_DIR/loss.svg + loss.png, the curves of
// those values. The file follows the checkpoint: on resume, lines of events after the
// checkpoint (written before a kill) are dropped, so the steps that are redone are not
// listed twice and the file matches an uninterrupted run's.
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { svgToPng } from "./eval/chart.ts";
import { writeFileAtomic } from "./io/atomic.ts";
import { lineChartSvg, type CurveSeries } from "./io/line-chart.ts";

export interface MetricsRecord {
  /** The step call's event number (1-based, as counted in checkpoints). */
  event: number;
  step: string;
  /** The step's optimizer step after this call, or null for a step that does not train. */
  optimizer_step: number | null;
  values: Record<string, number>;
}

export class MetricsLog {
  readonly path: string;
  readonly records: MetricsRecord[] = [];

  constructor(readonly runDir: string) {
    this.path = join(runDir, "metrics.jsonl");
  }

  /**
   * Starts the log for a run that has done `events` events: 0 empties it (a fresh run);
   * otherwise the lines of later events are dropped, as is a line torn by a kill.
   */
  reset(events: number): void {
    this.records.length = 0;
    if (events > 0 && existsSync(this.path)) {
      for (const line of readFileSync(this.path, "utf8").split("\n")) {
        let r: MetricsRecord;
        try {
          r = JSON.parse(line) as MetricsRecord;
        } catch {
          continue; // empty, or the half-written last line of a killed run
        }
        if (typeof r?.event === "number" && r.event <= events) this.records.push(r);
      }
    }
    writeFileAtomic(this.path, new TextEncoder().encode(this.records.map(toLine).join("")));
  }

  append(r: MetricsRecord): void {
    this.records.push(r);
    appendFileSync(this.path, toLine(r));
  }

  /** One curve per logged value (named `step.value` when several steps log). */
  series(): CurveSeries[] {
    const steps = new Set(this.records.map((r) => r.step));
    const out = new Map<string, { x: number[]; y: number[] }>();
    for (const r of this.records) {
      for (const [k, v] of Object.entries(r.values)) {
        const title = steps.size > 1 ? `${r.step}.${k}` : k;
        if (!out.has(title)) out.set(title, { x: [], y: [] });
        const s = out.get(title)!;
        s.x.push(r.optimizer_step ?? r.event);
        s.y.push(v);
      }
    }
    return [...out].map(([title, s]) => ({ title, ...s }));
  }

  /** Writes RUN_DIR/loss.svg and loss.png (atomically); nothing when nothing was logged. */
  render(): void {
    const series = this.series();
    if (!series.length) return;
    const svg = lineChartSvg(series, { xLabel: "optimizer step" });
    writeFileAtomic(join(this.runDir, "loss.svg"), new TextEncoder().encode(svg));
    writeFileAtomic(join(this.runDir, "loss.png"), svgToPng(svg));
  }
}

function toLine(r: MetricsRecord): string {
  return JSON.stringify(r) + "\n";
}
