// Deterministic mini-batches over an in-memory dataset.
//
// Training order is the concatenation of per-epoch permutations, each derived from
// (seed, epoch) alone, so the whole stream is a pure function of the seed: `state()` is
// just {epoch, cursor} and `restore()` resumes bit-exactly (augmentation included, since
// its randomness is derived from (seed, epoch, position) too). Batches may straddle an
// epoch boundary, so a concept with 10 images still gives batches of 16.

import { Rng, hashSeed } from "./rng.ts";

export type FieldData = Float32Array | Int32Array;

export interface Field<D extends FieldData = FieldData> {
  data: D;
  /** Shape of ONE item, e.g. [3, 32, 32] for a CHW image, [] for a scalar label. */
  shape: readonly number[];
}

/** Modifies one item (a copy inside the batch) in place; must use only `rng` for randomness. */
export type AugmentFn = (item: Float32Array, shape: readonly number[], rng: Rng) => void;

export interface BatchSourceOptions<F extends Record<string, Field>> {
  n: number;
  fields: F;
  batch: number;
  /** Shuffle each epoch (training). Default true. */
  shuffle?: boolean;
  seed?: number;
  /** Per-field augmentation, applied to training batches only (never in `epoch()`). */
  augment?: { [K in keyof F]?: F[K]["data"] extends Float32Array ? AugmentFn : never };
}

export interface BatchMeta {
  /** Number of real items in the batch (< batch only for the last padded/partial eval batch). */
  count: number;
  /** Dataset index of each real item. */
  indices: Int32Array;
}

export type Batch<F extends Record<string, Field>> = { [K in keyof F]: F[K]["data"] } & BatchMeta;

export interface BatchState {
  epoch: number;
  cursor: number;
}

const META_KEYS = new Set(["count", "indices"]);

export class BatchSource<F extends Record<string, Field>> {
  readonly n: number;
  readonly batch: number;
  private readonly fields: F;
  private readonly itemSize: Record<string, number> = {};
  private readonly shuffleOn: boolean;
  private readonly seed: number;
  private readonly augment: Partial<Record<keyof F, AugmentFn>>;
  private ep = 0;
  private cur = 0;
  private perm: Int32Array | undefined;
  private permEpoch = -1;

  constructor(opts: BatchSourceOptions<F>) {
    const { n, fields, batch } = opts;
    if (!Number.isInteger(n) || n <= 0)
      throw new Error(`BatchSource: n must be a positive integer, got ${n}`);
    if (!Number.isInteger(batch) || batch <= 0) {
      throw new Error(`BatchSource: batch must be a positive integer, got ${batch}`);
    }
    for (const [name, f] of Object.entries(fields)) {
      if (META_KEYS.has(name)) throw new Error(`BatchSource: field name "${name}" is reserved`);
      const size = f.shape.reduce((a, b) => a * b, 1);
      if (f.data.length !== n * size) {
        throw new Error(
          `BatchSource: field "${name}" has ${f.data.length} values, expected n×[${f.shape.join(", ")}] = ${n * size}`,
        );
      }
      this.itemSize[name] = size;
    }
    for (const name of Object.keys(opts.augment ?? {})) {
      if (!(name in fields)) throw new Error(`BatchSource: augment names unknown field "${name}"`);
      if (!(fields[name].data instanceof Float32Array)) {
        throw new Error(`BatchSource: augment on "${name}" needs Float32Array data`);
      }
    }
    this.n = n;
    this.batch = batch;
    this.fields = fields;
    this.shuffleOn = opts.shuffle ?? true;
    this.seed = opts.seed ?? 0;
    this.augment = (opts.augment ?? {}) as Partial<Record<keyof F, AugmentFn>>;
  }

  /** Batches per epoch when iterated with `epoch()` (last one may be partial). */
  get batchesPerEpoch(): number {
    return Math.ceil(this.n / this.batch);
  }

  state(): BatchState {
    return { epoch: this.ep, cursor: this.cur };
  }

  restore(s: BatchState): void {
    if (!Number.isInteger(s.epoch) || s.epoch < 0 || !Number.isInteger(s.cursor)) {
      throw new Error(`BatchSource.restore: bad state ${JSON.stringify(s)}`);
    }
    if (s.cursor < 0 || s.cursor >= this.n) {
      throw new Error(`BatchSource.restore: cursor ${s.cursor} outside 0..${this.n - 1}`);
    }
    this.ep = s.epoch;
    this.cur = s.cursor;
  }

