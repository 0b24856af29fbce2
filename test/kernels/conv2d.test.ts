import { describe, expect, it } from "vitest";
import { useGpu } from "../gpu-fixture.ts";
import {
  conv2dBackwardInput,
  conv2dBackwardWeight,
  conv2dForward,
  convDirectOk,
  convDirectWeightOk,
  convOutSize,
  type ConvKernel,
  type ConvShape,
} from "../../compiler/kernels/conv2d.ts";
import { biasEpilogue, biasEpilogueUniforms } from "../../compiler/kernels/epilogue.ts";
import { expectClose, randomArray, runKernel } from "./harness.ts";

const gpu = useGpu();

/** Calls f(n, o, c, oy, ox, iy, ix, ky, kx) for every valid tap (float64 references). */
function forEachTap(
  s: ConvShape,
  f: (
    n: number,
    o: number,
    c: number,
    oy: number,
    ox: number,
    iy: number,
    ix: number,
    ky: number,
    kx: number,
  ) => void,
): void {
  const { Ho, Wo } = convOutSize(s);
  for (let n = 0; n < s.N; n++)
    for (let o = 0; o < s.O; o++)
      for (let c = 0; c < s.C; c++)
        for (let oy = 0; oy < Ho; oy++)
          for (let ox = 0; ox < Wo; ox++)
            for (let ky = 0; ky < s.KH; ky++) {
              const iy = oy * s.stride - s.pad + ky;
              if (iy < 0 || iy >= s.H) continue;
              for (let kx = 0; kx < s.KW; kx++) {
                const ix = ox * s.stride - s.pad + kx;
                if (ix < 0 || ix >= s.W) continue;
                f(n, o, c, oy, ox, iy, ix, ky, kx);
              }
            }
}

const xIdx = (s: ConvShape, n: number, c: number, iy: number, ix: number) =>
  ((n * s.C + c) * s.H + iy) * s.W + ix;
const wIdx = (s: ConvShape, o: number, c: number, ky: number, kx: number) =>
  ((o * s.C + c) * s.KH + ky) * s.KW + kx;
const yIdx = (s: ConvShape, n: number, o: number, oy: number, ox: number) => {
  const { Ho, Wo } = convOutSize(s);
  return ((n * s.O + o) * Ho + oy) * Wo + ox;
};

async function checkShape(
  s: ConvShape,
  seed: number,
  withBias: boolean,
  sub = gpu().hasSubgroups,
): Promise<void> {
  const { Ho, Wo } = convOutSize(s);
  const direct = convDirectOk(s) ? s.KW : undefined;
  const X = randomArray(s.N * s.C * s.H * s.W, seed);
  const Wt = randomArray(s.O * s.C * s.KH * s.KW, seed + 1);
  const dY = randomArray(s.N * s.O * Ho * Wo, seed + 2);
  const bias = randomArray(s.O, seed + 3);
  const what = JSON.stringify(s);

  // Forward (optionally with a fused per-channel bias + relu).
  const Y = new Float64Array(s.N * s.O * Ho * Wo);
  forEachTap(s, (n, o, c, oy, ox, iy, ix, ky, kx) => {
    Y[yIdx(s, n, o, oy, ox)] += X[xIdx(s, n, c, iy, ix)] * Wt[wIdx(s, o, c, ky, kx)];
  });
  if (withBias) {
    for (let i = 0; i < Y.length; i++)
      Y[i] = Math.max(0, Y[i] + bias[Math.floor(i / (Ho * Wo)) % s.O]);
  }
  const epilogue = withBias ? biasEpilogue({ activation: "relu" }) : undefined;
  const extra = withBias ? [bias, { uniform: biasEpilogueUniforms(Ho * Wo, s.O) }] : [];
  for (const directKW of direct ? [undefined, direct] : [undefined]) {
    const fk = conv2dForward({ subgroups: sub, epilogue, directKW });
    const y = await runKernel(
      gpu(),
      fk,
      "conv2d",
      [X, Wt],
      Y.length,
      fk.uniforms(s),
      fk.workgroups(s),
      extra,
    );
    expectClose(y, Y, 1e-4, `forward (direct ${directKW}) ${what}`);
  }

  // Backward input, with the stride from the uniform and baked in.
  const dX = new Float64Array(X.length);
  forEachTap(s, (n, o, c, oy, ox, iy, ix, ky, kx) => {
    dX[xIdx(s, n, c, iy, ix)] += dY[yIdx(s, n, o, oy, ox)] * Wt[wIdx(s, o, c, ky, kx)];
  });
  const variants: [string, ConvKernel][] = [
    ["uniform stride", conv2dBackwardInput({ subgroups: sub })],
    ["baked stride", conv2dBackwardInput({ subgroups: sub, stride: s.stride })],
  ];
  if (direct) variants.push(["direct", conv2dBackwardInput({ subgroups: sub, directKW: direct })]);
  for (const [name, bk] of variants) {
    const dx = await runKernel(
      gpu(),
      bk,
      "conv2d-dx",
      [dY, Wt],
      dX.length,
      bk.uniforms(s),
      bk.workgroups(s),
    );
    expectClose(dx, dX, 1e-4, `backward input (${name}) ${what}`);
  }

  // Backward weight.
  const dW = new Float64Array(Wt.length);
  forEachTap(s, (n, o, c, oy, ox, iy, ix, ky, kx) => {
    dW[wIdx(s, o, c, ky, kx)] += dY[yIdx(s, n, o, oy, ox)] * X[xIdx(s, n, c, iy, ix)];
  });
  for (const directKW of convDirectWeightOk(s) ? [undefined, 3] : [undefined]) {
    const wk = conv2dBackwardWeight({ subgroups: sub, directKW });
    const dw = await runKernel(
      gpu(),
      wk,
      "conv2d-dw",
      [X, dY],
      dW.length,
      wk.uniforms(s),
      wk.workgroups(s),
    );
    expectClose(dw, dW, 1e-4, `backward weight (direct ${directKW}) ${what}`);
  }
}

