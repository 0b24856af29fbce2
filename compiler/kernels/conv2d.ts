// NCHW conv2d (OIHW weights, stride s, zero padding p) as implicit GEMMs on the shared
// register-blocked skeleton: im2col views are gathered on the fly, never materialised.
//   forward:        Y[n]  (O x HoWo)  = W (O x CKK)         * im2col(X[n]) (CKK x HoWo)
//   backward input: dX[n] (C x HW)    = W^T (C x O*KK)      * gather(dY[n]) (O*KK x HW)
//   backward weight: dW   (O x CKK)   = dY (O x N*HoWo)     * im2col(X)^T (N*HoWo x CKK)
// Shapes, stride and padding live in a uniform; only `stride` may optionally be baked in
// (backward input divides by it per element, which a constant 1 or 2 makes free).
// Stride-1 "same" convolutions with 4-aligned rows have faster direct kernels
// (conv2d-direct.ts), selected with `directKW` or by the `...For(shape, opts)` helpers.
import {
  convDirectOk,
  convDirectWeightOk,
  convOutSize,
  convUniforms,
  FDIV,
  PARAMS,
  type ConvKernel,
  type ConvOptions,
  type ConvShape,
} from "./conv-common.ts";
import { conv2dDirectWgsl, directWeightHooks } from "./conv2d-direct.ts";
import { gemmWgsl, gemmWorkgroups, LAVAPIPE_SCHEDULE, rowGroups } from "./gemm.ts";

export * from "./conv-common.ts";

/** Output is always binding 2, named C (the skeleton stores to C). */
function bindings(x: string, y: string): string {
  return `${PARAMS}
@group(0) @binding(0) var<storage, read> ${x}: array<f32>;
@group(0) @binding(1) var<storage, read> ${y}: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;
${FDIV}`;
}

const C4 = [0, 1, 2, 3];

function finish(
  wgsl: string,
  o: ConvOptions,
  dims: (s: ConvShape) => [number, number, number],
): ConvKernel {
  const schedule = o.schedule ?? LAVAPIPE_SCHEDULE;
  return {
    wgsl,
    bindings: 4 + (o.epilogue?.bindings ?? 0),
    workgroups: (s) => gemmWorkgroups(...dims(s), schedule),
    uniforms: (s) => convUniforms(s, rowGroups(dims(s)[0], schedule)),
  };
}

/** Y = conv(X, W). Bindings: 0 X [N,C,H,W], 1 W [O,C,KH,KW], 2 Y [N,O,Ho,Wo], 3 params. */
export function conv2dForward(o: ConvOptions): ConvKernel {
  const dims = (s: ConvShape): [number, number, number] => [
    s.O,
    convOutSize(s).Ho * convOutSize(s).Wo,
    s.N,
  ];
  if (o.directKW) return finish(conv2dDirectWgsl("forward", o.directKW, o, PARAMS), o, dims);
  const R = (o.schedule ?? LAVAPIPE_SCHEDULE).rows;
  const setup = [
    "let xBase = i32(bz * P.C * P.HW);",
    "let cs = i32(P.stride);",
    "let pd = i32(P.pad);",
  ];
  for (let r = 0; r < R; r++) setup.push(`let ar${r} = min(row0 + ${r}u, M - 1u) * K;`);
  // Per output column: top-left input corner (may be negative: padding).
  for (const j of C4) {
    setup.push(
      `let q${j} = min(col0 + ${j}u, N - 1u);`,
      `let oy${j} = q${j} / P.Wo;`,
      `let iy${j} = i32(oy${j}) * cs - pd;`,
      `let ix${j} = i32(q${j} - oy${j} * P.Wo) * cs - pd;`,
      `let xb${j} = xBase + iy${j} * i32(P.W) + ix${j};`,
    );
  }
  const wgsl = gemmWgsl(
    {
      decls: bindings("X", "Wt"),
      M: "P.O",
      N: "P.HoWo",
      K: "P.CKK",
      setup: setup.join("\n"),
      aLoad: (r, j) => `Wt[ar${r} + ka + ${j}u]`,
      // k = (c, ky, kx) walked with counters: koff = c*HW + ky*W + kx.
      bInit: "var ky = 0; var kx = 0; var koff = 0;",
      bLoad: (j) =>
        `select(0.0, X[u32(xb${j} + koff)], u32(iy${j} + ky) < P.H && u32(ix${j} + kx) < P.W)`,
      bAdvance: `kx += 1; koff += 1;
if (kx == i32(P.KW)) { kx = 0; ky += 1; koff += i32(P.W) - i32(P.KW); }
if (ky == i32(P.KH)) { ky = 0; koff += i32(P.HW) - i32(P.KH * P.W); }`,
      cIndex: "(bz * P.O + row) * P.HoWo + col",
    },
    { subgroups: o.subgroups, schedule: o.schedule, epilogue: o.epilogue, epilogueBinding: 4 },
  );
  return finish(wgsl, o, dims);
}

