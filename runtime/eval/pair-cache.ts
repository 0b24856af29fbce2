// What `cldc eval` has already scored, kept under RUN_DIR/eval/pairs/: for every snapshot ×
// concept pair, its scores (JSON) and its samples (a PNG strip, one image per sample, which
// is also the place to look at every sample, not only the grid's first four). A pair is
// reused only when the snapshot file and every setting that shaped its scores are the same,
// so an eval killed half-way resumes where it stopped, and a run that has learned more
// concepts since its last eval only scores the new snapshots.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../io/atomic.ts";
import { decodePngBytes, encodePng } from "../io/png.ts";

export interface PairScores {
  accuracy: number;
  kid: number;
  loss: number;
}

export interface CachedPair {
  scores: PairScores;
  /** RGB CHW images in [0, 1] (8-bit, as stored). */
  samples: Float32Array[];
}

/** The samples strip of pair (t, i), relative to the eval directory. */
export function pairStripPath(t: number, i: number): string {
  return `pairs/after_${t + 1}-concept_${i + 1}.png`;
}

export class PairCache {
  readonly dir: string;

  /**
   * `settings`: everything besides the snapshot that decides a pair's scores (sampling
   * options, judge, KID on or off); a cached pair with other settings is scored again.
   */
  constructor(
    evalDir: string,
    private readonly settings: Record<string, unknown>,
    private readonly size: number,
  ) {
    this.dir = join(evalDir, "pairs");
  }

  private base(t: number, i: number): string {
    return join(this.dir, "..", pairStripPath(t, i)).replace(/\.png$/, "");
  }

  private key(snapshotSha: string, concept: string): string {
    return JSON.stringify({ snapshotSha, concept, ...this.settings });
  }

  /** The stored pair, or null if absent, unreadable or scored under other settings. */
  get(t: number, i: number, snapshotSha: string, concept: string): CachedPair | null {
    const b = this.base(t, i);
    if (!existsSync(`${b}.json`) || !existsSync(`${b}.png`)) return null;
    try {
      const j = JSON.parse(readFileSync(`${b}.json`, "utf8"));
      if (j.key !== this.key(snapshotSha, concept)) return null;
      const img = decodePngBytes(readFileSync(`${b}.png`));
      const S = this.size;
      if (img.height !== S || img.channels !== 3 || img.width % S !== 0) return null;
      const samples = Array.from({ length: img.width / S }, (_, k) => {
        const chw = new Float32Array(3 * S * S);
        for (let c = 0; c < 3; c++)
          for (let y = 0; y < S; y++)
            for (let x = 0; x < S; x++)
              chw[c * S * S + y * S + x] = img.data[(y * img.width + k * S + x) * 3 + c];
        return chw;
      });
      const num = (v: unknown) => (typeof v === "number" ? v : NaN);
      return {
        scores: { accuracy: num(j.accuracy), kid: num(j.kid), loss: num(j.loss) },
        samples,
      };
    } catch {
      return null; // a torn or foreign file: score the pair again
    }
  }

  /** Stores a scored pair (samples first, then the JSON that makes it count). */
  put(
    t: number,
    i: number,
    snapshotSha: string,
    concept: string,
    scores: PairScores,
    samples: Float32Array[],
  ): void {
    const S = this.size;
    const W = samples.length * S;
    const strip = new Float32Array(3 * W * S);
    samples.forEach((img, k) => {
      for (let c = 0; c < 3; c++)
        for (let y = 0; y < S; y++)
          for (let x = 0; x < S; x++)
            strip[c * W * S + y * W + k * S + x] = img[c * S * S + y * S + x];
    });
    const b = this.base(t, i);
    writeFileAtomic(`${b}.png`, encodePng(strip, W, S));
    const finite = (v: number) => (Number.isFinite(v) ? v : null);
    const json = {
      key: this.key(snapshotSha, concept),
      accuracy: finite(scores.accuracy),
      kid: finite(scores.kid),
      loss: finite(scores.loss),
    };
    writeFileAtomic(`${b}.json`, new TextEncoder().encode(JSON.stringify(json) + "\n"));
  }
}
