// `cldc compare`'s pieces (runtime/eval/compare.ts), by known answers: the summary table,
// the 95 % margin, the loss cells, the sign test, the paired lines and the chart's series.
import { describe, expect, it } from "vitest";
import { lineChartSvg } from "../../runtime/eval/chart.ts";
import {
  accuracyMargin,
  chartPanels,
  lossCells,
  pairedLines,
  signTestP,
  table,
  type Scores,
} from "../../runtime/eval/compare.ts";

const scores: Scores = {
  concepts: ["octopus", "snail"],
  options: { n: 8 },
  summary: {
    accuracy: { finalAverage: 0.625, forgetting: 0.125, plasticity: 0.75 },
    kid: { finalAverage: 0.0123, forgetting: 0.002, plasticity: 0.01 },
  },
  params: { trainedPerTask: 3136, storedFinal: 143296 },
  timing: { trainSeconds: [100.4, 40.2] },
};

describe("comparing evaluated runs", () => {
  it("formats one row per method, not-run methods included", () => {
    const md = table([
      { method: "clora", scores },
      { method: "ewc", scores: null },
    ]).split("\n");
    expect(md).toHaveLength(4);
    expect(md[2]).toBe(
      "| clora | 62.5 % ± 24 | 12.5 % | 75.0 % | 12.3 | 2.0 | — | — | 3,136 | 143,296 | 141 s |",
    );
    expect(md[3]).toBe("| ewc | not run | | | | | | | | | |");
  });

  it("gives the denoising loss's path and the share of the gain forgotten", () => {
    const withLoss: Scores = {
      ...scores,
      summary: {
        ...scores.summary,
        loss: { finalAverage: 0.051, forgetting: 0.002, plasticity: 0.05 },
      },
      lossBase: [0.058, 0.062], // mean 0.060: learning gained 0.010, forgetting undid 20 %
    };
    expect(lossCells(withLoss)).toEqual(["60.0 → 50.0 → 51.0", "+2.00 (20 % of gain)"]);
    expect(lossCells(scores)).toEqual(["—", "—"]); // an eval from before the loss
  });

  it("charts each method's average over the concepts so far, after every task", () => {
    const part = (avg: (number | null)[]) => ({
      finalAverage: 0,
      forgetting: 0,
      plasticity: 0,
      averageAfter: avg,
    });
    const a: Scores = {
      ...scores,
      summary: { ...scores.summary, accuracy: part([0.5, 0.25]), loss: part([0.05, 0.0505]) },
      loss: [
        [0.05, null],
        [0.052, 0.049],
      ],
    };
    const b: Scores = { ...scores, summary: { ...scores.summary, accuracy: part([1, null]) } };
    const panels = chartPanels([
      { method: "clora λ=1", scores: a },
      { method: "ewc", scores: null },
      { method: "lora_seq", scores: b },
    ]);
    expect(panels.map((p) => p.series.map((x) => x.name))).toEqual([
      ["clora λ=1", "lora_seq"],
      ["clora λ=1", "lora_seq"],
    ]);
    expect(panels[0].series[0].values).toEqual([50, 25]);
    expect(panels[0].series[1].values).toEqual([100, NaN]);
    // The loss panel: concepts' drift since their own task, ×10³: after task 2 octopus has
    // risen by 2 and snail by 0, so 1.
    expect(panels[1].series[0].values.map((v) => +v.toFixed(6))).toEqual([0, 1]);
    expect(panels[1].series[1].values).toEqual([]); // an eval without the loss
    const svg = lineChartSvg(panels, "after task");
    // One polyline per series with points: accuracy 2 (lora_seq's single point included), loss 1.
    expect(svg.match(/<polyline/g)).toHaveLength(3);
    expect(svg.match(/<circle/g)).toHaveLength(2 + 1 + 2);
    expect(svg).toContain(">clora λ=1</text>");
  });

  it("gives the two-sided sign test's p", () => {
    expect(signTestP(9, 9)).toBeCloseTo(2 / 512, 12); // all nine one way
    expect(signTestP(0, 9)).toBeCloseTo(2 / 512, 12);
    expect(signTestP(8, 9)).toBeCloseTo((2 * (1 + 9)) / 512, 12);
    expect(signTestP(5, 10)).toBe(1);
    expect(signTestP(0, 0)).toBe(1);
  });

  it("pairs each method's loss forgetting with the reference's, concept by concept", () => {
    const withPer = (per: (number | null)[]): Scores => ({
      ...scores,
      summary: {
        ...scores.summary,
        loss: { finalAverage: 0, forgetting: 0, plasticity: 0, forgettingPerConcept: per },
      },
    });
    const lines = pairedLines(
      [
        { method: "lora_seq", scores: withPer([0.002, 0.003, 0.001, null]) },
        { method: "clora", scores: withPer([0.001, 0.001, 0.0005, null]) },
        { method: "cd", scores: withPer([0.003, 0.001, 0.001, null]) },
        { method: "old", scores }, // an eval without the loss: left out
        { method: "ewc", scores: null },
      ],
      "lora_seq",
    );
    expect(lines).toEqual([
      "- clora: forgets less than lora_seq on 3 of 3 concepts, more on 0 (sign test p = 0.250)",
      "- cd: forgets less than lora_seq on 1 of 3 concepts, more on 1 (sign test p = 1.000)",
    ]);
  });

  it("gives the 95 % margin of a binomial proportion", () => {
    // 1.96 · sqrt(0.5 · 0.5 / 100) = 0.098
    expect(accuracyMargin(0.5, 100)).toBeCloseTo(0.098, 6);
    expect(accuracyMargin(0, 80)).toBe(0);
  });
});
