// Shared GEMM skeleton for matmul and the implicit-GEMM convolutions. Each lane owns
// `rows` output rows x one vec4 of columns. Operands are gathered through hooks, so the
// same register schedule serves plain matrices and im2col views without materialising them.
//
// Lavapipe facts behind the shape (see shared/PERF.md): a lane-divergent load costs 10-20
// FMAs, so loaded floats per FMA is what matters. With subgroups, each lane of an 8-lane
// group loads one vec4 of a 32-wide K chunk of A and the group broadcasts it with
// subgroupShuffle in a rolled 8-step loop (A loaded once per group, not once per lane).
// Workgroup-memory tiles and heavy unrolling were measured slower on lavapipe.
import type { Epilogue } from "./epilogue.ts";
import { identityEpilogue } from "./epilogue.ts";

export interface Schedule {
  /** Output rows per lane (accumulators are `rows` vec4s). */
  rows: number;
  /** 8-lane groups per workgroup (a power of two); they split rows and columns at run time. */
  wgY: number;
  /** Consecutive k per lane per A fetch: 4 (vec4 A loads) or 1 (scalar, fewer live registers). */
  kVec: 1 | 4;
}

/** Tuned on lavapipe (llvmpipe, 256-bit, subgroup size 8). */
export const LAVAPIPE_SCHEDULE: Schedule = { rows: 8, wgY: 8, kVec: 4 };

/**
 * For large GEMMs: 64 rows per lane. Each of B's lane-divergent loads (in llvmpipe a per-lane
 * loop of bounds-checked scalar loads: most of the 8-row loop's instructions) then feeds 8x
 * the FMAs; the spilled accumulators cost less than the loads they save. Measured 1.4-1.7x
 * the 8-row schedule from 256^3 to 1024^3 (32 rows: 1.2-1.4x), but its first dispatch JITs
 * for 15-18 s instead of 0.2-0.4 s (warm Mesa cache: ~0.1 s), so only large problems use it.
 */
export const LAVAPIPE_LARGE_SCHEDULE: Schedule = { rows: 64, wgY: 4, kVec: 4 };

/** Lanes per A-sharing group along x; each lane covers 4 columns, a group 32. */
export const LANES = 8;

/**
 * Operand access for one GEMM C[M,N] += A[M,K] * B[K,N] per batch element `bz`.
 * Everything is WGSL text. In scope for the hooks: `row0`, `col0` (first row/column of the
 * lane), `bz` (batch index), `lane`, `M`, `N`, `K`, and the uniform struct `P`, which must
 * have a u32 field `gy` (see `rowGroups`).
 */
export interface GemmHooks {
  /** Struct, bindings 0..(n-1) and helper functions. */
  decls: string;
  /** WGSL u32 expressions for the per-batch GEMM dimensions. */
  M: string;
  N: string;
  K: string;
  /** Per-lane setup statements (clamped row/column offsets etc.). */
  setup: string;
  /** Statements run once per A fetch with `ka` (u32 k of component 0) in scope. */
  aPrep?: string;
  /** Scalar A[row0 + r][ka + j] (only called with ka + j < K). */
  aLoad(r: number, j: number): string;
  /**
   * Optional fast path (kVec 4, away from the K edge): statements defining `a0..a{rows-1}`,
   * each vec4 A[row0 + r][ka .. ka + 3]. vec4 loads beat four scalar loads on lavapipe.
   */
  aFast?: string;
  /** Statements initialising B's k-state at k = 0. */
  bInit: string;
  /** Scalar B[k][col0 + j] for the current k-state. */
  bLoad(j: number): string;
  /** Statements advancing B's k-state by one. */
  bAdvance: string;
  /** Optional fast path: statements defining `b0..b3` = B[kb + j][col0 .. col0 + 3], then
   * advancing B's k-state by 4. */
  bFast?: string;
  /** Flat output index of (`row`, `col`) (both in scope) into C. */
  cIndex: string;
  /** Only the first `storeCols` of each lane's 4 columns are real outputs (default 4). */
  storeCols?: number;
}

