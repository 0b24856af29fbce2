// WGSL for fused attention (compiler/ops/attention.ts): the forward pass and the three
// kernels of its derivative. Each follows one schedule, shaped by lavapipe's costs (a
// per-lane storage load costs 10-20 FMAs; register shuffles and ALU work are cheap):
//
// - An 8-lane group owns a tile of 8·R rows of one batch item (query rows; key rows for
//   attention_grad_kv), R per lane, with their d-vectors and accumulators in registers.
// - It walks the other side (keys, or queries for grad_kv) 8 rows at a time: each lane
//   loads one of the 8 rows and `subgroupShuffle` hands each row to every lane in a rolled
//   8-step loop, so a loaded float feeds 8·R rows' FMAs. Without subgroups every lane loads
//   each row itself (still shared by its R rows).
// - The forward's softmax is online: a running max m and sum l per row; m moves only when
//   a score passes it by more than RESCALE (rare after the first keys), so most keys cost
//   one exp, and exp(s - m) <= e^RESCALE stays far from overflow.
//
// The head size d is baked into the text (vectors unrolled into ceil(d/4) vec4 registers,
// zero-padded); T, S, the batch count and the scale are uniforms, so one pipeline per
// (kernel, d, subgroups, rows per lane) serves every sequence length and batch.
import { ATTENTION_MAX_D } from "../ops/attention-dims.ts";

export type AttentionKernelKind = "forward" | "stats" | "grad_q" | "grad_kv";

export interface AttentionParams {
  batch: number;
  T: number;
  S: number;
  d: number;
  scale: number;
}

export interface AttentionKernel {
  wgsl: string;
  /** Storage bindings read, in order (the output follows them, then the uniform). */
  inputs: string[];
  workgroups: [number, number, number];
  uniforms: Uint32Array;
  flops: number;
}

/** Lanes per group (lavapipe's subgroup size) and groups per workgroup. */
const GROUP = 8;
const GROUPS_PER_WG = 8;
/** Rows per lane, by default. */
export const ATTENTION_ROWS = 4;
/** Scores may exceed the running max by this much before the row is rescaled. */
const RESCALE = 8;
/** Below every score; finite so that exp(m - s) never computes -inf - -inf. */
const NEG = "-3.0e38";
const XYZW = ["x", "y", "z", "w"];

/** One d-vector as ceil(d/4) vec4 registers (zero-padded past d). */
class Vec {
  readonly n: number;
  readonly vec4: boolean;
  constructor(readonly d: number) {
    this.n = Math.ceil(d / 4);
    this.vec4 = d % 4 === 0;
  }
  /** Array elements per row of a [.., rows, d] array (vec4s when d % 4 == 0). */
  get stride(): number {
    return this.vec4 ? this.n : this.d;
  }
  /** Chunk c of the row starting at element `base` of `arr`. */
  load(arr: string, base: string, c: number): string {
    if (this.vec4) return `${arr}[${base} + ${c}u]`;
    const comps = [0, 1, 2, 3].map((e) =>
      4 * c + e < this.d ? `${arr}[${base} + ${4 * c + e}u]` : "0.0",
    );
    return `vec4<f32>(${comps.join(", ")})`;
  }
  store(arr: string, base: string, c: number, value: string): string[] {
    if (this.vec4) return [`${arr}[${base} + ${c}u] = ${value};`];
    const out: string[] = [];
    for (let e = 0; e < 4 && 4 * c + e < this.d; e++)
      out.push(`${arr}[${base} + ${4 * c + e}u] = (${value}).${XYZW[e]};`);
    return out;
  }
  /** `let|var name_c = load` for every chunk, optionally times a scalar. */
  lets(name: string, arr: string, base: string, times = "", kw = "let"): string[] {
    return this.each((c) => `${kw} ${name}_${c} = ${this.load(arr, base, c)}${times};`);
  }
  dot(a: string, b: string): string {
    return this.each((c) => `dot(${a}_${c}, ${b}_${c})`).join(" + ");
  }
  each<T>(f: (c: number) => T): T[] {
    return Array.from({ length: this.n }, (_, c) => f(c));
  }
}

