// IEEE 754 binary16 <-> binary32, exact: round-to-nearest-even, subnormals, ±inf, NaN.
// Checkpoints are stored as F16 to halve their size; any rounding bug here would shift
// every weight, so this is tested against known bit patterns.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 value → float16 bit pattern (0..0xffff). */
export function f32ToF16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) {
    // Inf stays inf; NaN keeps its top payload bits and is forced quiet (never becomes inf).
    return mant ? sign | 0x7e00 | (mant >>> 13) : sign | 0x7c00;
  }
  const e = exp - 112; // rebias 127 → 15
  if (e >= 0x1f) return sign | 0x7c00; // too large: ±inf
  if (e > 0) {
    let h = sign | (e << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    // Ties to even; a carry out of the mantissa correctly bumps the exponent (up to inf).
    if (rest > 0x1000 || (rest === 0x1000 && (h & 1) !== 0)) h++;
    return h;
  }
  // Subnormal half: value = m · 2^-24, m = (1.mant) · 2^(exp-126) with the implicit bit.
  const shift = 126 - exp; // ≥ 14 here
  if (shift > 24) return sign; // below half of the smallest subnormal: ±0
  const full = mant | 0x800000;
  let m = full >>> shift;
  const rest = full & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rest > half || (rest === half && (m & 1) !== 0)) m++; // m = 1024 is the smallest normal
  return sign | m;
}

/** float16 bit pattern → float32 value (as a JS number). */
export function f16BitsToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

let table: Float32Array | undefined;

/** Bulk decode (via a 64K lookup table: the common path when loading checkpoints). */
export function f16ArrayToF32(bits: Uint16Array): Float32Array {
  if (!table) {
    table = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) table[i] = f16BitsToF32(i);
  }
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
  return out;
}

export function f32ArrayToF16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32ToF16Bits(values[i]);
  return out;
}

/** bfloat16 bit pattern → float32 (upper half of the float32 bits). */
export function bf16BitsToF32(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0];
}