export interface GemmOptions {
  subgroups: boolean;
  schedule?: Schedule;
  epilogue?: Epilogue;
  /** First binding number free for the epilogue. */
  epilogueBinding: number;
}

export function vec4(parts: string[]): string {
  return `vec4<f32>(${parts.join(", ")})`;
}

/** Appends trimmed lines of `text` at an indent. */
export type Emit = (indent: number, text: string) => void;

export function makeEmitter(): { L: string[]; emit: Emit } {
  const L: string[] = [];
  const emit: Emit = (indent, text) => {
    for (const line of text.split("\n")) if (line.trim()) L.push("  ".repeat(indent) + line.trim());
  };
  return { L, emit };
}

/**
 * Module prologue and the start of `main`: defines lane, bz, row0, col0 (first column, not
 * clamped), and sgBase (first subgroup lane of the 8-group) with subgroups.
 * Groups of a workgroup split into P.gy row blocks x (wgY / P.gy) column blocks, so small-M
 * problems do not waste lanes on clamped rows.
 */
export function kernelHead(
  emit: Emit,
  L: string[],
  decls: string,
  o: GemmOptions,
  s: Schedule,
): void {
  const ep = o.epilogue ?? identityEpilogue;
  if (o.subgroups) L.push("enable subgroups;");
  L.push(decls.trim());
  const epDecls = ep.decls(o.epilogueBinding).trim();
  if (epDecls) L.push(epDecls);
  L.push(ep.fn.trim());
  L.push("");
  L.push(`@compute @workgroup_size(${LANES}, ${s.wgY}, 1)`);
  const sgArg = o.subgroups ? ",\n  @builtin(subgroup_invocation_id) sgi: u32" : "";
  L.push(
    `fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>${sgArg}) {`,
  );
  emit(1, `let lane = lid.x;`);
  emit(1, `let bz = wg.z;`);
  emit(1, `let gy = P.gy;`);
  emit(1, `let row0 = (wg.y * gy + lid.y % gy) * ${s.rows}u;`);
  emit(1, `let col0 = ((wg.x * (${s.wgY}u / gy) + lid.y / gy) * ${LANES}u + lane) * 4u;`);
  // Lanes of one 8-group are assumed to be 8 consecutive subgroup lanes in x order.
  if (o.subgroups) emit(1, `let sgBase = sgi & ${~(LANES - 1) >>> 0}u;`);
}

/** Guarded store of the `rows` x 4 accumulators through the epilogue. */
export function emitStore(emit: Emit, rows: number, cIndex: string, cols = 4): void {
  const comps = ["x", "y", "z", "w"];
  // Rows/columns past the edge were computed from clamped loads and are dropped.
  for (let r = 0; r < rows; r++) {
    emit(1, `if (row0 + ${r}u < M) {`);
    emit(2, `let row = row0 + ${r}u;`);
    for (let j = 0; j < cols; j++) {
      emit(2, `if (col0 + ${j}u < N) {`);
      emit(3, `let col = col0 + ${j}u;`);
      emit(3, `let i = ${cIndex};`);
      emit(3, `C[i] = epilogue(acc${r}.${comps[j]}, i);`);
      emit(2, `}`);
    }
    emit(1, `}`);
  }
}

