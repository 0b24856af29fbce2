// Image features and the KID distance for judging generated images.
//
// Feature space: the 1280-d global-average-pool output (layer `flatten_1`) of the
// MobileNetV2 that ships inside npm `nsfwjs` (weights bundled as base64 in the package, so
// nothing is downloaded), run with TensorFlow.js on its WASM backend. A network nobody on
// this project trained, as the KID/FID family of metrics wants. Images (CHW floats in
// [0, 1], any square size, grey or RGB) are upsampled bilinearly to the network's 224×224
// input, exactly as nsfwjs itself prepares images (pixels in [0, 1], corners aligned).
//
// KID (Bińkowski et al., "Demystifying MMD GANs", 2018): the unbiased estimate of the
// squared MMD between two feature sets under the polynomial kernel
// k(x, y) = (xᵀy / d + 1)³. It is 0 in expectation for two samples of one distribution,
// and (unlike FID) unbiased for small sets, so it can come out slightly negative.
//
// The math here is plain TypeScript and loads no TensorFlow; `loadFeatureExtractor`
// imports tfjs lazily.
import { createRequire } from "node:module";
import { dirname, join, sep } from "node:path";
import type { DecodedImage } from "./io/png.ts";

/** The nsfwjs MobileNetV2 layer whose output is the global average pool. */
export const FEATURE_LAYER = "flatten_1";
export const FEATURE_DIM = 1280;
/** Side of the network's input; images are upsampled to it. */
export const FEATURE_INPUT = 224;

// ------------------------------------------------------------------------- KID

/** The KID kernel: k(x, y) = (xᵀy / d + 1)³ with d the feature dimension. */
export function polyKernel(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length)
    throw new Error(`polyKernel: vectors of ${x.length} and ${y.length} values`);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * y[i];
  const v = s / x.length + 1;
  return v * v * v;
}

function checkSet(name: string, s: readonly ArrayLike<number>[], dim?: number): number {
  if (s.length < 2)
    throw new Error(`kid: the ${name} set needs at least 2 feature vectors, got ${s.length}`);
  const d = dim ?? s[0].length;
  if (d === 0) throw new Error(`kid: empty feature vectors`);
  for (let i = 0; i < s.length; i++) {
    if (s[i].length !== d)
      throw new Error(`kid: ${name} vector ${i} has ${s[i].length} values, expected ${d}`);
  }
  return d;
}

/**
 * Unbiased MMD² between sets X (m vectors) and Y (n vectors) under the polynomial kernel:
 *
 *     1/(m(m−1)) Σ_{i≠j} k(xi, xj) + 1/(n(n−1)) Σ_{i≠j} k(yi, yj) − 2/(mn) Σ_{i,j} k(xi, yj)
 *
 * This is KID for one pair of sets (no subsets).
 */
export function kid(
  real: readonly ArrayLike<number>[],
  fake: readonly ArrayLike<number>[],
): number {
  const d = checkSet("real", real);
  checkSet("fake", fake, d);
  const m = real.length;
  const n = fake.length;
  const within = (s: readonly ArrayLike<number>[]) => {
    let t = 0;
    for (let i = 0; i < s.length; i++)
      for (let j = i + 1; j < s.length; j++) t += polyKernel(s[i], s[j]);
    return (2 * t) / (s.length * (s.length - 1));
  };
  let cross = 0;
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) cross += polyKernel(real[i], fake[j]);
  return within(real) + within(fake) - (2 * cross) / (m * n);
}

export interface KidSubsetOptions {
  /** Number of random subset pairs (default 100, as in the KID paper's code). */
  subsets?: number;
  /** Vectors drawn from each set per subset, without replacement (default min(1000, m, n)). */
  size?: number;
  seed?: number;
}

/**
 * KID as usually reported for large sets: the mean (and standard deviation) of the unbiased
 * MMD² over random subset pairs. Deterministic for a seed.
 */
