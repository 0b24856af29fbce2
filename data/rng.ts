// Seeded PRNG for everything that must be reproducible (shuffles, augmentation,
// data splits). xoshiro128** uses only 32-bit integer ops, so it is exact and fast in JS
// without BigInt; seeds are expanded with splitmix32 so nearby seeds give unrelated streams.

/** One splitmix32 step: a good 32-bit mixer for seeding and hashing. */
function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Hash any list of integers into one 32-bit seed (used to derive sub-streams). */
export function hashSeed(...parts: number[]): number {
  let h = 0x1234567;
  for (const p of parts) {
    if (!Number.isFinite(p)) throw new Error(`hashSeed: non-finite part ${p}`);
    // Fold in both 32-bit halves so seeds/epochs beyond 2^32 still differ.
    const lo = p | 0;
    const hi = Math.floor(p / 4294967296) | 0;
    h = splitmix32(h ^ lo);
    h = splitmix32(h ^ hi);
  }
  return h >>> 0;
}

export type RngState = [number, number, number, number];

export class Rng {
  private s: Uint32Array;

  constructor(seed: number | RngState = 0) {
    this.s = new Uint32Array(4);
    if (Array.isArray(seed)) {
      this.s.set(seed);
    } else {
      let x = hashSeed(seed);
      for (let i = 0; i < 4; i++) {
        x = splitmix32(x);
        this.s[i] = x;
      }
    }
    // The all-zero state is a fixed point of xoshiro.
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
  }

  /** Next uniform 32-bit unsigned integer (xoshiro128**). */
  nextU32(): number {
    const s = this.s;
    const r = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return r;
  }

  /** Uniform float in [0, 1) with 53 random bits. */
  float(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n), unbiased (rejection sampling). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 4294967296) {
      throw new Error(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    }
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** Standard normal sample (Box-Muller; the second value is discarded for simplicity). */
  normal(): number {
    const u = 1 - this.float(); // (0, 1]: log is finite
    const v = this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** In-place Fisher-Yates shuffle. */
  shuffle<T extends { length: number; [i: number]: any }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }

  state(): RngState {
    return [this.s[0], this.s[1], this.s[2], this.s[3]];
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