export function gemmWgsl(h: GemmHooks, o: GemmOptions): string {
  const s = o.schedule ?? LAVAPIPE_SCHEDULE;
  const R = s.rows;
  const KV = s.kVec;
  const rs = [...Array(R).keys()];
  const jv = [...Array(KV).keys()];
  const comps = ["x", "y", "z", "w"];
  const { L, emit } = makeEmitter();

  // KV B vec4s for k .. k+KV-1 (the main loop never runs past K).
  const loadB = (ind: number) => {
    if (KV === 4 && h.bFast) return emit(ind, h.bFast);
    for (const j of jv) {
      emit(ind, `let b${j} = ${vec4([0, 1, 2, 3].map((c) => h.bLoad(c)))};`);
      emit(ind, h.bAdvance);
    }
  };
  // This lane's share of A: KV consecutive k per row (a vec4 when KV = 4).
  const loadA = (ind: number) => {
    if (KV === 4 && h.aFast) return emit(ind, h.aFast);
    if (h.aPrep) emit(ind, h.aPrep);
    for (const r of rs) {
      const parts = jv.map((j) => h.aLoad(r, j));
      emit(ind, `let a${r} = ${KV === 1 ? parts[0] : vec4(parts)};`);
    }
  };
  const fmas = (ind: number, aName: (r: number) => string) => {
    for (const r of rs) {
      emit(ind, `{ let a = ${aName(r)};`);
      for (const j of jv) {
        const aj = KV === 1 ? "a" : `a.${comps[j]}`;
        emit(ind + 1, `acc${r} = fma(vec4<f32>(${aj}), b${j}, acc${r});`);
      }
      emit(ind, "}");
    }
  };

  kernelHead(emit, L, h.decls, o, s);
  emit(1, `let M = ${h.M};`);
  emit(1, `let N = ${h.N};`);
  emit(1, `let K = ${h.K};`);
  emit(1, h.setup);
  for (const r of rs) emit(1, `var acc${r} = vec4<f32>(0.0);`);
  emit(1, h.bInit);
  emit(1, `var kb = 0u;`);

  if (o.subgroups) {
    // Rolled loop over source lanes with a constant trip count: unrolling 2/4/8 steps ran
    // 1.4-2x slower and JITs for seconds.
    const chunk = LANES * KV;
    emit(1, `let kFull = K - K % ${chunk}u;`);
    emit(1, `for (var k0 = 0u; k0 < kFull; k0 += ${chunk}u) {`);
    emit(2, `let ka = k0 + lane * ${KV}u;`);
    loadA(2);
    emit(2, `for (var s = 0u; s < ${LANES}u; s++) {`);
    loadB(3);
    emit(3, `let src = sgBase + s;`);
    fmas(3, (r) => `subgroupShuffle(a${r}, src)`);
    emit(3, `kb += ${KV}u;`);
    emit(2, `}`);
    emit(1, `}`);
  } else {
    // Fallback without subgroups: every lane loads its own A rows, KV k per step.
    emit(1, `let kFull = K - K % ${KV}u;`);
    emit(1, `for (; kb < kFull; kb += ${KV}u) {`);
    emit(2, `let ka = kb;`);
    loadA(2);
    loadB(2);
    fmas(2, (r) => `a${r}`);
    emit(1, `}`);
  }
  // K tail: plain per-lane loads, one k at a time. Small code for a path that runs at most
  // once; replacing a guarded copy of the chunk body cut the cold JIT by about a third.
  emit(1, `for (; kb < K; kb++) {`);
  emit(2, `let ka = kb;`);
  if (h.aPrep) emit(2, h.aPrep);
  emit(2, `let b0 = ${vec4([0, 1, 2, 3].map((c) => h.bLoad(c)))};`);
  emit(2, h.bAdvance);
  for (const r of rs) emit(2, `acc${r} = fma(vec4<f32>(${h.aLoad(r, 0)}), b0, acc${r});`);
  emit(1, `}`);
  emitStore(emit, R, h.cIndex, h.storeCols);
  L.push("}");
  return L.join("\n") + "\n";
}

/** Row blocks per workgroup: enough 8-groups for M, a power of two up to wgY. */
export function rowGroups(M: number, s: Schedule = LAVAPIPE_SCHEDULE): number {
  let gy = 1;
  while (gy < s.wgY && gy * s.rows < M) gy *= 2;
  return gy;
}

/** Workgroup grid for an M x N output per batch element (matches `rowGroups`). */
export function gemmWorkgroups(
  M: number,
  N: number,
  batch: number,
  s: Schedule = LAVAPIPE_SCHEDULE,
): [number, number, number] {
  const gy = rowGroups(M, s);
  return [
    Math.max(1, Math.ceil(N / (LANES * 4 * (s.wgY / gy)))),
    Math.max(1, Math.ceil(M / (s.rows * gy))),
    Math.max(1, batch),
  ];
}