export function kidSubsets(
  real: readonly ArrayLike<number>[],
  fake: readonly ArrayLike<number>[],
  opts: KidSubsetOptions = {},
): { mean: number; std: number; subsets: number; size: number } {
  const d = checkSet("real", real);
  checkSet("fake", fake, d);
  const subsets = opts.subsets ?? 100;
  const size = Math.min(opts.size ?? 1000, real.length, fake.length);
  if (size < 2) throw new Error(`kidSubsets: subset size must be >= 2, got ${size}`);
  let state = (opts.seed ?? 0) * 2654435761 + 1;
  const rand = () => {
    // mulberry32: small, fast, deterministic
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(s: readonly T[]): T[] => {
    const idx = s.map((_, i) => i);
    for (let i = 0; i < size; i++) {
      const j = i + Math.floor(rand() * (idx.length - i));
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    return idx.slice(0, size).map((i) => s[i]);
  };
  const vals: number[] = [];
  for (let k = 0; k < subsets; k++) vals.push(kid(pick(real), pick(fake)));
  const mean = vals.reduce((a, b) => a + b, 0) / vals.length;
  const std = Math.sqrt(vals.reduce((a, b) => a + (b - mean) ** 2, 0) / vals.length);
  return { mean, std, subsets, size };
}

// ------------------------------------------------------------------------- images

/** Bilinear resize of one CHW image (corners aligned), e.g. a 64×64 sample for a 32×32 judge. */
export function resizeCHW(
  img: Float32Array,
  channels: number,
  from: number,
  to: number,
): Float32Array {
  if (img.length !== channels * from * from)
    throw new Error(`resizeCHW: ${img.length} values are not ${channels}×${from}×${from}`);
  if (from === to) return img.slice();
  const out = new Float32Array(channels * to * to);
  const scale = to > 1 ? (from - 1) / (to - 1) : 0;
  for (let y = 0; y < to; y++) {
    const sy = y * scale;
    const y0 = Math.floor(sy);
    const y1 = Math.min(from - 1, y0 + 1);
    const fy = sy - y0;
    for (let x = 0; x < to; x++) {
      const sx = x * scale;
      const x0 = Math.floor(sx);
      const x1 = Math.min(from - 1, x0 + 1);
      const fx = sx - x0;
      for (let c = 0; c < channels; c++) {
        const p = c * from * from;
        const top = img[p + y0 * from + x0] * (1 - fx) + img[p + y0 * from + x1] * fx;
        const bot = img[p + y1 * from + x0] * (1 - fx) + img[p + y1 * from + x1] * fx;
        out[c * to * to + y * to + x] = top * (1 - fy) + bot * fy;
      }
    }
  }
  return out;
}

/**
 * The images of a grid written by `cldc sample` (runtime/io/png.ts imageGrid: square
 * cells of `size` pixels, `pad` pixels between and around them, row-major), as RGB CHW
 * floats in [0, 1]. Alpha is composited on white. Trailing cells that are pure white
 * (the unused cells of a partly filled grid) are dropped unless `n` says how many to keep.
 */
export function gridImages(
  png: DecodedImage,
  opts: { size: number; pad?: number; n?: number },
): Float32Array[] {
  const { size } = opts;
  const pad = opts.pad ?? 2;
  const { width, height, channels: ch, data } = png;
  const cols = (width - pad) / (size + pad);
  const rows = (height - pad) / (size + pad);
  if (!Number.isInteger(cols) || !Number.isInteger(rows) || cols < 1 || rows < 1)
    throw new Error(
      `a ${width}×${height} image is not a grid of ${size}×${size} cells with ${pad}-pixel padding (pass the sample size and padding)`,
    );
  const out: Float32Array[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const img = new Float32Array(3 * size * size);
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const p = ((pad + r * (size + pad) + y) * width + pad + c * (size + pad) + x) * ch;
          const alpha = ch === 2 || ch === 4 ? data[p + ch - 1] : 1;
          for (let k = 0; k < 3; k++) {
            const v = ch <= 2 ? data[p] : data[p + k];
            img[k * size * size + y * size + x] = v * alpha + (1 - alpha);
          }
        }
      }
      out.push(img);
    }
  }
  if (opts.n !== undefined) {
    if (opts.n > out.length)
      throw new Error(`the grid has ${out.length} cells, fewer than n = ${opts.n}`);
    return out.slice(0, opts.n);
  }
  while (out.length > 0 && out[out.length - 1].every((v) => v === 1)) out.pop();
  return out;
}

// ------------------------------------------------------------------------- features

export interface FeatureExtractor {
  readonly dim: number;
  /** The TensorFlow.js backend in use ("wasm", or "cpu" if WASM is unavailable). */
  readonly backend: string;
  /** Seconds it took to load the network. */
  readonly loadSeconds: number;
  /**
   * Pooled features of square CHW images in [0, 1] (`channels` 1 or 3, `size`×`size`),
   * one 1280-d vector per image.
   */
  features(
    images: readonly Float32Array[],
    channels?: 1 | 3,
    size?: number,
  ): Promise<Float32Array[]>;
  dispose(): void;
}

type Tf = typeof import("@tensorflow/tfjs");

let tfPromise: Promise<{ tf: Tf; backend: string }> | null = null;