/** What a kernel loads per streamed row, and what it does per (own row, streamed row). */
interface Spec {
  inputs: string[];
  /** Own rows come from this side: T (query rows) or S (key rows). */
  own: "T" | "S";
  /** Per own row r: register setup (names may use the suffix `${r}`). */
  setup(r: number): string[];
  /** Streamed row: the vectors it needs, from which array ([name, array]); "ST" is a vec2. */
  stream: [string, string][];
  /** For the rows `rows` and one streamed row (vectors named `<name>_c`, stats `st`). */
  update(rows: number[]): string[];
  /** Per own row r: the output store, given its row index expression. */
  finish(r: number, row: string): string[];
  flops: number;
}

const perRow = (f: (r: number) => string[]) => (rows: number[]) => rows.flatMap(f);
/** The WGSL maximum of the expressions, as a balanced tree. */
function maxOf(xs: string[]): string {
  if (xs.length === 1) return xs[0];
  const h = xs.length >> 1;
  return `max(${maxOf(xs.slice(0, h))}, ${maxOf(xs.slice(h))})`;
}
const ind = (n: number, lines: string[]) => lines.map((l) => "  ".repeat(n) + l);

const SPECS: Record<AttentionKernelKind, (v: Vec) => Spec> = {
  forward: (v) => ({
    inputs: ["Q", "K", "V"],
    own: "T",
    setup: (r) => [
      ...v.lets(`q${r}`, "Q", `ob${r}`, " * scale"),
      `var m${r} = ${NEG};`,
      `var l${r} = 0.0;`,
      ...v.each((c) => `var a${r}_${c} = vec4<f32>(0.0);`),
    ],
    stream: [
      ["k", "K"],
      ["v", "V"],
    ],
    // All rows' scores first, then one test for a rescale (rare) instead of one per row.
    update: (rows) => [
      ...rows.map((r) => `let s${r} = ${v.dot(`q${r}`, "k")};`),
      `if (${maxOf(rows.map((r) => `s${r} - m${r}`))} > ${RESCALE}.0) {`,
      ...rows.flatMap((r) => [
        `  let mn${r} = max(m${r}, s${r});`,
        `  let c${r} = exp(m${r} - mn${r});`,
        `  l${r} *= c${r};`,
        ...v.each((c) => `  a${r}_${c} *= c${r};`),
        `  m${r} = mn${r};`,
      ]),
      "}",
      ...rows.flatMap((r) => [
        `let p${r} = exp(s${r} - m${r});`,
        `l${r} += p${r};`,
        ...v.each((c) => `a${r}_${c} += p${r} * v_${c};`),
      ]),
    ],
    finish: (r, row) => [
      `let inv${r} = 1.0 / l${r};`,
      ...v.each((c) => v.store("out", `${row} * ${v.stride}u`, c, `a${r}_${c} * inv${r}`)).flat(),
    ],
    flops: 4,
  }),
  stats: (v) => ({
    inputs: ["Q", "K", "dO", "O"],
    own: "T",
    setup: (r) => [
      ...v.lets(`q${r}`, "Q", `ob${r}`, " * scale"),
      `var m${r} = ${NEG};`,
      `var l${r} = 0.0;`,
    ],
    stream: [["k", "K"]],
    update: (rows) => [
      ...rows.map((r) => `let s${r} = ${v.dot(`q${r}`, "k")};`),
      `if (${maxOf(rows.map((r) => `s${r} - m${r}`))} > ${RESCALE}.0) {`,
      ...rows.flatMap((r) => [
        `  let mn${r} = max(m${r}, s${r});`,
        `  l${r} *= exp(m${r} - mn${r});`,
        `  m${r} = mn${r};`,
      ]),
      "}",
      ...rows.map((r) => `l${r} += exp(s${r} - m${r});`),
    ],
    finish: (r, row) => [
      ...v.lets(`g${r}`, "dO", `${row} * ${v.stride}u`),
      ...v.lets(`o${r}`, "O", `${row} * ${v.stride}u`),
      `out[2u * ${row}] = m${r} + log(l${r});`,
      `out[2u * ${row} + 1u] = ${v.dot(`g${r}`, `o${r}`)};`,
    ],
    flops: 2,
  }),
  grad_q: (v) => ({
    inputs: ["Q", "K", "V", "dO", "ST"],
    own: "T",
    setup: (r) => [
      ...v.lets(`q${r}`, "Q", `ob${r}`, " * scale"),
      ...v.lets(`g${r}`, "dO", `ob${r}`),
      `let st${r} = ST[orow${r}];`,
      ...v.each((c) => `var a${r}_${c} = vec4<f32>(0.0);`),
    ],
    stream: [
      ["k", "K"],
      ["v", "V"],
    ],
    update: perRow((r) => [
      "{",
      `  let p = exp(${v.dot(`q${r}`, "k")} - st${r}.x);`,
      `  let ds = p * ((${v.dot(`g${r}`, "v")}) - st${r}.y);`,
      ...v.each((c) => `  a${r}_${c} += ds * k_${c};`),
      "}",
    ]),
    finish: (r, row) =>
      v.each((c) => v.store("out", `${row} * ${v.stride}u`, c, `a${r}_${c} * scale`)).flat(),
    flops: 6,
  }),
  grad_kv: (v) => ({
    inputs: ["Q", "K", "V", "dO", "ST"],
    own: "S",
    setup: (r) => [
      ...v.lets(`k${r}`, "K", `ob${r}`, " * scale"),
      ...v.lets(`v${r}`, "V", `ob${r}`),
      ...v.each((c) => `var dk${r}_${c} = vec4<f32>(0.0);`),
      ...v.each((c) => `var dv${r}_${c} = vec4<f32>(0.0);`),
    ],
    stream: [
      ["q", "Q"],
      ["g", "dO"],
      ["st", "ST"],
    ],
    update: perRow((r) => [
      "{",
      `  let p = exp(${v.dot("q", `k${r}`)} - st.x);`,
      `  let ds = p * ((${v.dot("g", `v${r}`)}) - st.y);`,
      ...v.each((c) => `  dv${r}_${c} += p * g_${c};`),
      ...v.each((c) => `  dk${r}_${c} += ds * q_${c};`),
      "}",
    ]),
    // The output row is [dk | dv], 2d wide.
    finish: (r, row) => [
      ...v
        .each((c) => v.store("out", `${row} * ${2 * v.stride}u`, c, `dk${r}_${c} * scale`))
        .flat(),
      ...v
        .each((c) => v.store("out", `${row} * ${2 * v.stride}u + ${v.stride}u`, c, `dv${r}_${c}`))
        .flat(),
    ],
    flops: 8,
  }),
};