  /** Order of items in a given training epoch. */
  order(epoch: number): Int32Array {
    if (this.permEpoch !== epoch || !this.perm) {
      if (this.shuffleOn) {
        this.perm = new Rng(hashSeed(this.seed, epoch)).permutation(this.n);
      } else {
        this.perm = new Int32Array(this.n);
        for (let i = 0; i < this.n; i++) this.perm[i] = i;
      }
      this.permEpoch = epoch;
    }
    return this.perm;
  }

  /** Next full training batch (always `batch` items; crosses epochs as needed). */
  next(): Batch<F> {
    const idx = new Int32Array(this.batch);
    const aug = new Array<Rng>(this.batch);
    const needAug = Object.keys(this.augment).length > 0;
    for (let k = 0; k < this.batch; k++) {
      idx[k] = this.order(this.ep)[this.cur];
      // Augmentation randomness depends only on where the item sits in the stream.
      if (needAug) aug[k] = new Rng(hashSeed(this.seed, this.ep, this.cur, 0x61756720));
      this.cur++;
      if (this.cur === this.n) {
        this.cur = 0;
        this.ep++;
      }
    }
    const out = this.gather(idx, this.batch);
    for (const [name, fn] of Object.entries(this.augment) as [string, AugmentFn][]) {
      const size = this.itemSize[name];
      const data = (out as Record<string, FieldData>)[name] as Float32Array;
      for (let k = 0; k < this.batch; k++) {
        fn(data.subarray(k * size, (k + 1) * size), this.fields[name].shape, aug[k]);
      }
    }
    return out;
  }

  /**
   * One pass in dataset order for evaluation; never touches the training state.
   * pad=false: the last batch is smaller. pad=true: every batch has `batch` rows (fixed
   * shapes for compiled kernels); the tail rows are zero and `count` says how many are real.
   */
  *epoch(opts: { pad?: boolean } = {}): Generator<Batch<F>> {
    for (let start = 0; start < this.n; start += this.batch) {
      const count = Math.min(this.batch, this.n - start);
      const idx = new Int32Array(count);
      for (let k = 0; k < count; k++) idx[k] = start + k;
      yield this.gather(idx, opts.pad ? this.batch : count);
    }
  }

  private gather(idx: Int32Array, rows: number): Batch<F> {
    const out: Record<string, unknown> = { count: idx.length, indices: idx };
    for (const [name, f] of Object.entries(this.fields)) {
      const size = this.itemSize[name];
      const dst =
        f.data instanceof Float32Array
          ? new Float32Array(rows * size)
          : new Int32Array(rows * size);
      for (let k = 0; k < idx.length; k++) {
        dst.set(f.data.subarray(idx[k] * size, (idx[k] + 1) * size), k * size);
      }
      out[name] = dst;
    }
    return out as Batch<F>;
  }
}

/**
 * Image augmentation for [C, H, W] items: random horizontal flip and a random crop of a
 * copy padded by `pad` pixels on each side (edge-replicated by default so white emoji
 * backgrounds and black MNIST backgrounds both stay clean).
 */
export function imageAugment(opts: {
  flip?: boolean;
  pad?: number;
  fill?: number | "edge";
}): AugmentFn {
  const pad = opts.pad ?? 0;
  const fill = opts.fill ?? "edge";
  return (item, shape, rng) => {
    if (shape.length !== 3)
      throw new Error(`imageAugment: expected [C, H, W] items, got [${shape.join(", ")}]`);
    const [c, h, w] = shape;
    const flip = opts.flip ? rng.int(2) === 1 : false;
    const dx = pad > 0 ? rng.int(2 * pad + 1) - pad : 0;
    const dy = pad > 0 ? rng.int(2 * pad + 1) - pad : 0;
    if (!flip && dx === 0 && dy === 0) return;
    const src = item.slice();
    for (let ch = 0; ch < c; ch++) {
      const base = ch * h * w;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          let sx = x + dx;
          let sy = y + dy;
          if (flip) sx = w - 1 - sx;
          let v: number;
          if (sx >= 0 && sx < w && sy >= 0 && sy < h) v = src[base + sy * w + sx];
          else if (fill === "edge") {
            sx = Math.min(w - 1, Math.max(0, sx));
            sy = Math.min(h - 1, Math.max(0, sy));
            v = src[base + sy * w + sx];
          } else v = fill;
          item[base + y * w + x] = v;
        }
      }
    }
  };
}
