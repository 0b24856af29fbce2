// Continual-learning summaries of a score matrix s[t][i]: the score of concept i measured
// after task t (defined for i <= t; NaN elsewhere). T tasks, one concept each.
//
//   final average  mean_i s[T-1][i]                         (every concept at the end)
//   forgetting     mean_{i<T-1} (best_{i<=t<T-1} s[t][i] − s[T-1][i])   higher-is-better
//                  mean_{i<T-1} (s[T-1][i] − best_{i<=t<T-1} s[t][i])   lower-is-better
//                  (positive = the concept got worse since its best earlier score)
//   plasticity     mean_i s[i][i]                            (each concept right after learning it)
//   average[t]     mean_{i<=t} s[t][i]                       (the curve of the chart)
//
// NaN entries (e.g. a KID that could not be computed) are skipped in every mean.

export interface Summary {
  finalAverage: number;
  /** null when there is only one task (nothing to forget). */
  forgetting: number | null;
  plasticity: number;
  /** Per concept: best earlier score minus final (sign as for `forgetting`); null for the last. */
  forgettingPerConcept: (number | null)[];
  /** Mean over the concepts learned so far, after each task. */
  averageAfter: number[];
}

function mean(xs: number[]): number {
  const ok = xs.filter((x) => Number.isFinite(x));
  return ok.length ? ok.reduce((a, b) => a + b, 0) / ok.length : NaN;
}

/** Checks that s is a T×T lower-triangular matrix (rows = after task t). */
export function checkMatrix(s: readonly (readonly number[])[]): number {
  const T = s.length;
  if (T === 0) throw new Error("score matrix: no tasks");
  s.forEach((row, t) => {
    if (row.length !== T)
      throw new Error(`score matrix: row ${t} has ${row.length} entries, expected ${T}`);
  });
  return T;
}

export function summarize(s: readonly (readonly number[])[], higherIsBetter: boolean): Summary {
  const T = checkMatrix(s);
  const last = s[T - 1];
  const finalAverage = mean(last.slice(0, T));
  const plasticity = mean(s.map((row, i) => row[i]));
  const forgettingPerConcept = last.map((final, i) => {
    if (i >= T - 1) return null;
    const earlier = s
      .slice(i, T - 1)
      .map((row) => row[i])
      .filter((v) => Number.isFinite(v));
    if (!earlier.length || !Number.isFinite(final)) return null;
    const best = higherIsBetter ? Math.max(...earlier) : Math.min(...earlier);
    return higherIsBetter ? best - final : final - best;
  });
  const f = forgettingPerConcept.filter((v): v is number => v !== null);
  const averageAfter = s.map((row, t) => mean(row.slice(0, t + 1)));
  return {
    finalAverage,
    forgetting: T > 1 && f.length ? mean(f) : null,
    plasticity,
    forgettingPerConcept,
    averageAfter,
  };
}

/** A T×T matrix of NaN, filled in as scores arrive. */
export function emptyMatrix(T: number): number[][] {
  return Array.from({ length: T }, () => new Array<number>(T).fill(NaN));
}