/** The fastest valid forward kernel for `s` (direct when `convDirectOk`). */
export function conv2dForwardFor(s: ConvShape, o: ConvOptions): ConvKernel {
  return conv2dForward({ ...o, directKW: convDirectOk(s) ? s.KW : undefined });
}

/** The fastest valid backward-input kernel for `s`. */
export function conv2dBackwardInputFor(s: ConvShape, o: ConvOptions): ConvKernel {
  return conv2dBackwardInput({
    ...o,
    stride: s.stride,
    directKW: convDirectOk(s) ? s.KW : undefined,
  });
}

/**
 * dX = conv2d backward w.r.t. input. Bindings: 0 dY [N,O,Ho,Wo], 1 W [O,C,KH,KW],
 * 2 dX [N,C,H,W], 3 params. `stride` bakes the stride in as a constant (else uniform).
 */
export function conv2dBackwardInput(o: ConvOptions & { stride?: number }): ConvKernel {
  const dims = (s: ConvShape): [number, number, number] => [s.C, s.H * s.W, s.N];
  if (o.directKW) return finish(conv2dDirectWgsl("backwardInput", o.directKW, o, PARAMS), o, dims);
  const R = (o.schedule ?? LAVAPIPE_SCHEDULE).rows;
  const setup = ["let yBase = bz * P.O * P.HoWo;", "let pd = i32(P.pad);"];
  for (let r = 0; r < R; r++) setup.push(`let cr${r} = min(row0 + ${r}u, M - 1u) * P.KK;`);
  for (const j of C4) {
    setup.push(
      `let q${j} = min(col0 + ${j}u, N - 1u);`,
      `let iy${j} = q${j} / P.W;`,
      `let ty${j} = i32(iy${j}) + pd;`,
      `let tx${j} = i32(q${j} - iy${j} * P.W) + pd;`,
    );
  }
  // dY[oy, ox] with oy = (iy + p - ky) / s when exact and in range, else 0.
  const S = o.stride === undefined ? "i32(P.stride)" : `${o.stride}`;
  const invS = o.stride === undefined ? "P.invS" : `${1 / o.stride}`;
  const dyAt =
    o.stride === 1
      ? `fn dyAt(base: u32, ty: i32, tx: i32) -> f32 {
  let ok = u32(ty) < P.Ho && u32(tx) < P.Wo;
  return select(0.0, G[base + u32(ty) * P.Wo + u32(tx)], ok);
}`
      : `fn dyAt(base: u32, ty: i32, tx: i32) -> f32 {
  let qy = i32(round(f32(ty) * ${invS}));
  let qx = i32(round(f32(tx) * ${invS}));
  let ok = qy * ${S} == ty && qx * ${S} == tx && u32(qy) < P.Ho && u32(qx) < P.Wo;
  return select(0.0, G[base + u32(qy) * P.Wo + u32(qx)], ok);
}`;
  const aPrep: string[] = [];
  for (const j of C4) {
    aPrep.push(
      `let ko${j} = fdiv(ka + ${j}u, P.KK, P.invKK);`,
      `let ao${j} = ko${j} * P.CKK + (ka + ${j}u - ko${j} * P.KK);`,
    );
  }
  const wgsl = gemmWgsl(
    {
      decls: bindings("G", "Wt") + "\n" + dyAt,
      M: "P.C",
      N: "P.HW",
      K: "P.O * P.KK",
      setup: setup.join("\n"),
      aPrep: aPrep.join("\n"),
      aLoad: (r, j) => `Wt[ao${j} + cr${r}]`,
      // k = (o, ky, kx): counters plus the dY channel offset.
      bInit: "var ky = 0; var kx = 0; var yo = yBase;",
      bLoad: (j) => `dyAt(yo, ty${j} - ky, tx${j} - kx)`,
      bAdvance: `kx += 1;
if (kx == i32(P.KW)) { kx = 0; ky += 1; }
if (ky == i32(P.KH)) { ky = 0; yo += P.HoWo; }`,
      cIndex: "(bz * P.C + row) * P.HW + col",
    },
    { subgroups: o.subgroups, schedule: o.schedule, epilogue: o.epilogue, epilogueBinding: 4 },
  );
  return finish(wgsl, o, dims);
}

