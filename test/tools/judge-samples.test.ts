// The scoring of tools/judge-samples.ts (pure functions; the judge itself is trained by
// `cldc train examples/judge.cld`, too slow for a test).
import { describe, expect, it } from "vitest";
import {
  judgeScores,
  labelAveragedScores,
  labelRank,
  spreadNames,
} from "../../tools/judge-samples.ts";

describe("judge scores", () => {
  it("ranks the label by how many classes score strictly higher", () => {
    expect(labelRank([0.1, 0.9, 0.5], 1)).toBe(0);
    expect(labelRank([0.1, 0.9, 0.5], 0)).toBe(2);
    expect(labelRank([0.5, 0.5, 0.1], 1)).toBe(0); // ties count for the label
  });

  it("computes top-1 and top-5 accuracy", () => {
    const logits = [
      [9, 8, 7, 6, 5, 4, 3], // label 0: rank 0
      [9, 8, 7, 6, 5, 4, 3], // label 4: rank 4 (top-5, not top-1)
      [9, 8, 7, 6, 5, 4, 3], // label 6: rank 6
      [1, 2, 3, 4, 5, 6, 7], // label 6: rank 0
    ];
    expect(judgeScores(logits, [0, 4, 6, 6])).toEqual({ n: 4, top1: 0.5, top5: 0.75 });
    expect(() => judgeScores(logits, [0])).toThrow(/4 images but 1 labels/);
  });

  it("averages an unconditional image's hits over every evaluated label", () => {
    // One image whose prediction is class 2, judged against labels {0, 2}: top-1 is 1/2.
    // Top-5 over 3 classes always hits.
    const s = labelAveragedScores([[0, 1, 5]], [0, 2, 2]);
    expect(s.top1).toBeCloseTo(0.5, 12);
    expect(s.top5).toBe(1);
  });

  it("spreads a number of names evenly over the judge's names", () => {
    const all = Array.from({ length: 10 }, (_, i) => `n${i}`);
    expect(spreadNames(all, 2)).toEqual(["n2", "n7"]);
    expect(spreadNames(all, 5)).toEqual(["n1", "n3", "n5", "n7", "n9"]);
    expect(spreadNames(all, 50)).toEqual(all);
  });
});
