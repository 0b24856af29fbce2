// The continual-learning summaries against answers worked out by hand.
import { describe, expect, it } from "vitest";
import { emptyMatrix, summarize } from "../../runtime/eval/metrics.ts";

const N = NaN;

describe("summarize", () => {
  // s[t][i]: concept i after task t. Three tasks.
  const s = [
    [0.8, N, N],
    [0.6, 0.9, N],
    [0.5, 0.7, 1.0],
  ];

  it("computes final average, forgetting and plasticity of a higher-is-better score", () => {
    const r = summarize(s, true);
    // final row: (0.5 + 0.7 + 1.0) / 3
    expect(r.finalAverage).toBeCloseTo(2.2 / 3, 12);
    // concept 0: best of 0.8, 0.6 = 0.8, final 0.5 -> 0.3; concept 1: best 0.9, final 0.7 -> 0.2
    expect(r.forgettingPerConcept[0]).toBeCloseTo(0.3, 12);
    expect(r.forgettingPerConcept[1]).toBeCloseTo(0.2, 12);
    expect(r.forgettingPerConcept[2]).toBeNull();
    expect(r.forgetting).toBeCloseTo(0.25, 12);
    // diagonal: (0.8 + 0.9 + 1.0) / 3
    expect(r.plasticity).toBeCloseTo(0.9, 12);
    // learned-so-far means: 0.8; (0.6 + 0.9)/2; final
    expect(r.averageAfter[0]).toBeCloseTo(0.8, 12);
    expect(r.averageAfter[1]).toBeCloseTo(0.75, 12);
    expect(r.averageAfter[2]).toBeCloseTo(2.2 / 3, 12);
  });

  it("turns the sign around for a lower-is-better score (KID)", () => {
    const kid = [
      [0.1, N, N],
      [0.05, 0.2, N],
      [0.3, 0.15, 0.4],
    ];
    const r = summarize(kid, false);
    // concept 0: best earlier = min(0.1, 0.05) = 0.05, final 0.3 -> +0.25 (got worse)
    // concept 1: best earlier = 0.2, final 0.15 -> -0.05 (got better)
    expect(r.forgettingPerConcept[0]).toBeCloseTo(0.25, 12);
    expect(r.forgettingPerConcept[1]).toBeCloseTo(-0.05, 12);
    expect(r.forgetting).toBeCloseTo(0.1, 12);
    expect(r.finalAverage).toBeCloseTo(0.85 / 3, 12);
    expect(r.plasticity).toBeCloseTo(0.7 / 3, 12);
  });

  it("has no forgetting with a single task, and skips missing scores", () => {
    expect(summarize([[0.4]], true)).toMatchObject({
      finalAverage: 0.4,
      forgetting: null,
      plasticity: 0.4,
    });
    const r = summarize(
      [
        [N, N],
        [0.5, 0.7],
      ],
      true,
    );
    expect(r.forgettingPerConcept[0]).toBeNull(); // no earlier score for concept 0
    expect(r.forgetting).toBeNull();
    expect(r.plasticity).toBeCloseTo(0.7, 12); // the missing s[0][0] is skipped
  });

  it("rejects a matrix that is not T×T", () => {
    expect(() => summarize([[1, 2]], true)).toThrow(/row 0 has 2 entries, expected 1/);
    expect(emptyMatrix(2).flat().every(Number.isNaN)).toBe(true);
  });
});
