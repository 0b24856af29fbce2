// Training curves: the smoothing, the choice of a log axis, and the SVG they end up in.
import { describe, expect, it } from "vitest";
import { emaSmooth, formatTick, lineChartSvg, wantsLogScale } from "../../runtime/io/line-chart.ts";

describe("line chart", () => {
  it("labels ticks so that neighbouring ticks read differently", () => {
    // 10000/15000/20000 once all printed as 1e+4 or 2e+4.
    expect([10000, 15000, 20000].map(formatTick)).toEqual(["10000", "15000", "20000"]);
    expect([0, 0.05, 0.15, 1, 2.5].map(formatTick)).toEqual(["0", "0.05", "0.15", "1", "2.5"]);
    expect(formatTick(0.0001)).toBe("1e-4");
    expect(formatTick(0.00015)).toBe("1.5e-4");
    expect(formatTick(12345.6)).toBe("1.23e+4");
    expect(formatTick(3e8)).toBe("3e+8");
  });

  it("smooths with a bias-corrected EMA (the first value is kept, not pulled to 0)", () => {
    const s = emaSmooth([4, 0, 0], 0.5);
    // sums 2, 1, 0.5 over weights 0.5, 0.75, 0.875
    expect(s[0]).toBe(4);
    expect(s[1]).toBeCloseTo(1 / 0.75, 12);
    expect(s[2]).toBeCloseTo(0.5 / 0.875, 12);
    expect(emaSmooth([1, NaN, 3], 1)).toEqual([1, 1, 3]); // a gap repeats the last value
  });

  it("uses a log axis only for positive values spanning more than a decade", () => {
    expect(wantsLogScale([2, 0.1])).toBe(true);
    expect(wantsLogScale([2, 0.3])).toBe(false);
    expect(wantsLogScale([2, 0.01, -1])).toBe(false);
  });

  it("draws one panel per series with a raw and a smoothed path, thinned to maxPoints", () => {
    const x = Array.from({ length: 100 }, (_, i) => i + 1);
    const svg = lineChartSvg(
      [
        { title: "loss", x, y: x.map((i) => 10 / i) },
        { title: "acc <top-1>", x, y: x.map((i) => 0.5 + i / 1000) },
      ],
      { maxPoints: 10 },
    );
    expect(svg).toMatch(/^<svg [^>]*height="600"/);
    expect(svg).toContain(">loss (log scale)</text>");
    expect(svg).toContain(">acc &lt;top-1&gt;</text>"); // escaped, linear
    const paths = [...svg.matchAll(/<path d="([^"]*)"/g)].map((m) => m[1]);
    expect(paths).toHaveLength(4);
    for (const d of paths) expect(d.match(/[ML]/g)).toHaveLength(10);
    // The log panel's decade ticks 0.1, 1 and 10 are labelled.
    for (const t of [">0.1<", ">1<", ">10<"]) expect(svg).toContain(t);
  });
});