function kernelText(kind: AttentionKernelKind, v: Vec, subgroups: boolean, rows: number): string {
  const rowsOf = (f: (r: number) => string[]) =>
    Array.from({ length: rows }, (_, r) => f(r)).flat();
  const spec = SPECS[kind](v);
  const t = v.vec4 ? "vec4<f32>" : "f32";
  const own = spec.own;
  const other = own === "T" ? "S" : "T";
  const outVec4 = kind !== "stats" && v.vec4;
  const L: string[] = [`// attention ${kind}, head size ${v.d}`];
  if (subgroups) L.push("enable subgroups;");
  L.push(
    // tiles: row tiles (8·rows own rows) per batch item.
    "struct Params { T: u32, S: u32, batch: u32, scale: u32, tiles: u32 }",
    ...spec.inputs.map(
      (name, k) =>
        `@group(0) @binding(${k}) var<storage, read> ${name}: array<${name === "ST" ? "vec2<f32>" : t}>;`,
    ),
    `@group(0) @binding(${spec.inputs.length}) var<storage, read_write> out: array<${outVec4 ? "vec4<f32>" : "f32"}>;`,
    `@group(0) @binding(${spec.inputs.length + 1}) var<uniform> P: Params;`,
    `@compute @workgroup_size(${GROUP * GROUPS_PER_WG})`,
    "fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,",
    `  @builtin(local_invocation_index) li: u32${subgroups ? ", @builtin(subgroup_invocation_id) sgi: u32" : ""}) {`,
  );
  const body: string[] = [
    `let tile = (wid.x + wid.y * nwg.x) * ${GROUPS_PER_WG}u + li / ${GROUP}u;`,
    // Groups past the last batch item compute a clamped copy and store nothing (an early
    // return would put the shuffles below in non-uniform control flow).
    "let live = tile / P.tiles < P.batch;",
    "let bz = min(tile / P.tiles, P.batch - 1u);",
    "let lane = li % 8u;",
    "let scale = bitcast<f32>(P.scale);",
    `let row0 = (tile % P.tiles) * ${GROUP * rows}u + lane;`,
    ...rowsOf((r) => [
      `let orow${r} = bz * P.${own} + min(row0 + ${r * GROUP}u, P.${own} - 1u);`,
      `let ob${r} = orow${r} * ${v.stride}u;`,
    ]),
    ...rowsOf((r) => spec.setup(r)),
    `let base = bz * P.${other};`,
  ];
  const loadRow = (row: string, indent: number) =>
    ind(
      indent,
      spec.stream.flatMap(([name, arr]) =>
        arr === "ST" ? [`let ${name} = ST[${row}];`] : v.lets(name, arr, `(${row}) * ${v.stride}u`),
      ),
    );
  const updates = (indent: number) =>
    ind(indent, spec.update(Array.from({ length: rows }, (_, r) => r)));
  if (subgroups) {
    // Lanes of one 8-group are 8 consecutive subgroup lanes (as in kernels/gemm.ts).
    const shuffled = spec.stream.flatMap(([name, arr]) =>
      arr === "ST"
        ? [`let ${name} = subgroupShuffle(${name}_l, src);`]
        : v.each((c) => `let ${name}_${c} = subgroupShuffle(${name}_l_${c}, src);`),
    );
    body.push(
      "let sgBase = sgi & ~7u;",
      `for (var j0 = 0u; j0 < P.${other}; j0 += 8u) {`,
      ...ind(
        1,
        spec.stream.flatMap(([name, arr]) =>
          arr === "ST"
            ? [`let ${name}_l = ST[base + min(j0 + lane, P.${other} - 1u)];`]
            : v.lets(`${name}_l`, arr, `(base + min(j0 + lane, P.${other} - 1u)) * ${v.stride}u`),
        ),
      ),
      `  let n = min(8u, P.${other} - j0);`,
      "  for (var u = 0u; u < n; u++) {",
      "    let src = sgBase + u;",
      ...ind(2, shuffled),
      ...updates(2),
      "  }",
      "}",
    );
  } else {
    body.push(
      `for (var j = 0u; j < P.${other}; j++) {`,
      ...loadRow("base + j", 1),
      ...updates(1),
      "}",
    );
  }
  body.push(
    ...rowsOf((r) => [
      `if (live && row0 + ${r * GROUP}u < P.${own}) {`,
      ...ind(1, spec.finish(r, `orow${r}`)),
      "}",
    ]),
  );
  L.push(...ind(1, body), "}", "");
  return L.join("\n");
}