describe("conv2d", () => {
  it("forward / backward input / backward weight over channels, stride, pad, size, kernel", async () => {
    let seed = 1;
    for (const C of [1, 3, 16])
      for (const stride of [1, 2])
        for (const pad of [0, 1])
          for (const HW of [7, 13])
            for (const K of [1, 3]) {
              const O = C === 3 ? 5 : C;
              await checkShape(
                { N: 2, C, H: HW, W: HW, O, KH: K, KW: K, stride, pad },
                seed,
                seed % 3 === 0,
              );
              seed += 4;
            }
  });

  it("non-square images and kernels, wide outputs, many channels", async () => {
    await checkShape(
      { N: 1, C: 3, H: 7, W: 13, O: 70, KH: 3, KW: 1, stride: 1, pad: 1 },
      900,
      true,
    );
    await checkShape(
      { N: 3, C: 16, H: 13, W: 7, O: 9, KH: 1, KW: 3, stride: 2, pad: 1 },
      904,
      false,
    );
    await checkShape(
      { N: 2, C: 8, H: 16, W: 16, O: 16, KH: 3, KW: 3, stride: 1, pad: 1 },
      908,
      true,
    );
    await checkShape({ N: 1, C: 2, H: 9, W: 9, O: 3, KH: 5, KW: 5, stride: 3, pad: 2 }, 912, false);
  });

  it("direct stride-1 kernels (4-aligned rows, 'same' padding)", async () => {
    const shapes: ConvShape[] = [
      { N: 2, C: 3, H: 7, W: 8, O: 5, KH: 3, KW: 3, stride: 1, pad: 1 },
      { N: 1, C: 16, H: 13, W: 12, O: 16, KH: 3, KW: 3, stride: 1, pad: 1 },
      { N: 2, C: 1, H: 4, W: 4, O: 1, KH: 1, KW: 1, stride: 1, pad: 0 },
      { N: 1, C: 2, H: 5, W: 16, O: 70, KH: 5, KW: 5, stride: 1, pad: 2 },
      { N: 2, C: 4, H: 8, W: 36, O: 9, KH: 3, KW: 3, stride: 1, pad: 1 },
      { N: 1, C: 5, H: 6, W: 8, O: 3, KH: 1, KW: 3, stride: 1, pad: 1 },
      { N: 1, C: 9, H: 3, W: 4, O: 2, KH: 3, KW: 3, stride: 1, pad: 1 },
      // Rows wider than an 8-lane group's 32 pixels: the group's end lanes load the edge
      // pixels that other lanes take from their neighbours by shuffle.
      { N: 2, C: 3, H: 3, W: 64, O: 8, KH: 3, KW: 3, stride: 1, pad: 1 },
      { N: 1, C: 2, H: 4, W: 40, O: 3, KH: 5, KW: 5, stride: 1, pad: 2 },
    ];
    let seed = 2000;
    for (const s of shapes) {
      expect(convDirectOk(s)).toBe(true);
      await checkShape(s, seed, seed % 8 === 0);
      seed += 4;
    }
  });

  it("fallback without subgroups", async () => {
    await checkShape(
      { N: 2, C: 3, H: 7, W: 7, O: 4, KH: 3, KW: 3, stride: 2, pad: 1 },
      3000,
      true,
      false,
    );
    await checkShape(
      { N: 1, C: 3, H: 5, W: 8, O: 4, KH: 3, KW: 3, stride: 1, pad: 1 },
      3004,
      false,
      false,
    );
  });
});
