// Pure scoring of judge logits against labels (top-1 and top-5 accuracy), and the choice
// of names to evaluate.

export interface JudgeScores {
  n: number;
  top1: number;
  top5: number;
}

/** The label's rank among the logits: how many classes score strictly higher. */
export function labelRank(logits: ArrayLike<number>, label: number): number {
  let r = 0;
  for (let i = 0; i < logits.length; i++) if (logits[i] > logits[label]) r++;
  return r;
}

/** Top-1 and top-5 accuracy of logits against labels. */
export function judgeScores(
  logits: readonly ArrayLike<number>[],
  labels: readonly number[],
): JudgeScores {
  if (logits.length !== labels.length)
    throw new Error(`judgeScores: ${logits.length} images but ${labels.length} labels`);
  let top1 = 0;
  let top5 = 0;
  logits.forEach((l, i) => {
    const r = labelRank(l, labels[i]);
    if (r === 0) top1++;
    if (r < 5) top5++;
  });
  const n = logits.length;
  return { n, top1: n ? top1 / n : 0, top5: n ? top5 / n : 0 };
}

/**
 * The unconditional baseline without the luck of one label assignment: the expected
 * accuracy of each image against a label drawn uniformly from `labels` (the evaluated
 * names), averaged over the images.
 */
export function labelAveragedScores(
  logits: readonly ArrayLike<number>[],
  labels: readonly number[],
): JudgeScores {
  const set = [...new Set(labels)];
  let top1 = 0;
  let top5 = 0;
  for (const l of logits) {
    for (const y of set) {
      const r = labelRank(l, y);
      if (r === 0) top1++;
      if (r < 5) top5++;
    }
  }
  const n = logits.length;
  const d = n * set.length;
  return { n, top1: d ? top1 / d : 0, top5: d ? top5 / d : 0 };
}

/** `count` names spread evenly over the judge's (sorted) names. */
export function spreadNames(all: readonly string[], count: number): string[] {
  const k = Math.min(count, all.length);
  return Array.from({ length: k }, (_, i) => all[Math.floor(((i + 0.5) * all.length) / k)]);
}