export function attentionKernel(
  kind: AttentionKernelKind,
  p: AttentionParams,
  opts: { subgroups: boolean; rows?: number },
): AttentionKernel {
  const v = new Vec(p.d);
  const spec = SPECS[kind](v);
  const ownRows = spec.own === "T" ? p.T : p.S;
  // Few own rows (cross-attention's keys: a short text) take smaller tiles, not idle lanes.
  const rows = opts.rows ?? (ownRows <= GROUP ? 1 : ownRows <= 2 * GROUP ? 2 : ATTENTION_ROWS);
  if (p.d > ATTENTION_MAX_D || p.d < 1)
    throw new Error(`internal: attention kernel for head size ${p.d}`);
  const tiles = Math.ceil(ownRows / (GROUP * rows));
  const groups = Math.ceil((p.batch * tiles) / GROUPS_PER_WG);
  const y = Math.ceil(groups / 65535);
  const scaleBits = new Uint32Array(new Float32Array([p.scale]).buffer)[0];
  return {
    wgsl: kernelText(kind, v, opts.subgroups, rows),
    inputs: spec.inputs,
    workgroups: [Math.ceil(groups / y), y, 1],
    uniforms: new Uint32Array([p.T, p.S, p.batch, scaleBits, tiles, 0, 0, 0]),
    flops: spec.flops * p.batch * p.T * p.S * p.d,
  };
}
