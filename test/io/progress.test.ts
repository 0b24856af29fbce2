import { describe, expect, it } from "vitest";
import { Progress, formatDuration } from "../../runtime/io/progress.ts";

function sink() {
  const out: string[] = [];
  return { out, stream: { write: (s: string) => out.push(s) } };
}

describe("Progress", () => {
  it("formats the status line", () => {
    let t = 0;
    const { stream } = sink();
    const p = new Progress({
      total: 1500,
      label: "train",
      stream,
      tty: true,
      width: 10,
      now: () => t,
    });
    t = 10_000;
    p.update(123, { loss: 0.2341 });
    expect(p.line()).toBe("train [#.........] 123/1500  loss 0.234  12.3 steps/s  ETA 1m52s");
  });

  it("after a resume, counts only the steps done in this process", () => {
    let t = 0;
    const { stream } = sink();
    const p = new Progress({ total: 20000, stream, tty: true, width: 10, now: () => t });
    t = 500; // skipping the 704 steps of the checkpoint takes a moment
    p.resumeAt(704);
    expect(p.line()).toContain("704/20000");
    t = 10_500;
    p.update(754);
    // 50 steps in 10 s, not 754 in 10.5 s
    expect(p.line()).toContain("5.0 steps/s");
    expect(p.line()).toContain("ETA 1h04m"); // (20000 - 754) / 5 s
  });

  it("shows seconds per count, in the caller's unit, when counts are slow", () => {
    let t = 0;
    const { stream } = sink();
    const p = new Progress({ total: 10, unit: "task", stream, tty: true, width: 10, now: () => t });
    t = 94_000;
    p.update(2);
    expect(p.line()).toBe("[##........] 2/10  47.0 s/task  ETA 6m16s");
  });

  it("shows no rate for a resumed run that has nothing left to do", () => {
    let t = 0;
    const { stream } = sink();
    const p = new Progress({ total: 10, unit: "task", stream, tty: true, width: 10, now: () => t });
    p.resumeAt(10);
    p.done();
    expect(p.line()).toBe("[##########] 10/10  took 0s");
  });

  it("redraws one line with \\r on a TTY and ends with a newline", () => {
    let t = 0;
    const { out, stream } = sink();
    const p = new Progress({ total: 10, stream, tty: true, now: () => t });
    for (let i = 1; i <= 10; i++) {
      t += 200;
      p.update(i);
    }
    p.done();
    expect(out.length).toBe(12);
    expect(out.slice(0, 11).every((s) => s.startsWith("\r"))).toBe(true);
    expect(out[11]).toBe("\n");
    expect(out[10]).toContain("took 2s");
  });

  it("prints plain lines about every 5% (or 10 s) when not a TTY", () => {
    let t = 0;
    const { out, stream } = sink();
    const p = new Progress({ total: 1000, label: "ci", stream, tty: false, now: () => t });
    for (let i = 1; i <= 1000; i++) {
      t += 1;
      p.update(i, { loss: 1 / i });
    }
    p.done();
    expect(out.length).toBeGreaterThanOrEqual(20);
    expect(out.length).toBeLessThanOrEqual(23);
    expect(out.every((s) => s.endsWith("\n") && !s.includes("\r"))).toBe(true);
    const slow = sink();
    t = 0;
    const q = new Progress({ total: 1_000_000, stream: slow.stream, tty: false, now: () => t });
    q.update(1);
    t += 11_000;
    q.update(2);
    expect(slow.out.length).toBe(2); // time-based line even without a new 5%
  });

  it("formats durations", () => {
    expect(formatDuration(5)).toBe("5s");
    expect(formatDuration(62)).toBe("1m02s");
    expect(formatDuration(3725)).toBe("1h02m");
    expect(formatDuration(Infinity)).toBe("?");
  });
});