/**
 * dW = conv2d backward w.r.t. weights (summed over the batch). Bindings: 0 X [N,C,H,W],
 * 1 dY [N,O,Ho,Wo], 2 dW [O,C,KH,KW], 3 params.
 */
export function conv2dBackwardWeight(o: ConvOptions): ConvKernel {
  if (o.directKW !== undefined && o.directKW !== 3) throw new Error("direct dW needs KW = 3");
  if (o.directKW) {
    const schedule = o.schedule ?? LAVAPIPE_SCHEDULE;
    const hooks = directWeightHooks(PARAMS, FDIV, schedule.rows);
    const wgsl = gemmWgsl(hooks, { ...o, schedule, epilogueBinding: 4 });
    return finish(wgsl, o, (s) => [s.O, s.C * s.KH * 4, 1]);
  }
  const R = (o.schedule ?? LAVAPIPE_SCHEDULE).rows;
  const setup = ["let cs = i32(P.stride);", "let pd = i32(P.pad);", "let CHW = i32(P.C * P.HW);"];
  for (let r = 0; r < R; r++) setup.push(`let or${r} = min(row0 + ${r}u, M - 1u) * P.HoWo;`);
  // Per column (c, ky, kx): offset of the tap relative to the output position's corner.
  for (const j of C4) {
    setup.push(
      `let q${j} = min(col0 + ${j}u, N - 1u);`,
      `let c${j} = q${j} / P.KK;`,
      `let kk${j} = q${j} - c${j} * P.KK;`,
      `let kyq${j} = kk${j} / P.KW;`,
      `let kyp${j} = i32(kyq${j}) - pd;`,
      `let kxp${j} = i32(kk${j} - kyq${j} * P.KW) - pd;`,
      `let co${j} = i32(c${j} * P.HW) + kyp${j} * i32(P.W) + kxp${j};`,
    );
  }
  const aPrep: string[] = [];
  for (const j of C4) {
    aPrep.push(
      `let kn${j} = fdiv(ka + ${j}u, P.HoWo, P.invHoWo);`,
      `let ao${j} = kn${j} * P.O * P.HoWo + (ka + ${j}u - kn${j} * P.HoWo);`,
    );
  }
  const wgsl = gemmWgsl(
    {
      decls: bindings("X", "G"),
      M: "P.O",
      N: "P.CKK",
      K: "P.N * P.HoWo",
      setup: setup.join("\n"),
      aPrep: aPrep.join("\n"),
      aLoad: (r, j) => `G[ao${j} + or${r}]`,
      // k = (n, oy, ox): scaled output position (iys, ixs) and image offset.
      bInit: "var ox = 0u; var oy = 0u; var iys = 0; var ixs = 0; var nOff = 0; var xo = 0;",
      bLoad: (j) =>
        `select(0.0, X[u32(xo + co${j})], u32(iys + kyp${j}) < P.H && u32(ixs + kxp${j}) < P.W)`,
      bAdvance: `ox += 1u; ixs += cs;
if (ox == P.Wo) { ox = 0u; ixs = 0; oy += 1u; iys += cs; }
if (oy == P.Ho) { oy = 0u; iys = 0; nOff += CHW; }
xo = nOff + iys * i32(P.W) + ixs;`,
      cIndex: "row * P.CKK + col",
    },
    { subgroups: o.subgroups, schedule: o.schedule, epilogue: o.epilogue, epilogueBinding: 4 },
  );
  return finish(wgsl, o, (s) => [s.O, s.C * s.KH * s.KW, 1]);
}

/** The fastest valid weight-gradient kernel for `s`. */
export function conv2dBackwardWeightFor(s: ConvShape, o: ConvOptions): ConvKernel {
  return conv2dBackwardWeight({ ...o, directKW: convDirectWeightOk(s) ? 3 : undefined });
}