async function loadTf(): Promise<{ tf: Tf; backend: string }> {
  tfPromise ??= (async () => {
    const tf = await import("@tensorflow/tfjs");
    // The WASM module (Emscripten) installs process-wide uncaughtException and
    // unhandledRejection handlers that rethrow, so any later error would print the whole
    // minified module; they are removed again once the backend is up.
    const before = {
      uncaughtException: process.listeners("uncaughtException"),
      unhandledRejection: process.listeners("unhandledRejection"),
    };
    let backend = "cpu";
    try {
      await import("@tensorflow/tfjs-backend-wasm");
      if (await tf.setBackend("wasm")) backend = "wasm";
    } catch {
      // fall back to the CPU backend below
    }
    if (backend !== "wasm") await tf.setBackend("cpu");
    await tf.ready();
    for (const l of process.listeners("uncaughtException"))
      if (!before.uncaughtException.includes(l)) process.removeListener("uncaughtException", l);
    for (const l of process.listeners("unhandledRejection"))
      if (!before.unhandledRejection.includes(l)) process.removeListener("unhandledRejection", l);
    return { tf, backend: tf.getBackend() };
  })();
  return tfPromise;
}

interface NsfwModelJson {
  modelTopology: object;
  weightsManifest: { paths: string[]; weights: object[] }[];
}

/**
 * Loads nsfwjs's MobileNetV2 from the package on disk (its `model.min.js` and weight shard
 * are CommonJS bundles exporting the model JSON and a base64 string) and cuts it at the
 * global average pool.
 */
export async function loadFeatureExtractor(
  opts: { batch?: number } = {},
): Promise<FeatureExtractor> {
  const t0 = performance.now();
  const { tf, backend } = await loadTf();
  const require = createRequire(import.meta.url);
  let dir: string;
  try {
    // nsfwjs's main entry is dist/cjs/index.js; the model bundles are in dist/models/.
    dir = join(dirname(require.resolve("nsfwjs")), "..", "models", "mobilenet_v2") + sep;
  } catch {
    throw new Error("npm package nsfwjs is not installed (it ships the MobileNetV2 weights)");
  }
  const json = require(`${dir}model.min.js`) as NsfwModelJson;
  const weights = (json.weightsManifest ?? []).flatMap((g) =>
    g.paths.map((p) => Buffer.from(require(`${dir}${p}.min.js`) as string, "base64")),
  );
  const all = Buffer.concat(weights);
  const net = await tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights) as never,
      weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
    }),
  );
  const layer = net.getLayer(FEATURE_LAYER);
  const trunk = tf.model({ inputs: net.inputs, outputs: layer.output as never });
  const dim = (trunk.outputs[0].shape as number[])[1];
  if (dim !== FEATURE_DIM)
    throw new Error(`MobileNetV2 ${FEATURE_LAYER} has ${dim} features, expected ${FEATURE_DIM}`);
  const chunk = opts.batch ?? 16;
  const loadSeconds = (performance.now() - t0) / 1000;

  return {
    dim,
    backend,
    loadSeconds,
    async features(images, channels = 3, size) {
      const out: Float32Array[] = [];
      if (images.length === 0) return out;
      const s = size ?? Math.round(Math.sqrt(images[0].length / channels));
      const plane = s * s;
      for (let start = 0; start < images.length; start += chunk) {
        const part = images.slice(start, start + chunk);
        const nhwc = new Float32Array(part.length * plane * 3);
        part.forEach((img, i) => {
          if (img.length !== channels * plane)
            throw new Error(
              `features: image ${start + i} has ${img.length} values, expected ${channels}×${s}×${s}`,
            );
          for (let p = 0; p < plane; p++)
            for (let k = 0; k < 3; k++)
              nhwc[(i * plane + p) * 3 + k] = img[(channels === 1 ? 0 : k) * plane + p];
        });
        const y = tf.tidy(() => {
          const x = tf.tensor4d(nhwc, [part.length, s, s, 3]);
          const big =
            s === FEATURE_INPUT
              ? x
              : tf.image.resizeBilinear(x, [FEATURE_INPUT, FEATURE_INPUT], true);
          return trunk.predict(big) as import("@tensorflow/tfjs").Tensor;
        });
        const data = (await y.data()) as Float32Array;
        y.dispose();
        for (let i = 0; i < part.length; i++) out.push(data.slice(i * dim, (i + 1) * dim));
      }
      return out;
    },
    dispose() {
      // The trunk shares its layers with the full network: disposing one frees them.
      net.dispose();
    },
  };
}
