// Shared definitions of the conv2d generators: shapes, the params uniform, helpers.
import type { Epilogue } from "./epilogue.ts";
import type { Schedule } from "./gemm.ts";

export interface ConvShape {
  N: number;
  C: number;
  H: number;
  W: number;
  /** Output channels. */
  O: number;
  KH: number;
  KW: number;
  stride: number;
  pad: number;
}

export interface ConvOptions {
  subgroups: boolean;
  epilogue?: Epilogue;
  schedule?: Schedule;
  /**
   * Emit the direct stride-1 kernel for this (odd) kernel width instead of the im2col GEMM.
   * Valid only for shapes where `convDirectOk` holds (`convDirectWeightOk` for the weight
   * gradient); about 2x faster there. The `...For(shape, opts)` helpers choose automatically.
   */
  directKW?: number;
}

export interface ConvKernel {
  wgsl: string;
  /** Bindings: 0, 1 inputs (see each generator), 2 output, 3 params uniform, epilogue from 4. */
  bindings: number;
  workgroups(s: ConvShape): [number, number, number];
  uniforms(s: ConvShape): Uint32Array;
}

/** Output height/width. */
export function convOutSize(s: ConvShape): { Ho: number; Wo: number } {
  return {
    Ho: Math.floor((s.H + 2 * s.pad - s.KH) / s.stride) + 1,
    Wo: Math.floor((s.W + 2 * s.pad - s.KW) / s.stride) + 1,
  };
}

export const PARAMS = `struct Params {
  N: u32, C: u32, H: u32, W: u32, O: u32, KH: u32, KW: u32, Ho: u32,
  Wo: u32, stride: u32, pad: u32, HW: u32, HoWo: u32, CKK: u32, KK: u32, invKK: f32,
  invHoWo: f32, invS: f32, gy: u32, p1: u32,
}`;

// Quotient of a per-lane value by a uniform divisor: float reciprocal plus one correction
// each way (exact for a < 2^23). Integer division is scalarised per lane by the JIT.
export const FDIV = `fn fdiv(a: u32, d: u32, inv: f32) -> u32 {
  var q = u32(f32(a) * inv);
  q = select(q, q - 1u, q * d > a);
  q = select(q, q + 1u, (q + 1u) * d <= a);
  return q;
}`;

/** `gy` = row groups per workgroup for a GEMM with `M` rows (see gemm.ts). */
export function convUniforms(s: ConvShape, gy = 1): Uint32Array {
  const { Ho, Wo } = convOutSize(s);
  const KK = s.KH * s.KW;
  const u = new Uint32Array(20);
  const f = new Float32Array(u.buffer);
  u.set([s.N, s.C, s.H, s.W, s.O, s.KH, s.KW, Ho, Wo, s.stride, s.pad]);
  u.set([s.H * s.W, Ho * Wo, s.C * KK, KK], 11);
  f[15] = 1 / KK;
  f[16] = 1 / (Ho * Wo);
  f[17] = 1 / s.stride;
  u[18] = gy;
  return u;
}

/**
 * Whether the direct stride-1 kernels apply: stride 1, odd kernel width with "same" column
 * padding pad = (KW - 1) / 2 <= 4, and 4-aligned row widths on both sides.
 */
export function convDirectOk(s: ConvShape): boolean {
  const { Wo } = convOutSize(s);
  return (
    s.stride === 1 &&
    s.KW % 2 === 1 &&
    s.KW <= 9 &&
    2 * s.pad === s.KW - 1 &&
    s.W % 4 === 0 &&
    Wo % 4 === 0
  );
}

/** The direct weight-gradient kernel additionally needs a 3-wide kernel (taps fill a vec4). */
export function convDirectWeightOk(s: ConvShape): boolean {
  return convDirectOk(s) && s.KW === 3;
}
